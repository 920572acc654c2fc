from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.base import Pipeline
from pipelines.declarations import Resources, Schedule
from pipelines.samples import SAMPLE_GOOGLE_TOKEN, SAMPLE_SPREADSHEET_ID
from pipelines.shop_sheets.settings import PRODUCTION_SPREADSHEET_ID, RANGES

if TYPE_CHECKING:
    from dlt.sources import DltSource

    from pipelines.environments import Environment


class ShopSheets(Pipeline):
    """Monthly revenue targets per sales channel, kept by the commercial team in a Google Sheet."""

    name = "shop_sheets"
    schedule = Schedule("0 6 * * *", "Europe/Amsterdam")
    dataset = "raw_shop_sheets"
    resources = Resources(cpu="1", memory="512Mi", timeout_seconds=600, max_retries=2)
    google_sheets = (PRODUCTION_SPREADSHEET_ID,)

    def source(self, env: Environment) -> DltSource:
        from pipelines.shop_sheets.source import google_sheets

        if env.is_local:
            return google_sheets(
                spreadsheet_id=SAMPLE_SPREADSHEET_ID,
                ranges=RANGES,
                api_url=f"{env.require_sample_url()}/sheets/v4/",
                access_token=SAMPLE_GOOGLE_TOKEN,
            )
        return google_sheets(spreadsheet_id=PRODUCTION_SPREADSHEET_ID, ranges=RANGES)
