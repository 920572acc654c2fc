"""The Google Sheets source: header row to columns, over real loopback HTTP."""

from __future__ import annotations

from conftest import query

from pipelines.loading import load
from pipelines.samples import SAMPLE_SPREADSHEET_ID
from pipelines.shop_sheets import rows_to_records
from pipelines.shop_sheets.pipeline import ShopSheets


def test_header_row_becomes_columns_and_short_rows_are_padded():
    values = [
        ["Month", "Channel", "Target revenue", ""],
        ["2025-01", "web", 1200, "ignored: no header"],
        ["2025-02", "mobile"],
        [],
        ["", ""],
        ["2025-03", "web", ""],
    ]
    assert list(rows_to_records(values)) == [
        {"Month": "2025-01", "Channel": "web", "Target revenue": 1200},
        {"Month": "2025-02", "Channel": "mobile", "Target revenue": None},
        {"Month": "2025-03", "Channel": "web", "Target revenue": None},
    ]
    assert list(rows_to_records([])) == []
    assert list(rows_to_records([["Month", "Channel"]])) == []


def test_sheet_loads_with_normalized_columns_and_replaces_on_rerun(local_env, server):
    result = load(ShopSheets, local_env)
    assert result.rows == {"sales_targets": 36}
    assert server.requests == [f"/sheets/v4/spreadsheets/{SAMPLE_SPREADSHEET_ID}/values/sales_targets"]
    db = local_env.datalake.path
    columns = query(
        db,
        "select column_name from information_schema.columns where table_schema = 'raw_shop_sheets' "
        "and table_name = 'sales_targets' and column_name not like '\\_dlt%' escape '\\' order by ordinal_position",
    )
    assert [c for (c,) in columns] == ["month", "channel", "target_revenue", "owner"]

    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]["sales_targets"]
    sheet[1] = [sheet[1][0], sheet[1][1], 12345, sheet[1][3]]
    load(ShopSheets, local_env)

    assert query(db, "select count(*), count(distinct (month, channel)) from raw_shop_sheets.sales_targets") == [(36, 36)]
    assert query(
        db, f"select target_revenue from raw_shop_sheets.sales_targets where month = '{sheet[1][0]}' and channel = '{sheet[1][1]}'"
    ) == [(12345.0,)]
