from __future__ import annotations

from dlt.sources import DltSource

from pipelines.base import Pipeline
from pipelines.declarations import Resources, Schedule
from pipelines.environments import Environment
from pipelines.shop_files import shop_files
from pipelines.shop_files.settings import LANDING_PREFIX


class ShopFiles(Pipeline):
    """Shipments the warehouse partner drops as CSV and Parquet files in Cloud Storage."""

    name = "shop_files"
    schedule = Schedule("30 */4 * * *", "Europe/Amsterdam")
    dataset = "raw_shop_files"
    landing_prefix = LANDING_PREFIX
    resources = Resources(cpu="2", memory="2Gi", timeout_seconds=3000, max_retries=2)

    def source(self, env: Environment) -> DltSource:
        return shop_files(bucket_url=env.landing_url(self.landing_prefix))
