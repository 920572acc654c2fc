"""The commercial team's Google Sheet of monthly revenue targets, through the Sheets API v4
`values` endpoint (`pipelines/sources/sheets.py`: header row -> columns, one `replace` table per
sheet, an unchanged sheet not extracted). In the cloud the bearer token comes from the job's
service account; locally a sample token is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dlt
from dlt.sources import DltResource

from pipelines.sources.sheets import SHEETS_API_URL, check_header, rows_to_records, sheet_resources

__all__ = ["check_header", "google_sheets", "rows_to_records"]


@dlt.source(name="shop_sheets", section="shop_sheets")
def google_sheets(
    spreadsheet_id: str = dlt.config.value,
    ranges: Sequence[str] = dlt.config.value,
    api_url: str = SHEETS_API_URL,
    access_token: str | None = None,
) -> Iterable[DltResource]:
    yield from sheet_resources(spreadsheet_id, ranges, api_url=api_url, access_token=access_token)
