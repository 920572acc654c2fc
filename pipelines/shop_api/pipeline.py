from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.base import Pipeline
from pipelines.declarations import Resources, Schedule
from pipelines.shop_api.settings import PRODUCTION_BASE_URL

if TYPE_CHECKING:
    from dlt.sources import DltSource

    from pipelines.environments import Environment


class ShopApi(Pipeline):
    """Customers, orders and products from the shop's REST API, incrementally by `updated_at`."""

    name = "shop_api"
    schedule = Schedule("15 * * * *", "Europe/Amsterdam")
    dataset = "raw_shop_api"
    secrets = {"shop-api-token": "sources.shop_api.access_token"}
    resources = Resources(cpu="1", memory="1Gi", timeout_seconds=900, max_retries=2)

    def source(self, env: Environment) -> DltSource:
        from pipelines.shop_api.source import shop_api

        base_url = f"{env.require_sample_url()}/shop/v1/" if env.is_local else PRODUCTION_BASE_URL
        # Look back one schedule interval for records committed late with an earlier updated_at.
        return shop_api(base_url=base_url, lag_seconds=self.schedule.shortest_gap_seconds())
