from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.base import Pipeline
from pipelines.declarations import Resources, Schedule

if TYPE_CHECKING:
    from dlt.sources import DltSource

    from pipelines.environments import Environment


class ShopFiles(Pipeline):
    """Shipments the warehouse partner drops as CSV and Parquet files in Cloud Storage."""

    name = "shop_files"
    schedule = Schedule("30 */4 * * *", "Europe/Amsterdam")
    dataset = "raw_shop_files"
    landing_prefix = "shipments"  # the folder of the landing bucket the partner drops into
    resources = Resources(cpu="2", memory="2Gi", timeout_seconds=3000, max_retries=2)

    def source(self, env: Environment) -> DltSource:
        from pipelines.shop_files.source import shop_files

        return shop_files(bucket_url=env.landing_url(self.landing_prefix))
