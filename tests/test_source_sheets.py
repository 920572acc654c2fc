"""Google Sheets behaving like sheets people edit: cleared, shrunk, odd headers, renamed tabs.

Each case asserts the exact contents after the runs, so a behaviour that loses or overwrites data
with exit 0 fails here.
"""

from __future__ import annotations

import pytest
from conftest import query

from pipelines.errors import PipelineFailed
from pipelines.loading import load
from pipelines.samples import SAMPLE_SPREADSHEET_ID
from pipelines.shop_sheets.pipeline import ShopSheets


def targets(env) -> list[tuple]:
    return query(env.datalake.path, "select * exclude (_dlt_load_id, _dlt_id) from raw_shop_sheets.sales_targets order by all")


def test_a_sheet_cleared_down_to_its_header_is_refused_and_the_table_kept(local_env, server):
    load(ShopSheets, local_env)
    before = targets(local_env)
    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]
    sheet["sales_targets"] = sheet["sales_targets"][:1]
    with pytest.raises(PipelineFailed) as caught:
        load(ShopSheets, local_env)
    failed = local_env.work_dir.parent / "failed" / "shop_sheets"
    assert str(caught.value) == (
        "pipeline 'shop_sheets' failed in normalize: table raw_shop_sheets.sales_targets would be emptied "
        "(it has 36 rows, this load none; declare allow_empty_replace = True if that is real); "
        f"its data is kept in {failed} and the pipeline's state rolled back: fix the source and run again"
    )
    [kept] = failed.iterdir()
    assert "would be emptied" in (kept / "reason.txt").read_text()
    assert len(before) == 36 and targets(local_env) == before
    # Refused again while it stays cleared (the refused sheet's digest was rolled back with the state).
    with pytest.raises(PipelineFailed, match="would be emptied"):
        load(ShopSheets, local_env)


def test_an_unchanged_sheet_loads_nothing_and_a_restored_one_too(local_env, server):
    load(ShopSheets, local_env)
    before = targets(local_env)
    loads = "select count(*) from raw_shop_sheets._dlt_loads"
    count = query(local_env.datalake.path, loads)
    server.requests.clear()

    assert load(ShopSheets, local_env).rows == {}
    assert len(server.requests) == 1, "the sheet is read, to compare"
    assert query(local_env.datalake.path, loads) == count, "no load at all"

    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]
    original = [list(row) for row in sheet["sales_targets"]]
    sheet["sales_targets"] = original[:1]
    with pytest.raises(PipelineFailed, match="would be emptied"):
        load(ShopSheets, local_env)
    sheet["sales_targets"] = original  # as it was when last loaded
    assert load(ShopSheets, local_env).rows == {}
    assert targets(local_env) == before


def test_a_pipeline_that_declares_empty_as_real_may_empty_its_table(local_env, server, registry):
    class EmptyIsReal(ShopSheets):
        """Targets, where an empty sheet means no targets."""

        name = "sheets_empty_ok"
        dataset = "raw_sheets_empty_ok"
        google_sheets = ()
        allow_empty_replace = True

    load(EmptyIsReal, local_env)
    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]
    sheet["sales_targets"] = sheet["sales_targets"][:1]
    assert load(EmptyIsReal, local_env).rows == {"sales_targets": 0}
    assert query(local_env.datalake.path, "select count(*) from raw_sheets_empty_ok.sales_targets") == [(0,)]


def test_a_replace_losing_more_than_the_declared_fraction_is_refused(local_env, server, registry):
    class Guarded(ShopSheets):
        """Targets that may shrink by at most half."""

        name = "sheets_guarded"
        dataset = "raw_sheets_guarded"
        google_sheets = ()
        max_replace_loss = 0.5

    load(Guarded, local_env)
    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]
    sheet["sales_targets"] = sheet["sales_targets"][:11]  # 36 -> 10 rows
    with pytest.raises(PipelineFailed, match=r"would shrink from 36 to 10 rows, more than max_replace_loss = 0.5; its data is kept in "):
        load(Guarded, local_env)
    assert query(local_env.datalake.path, "select count(*) from raw_sheets_guarded.sales_targets") == [(36,)]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (["month", "channel", "channel", "target_revenue"], "sheet 'sales_targets' has header 'channel' twice (columns B and C)"),
        (["month", "", "target_revenue", "currency"], "sheet 'sales_targets' has values under a blank header in column B"),
        # Different text, one column name: dlt's naming makes both `target_revenue`, and the second
        # column's values would overwrite the first's.
        (
            ["month", "channel", "Target revenue", "Target-Revenue"],
            "sheet 'sales_targets' has headers 'Target revenue' (column C) and 'Target-Revenue' (column D) that both become column 'target_revenue'",
        ),
        (["Month", "month", "target_revenue", "owner"], "sheet 'sales_targets' has headers 'Month' (column A) and 'month' (column B) that both become column 'month'"),
        # The API leaves out trailing empty cells: a header row ending in blanks comes back short,
        # and values typed right of it would be cut off every row.
        (["month", "channel", "target_revenue"], "sheet 'sales_targets' has values in column D, right of its header (give the column a header)"),
    ],
    ids=["duplicate", "blank", "same-column", "same-column-case", "right-of-header"],
)
def test_a_duplicate_or_blank_header_is_named(local_env, server, header, message):
    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]
    sheet["sales_targets"] = [header, *sheet["sales_targets"][1:]]
    with pytest.raises(PipelineFailed) as caught:
        load(ShopSheets, local_env)
    assert str(caught.value) == f"pipeline 'shop_sheets' failed in extract: {message}"


def test_a_renamed_sheet_tab_fails_naming_the_range(local_env, server):
    sheets = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]
    sheets["targets 2026"] = sheets.pop("sales_targets")
    with pytest.raises(PipelineFailed) as caught:
        load(ShopSheets, local_env)
    assert str(caught.value) == (
        f"pipeline 'shop_sheets' failed in extract: sheet 'sales_targets' is not in spreadsheet {SAMPLE_SPREADSHEET_ID} "
        "(a renamed or deleted tab?)"
    )


def test_a_date_cell_loads_as_the_text_the_sheet_shows_not_a_serial_number(local_env, server):
    """The Sheets API sends a date-formatted cell as a serial number (days since 1899-12-30) unless
    asked for its text; 45672 in raw would be a number nobody can tell from a revenue target."""
    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]
    sheet["sales_targets"] = [[*sheet["sales_targets"][0], "Agreed on"]] + [
        [*row, {"date": "2025-01-15"}] for row in sheet["sales_targets"][1:]
    ]
    load(ShopSheets, local_env)
    agreed = query(local_env.datalake.path, "select distinct agreed_on, typeof(agreed_on) from raw_shop_sheets.sales_targets")
    assert agreed == [("2025-01-15", "VARCHAR")]


def test_a_column_whose_type_changed_is_refused_and_reloads_whole_with_refresh(local_env, server):
    """A column loaded as numbers that the sheet now shows as text (date cells loaded before they
    came as the text the sheet shows, or a revenue column reformatted as text): the frozen type
    refuses the load and keeps the table; `--refresh` drops the table with its schema and loads the
    sheet as it is now."""
    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]
    original = [list(row) for row in sheet["sales_targets"]]
    sheet["sales_targets"] = [original[0], *([45658.0 + i, *row[1:]] for i, row in enumerate(original[1:]))]
    load(ShopSheets, local_env)
    before = targets(local_env)
    assert before[0][0] == 45658.0
    sheet["sales_targets"] = original
    with pytest.raises(PipelineFailed, match=r"sales_targets\.month received a text value; its data type is frozen"):
        load(ShopSheets, local_env)
    assert targets(local_env) == before

    loaded = load(ShopSheets, local_env, refresh=True)
    assert loaded.rows == {"sales_targets": 36}
    now = targets(local_env)
    assert [r[0] for r in now][:3] == ["2025-01", "2025-01", "2025-01"] and len(now) == 36
    types = query(local_env.datalake.path, "select data_type from information_schema.columns where table_schema = 'raw_shop_sheets' and table_name = 'sales_targets' and column_name = 'month'")
    assert types == [("VARCHAR",)]
    # The reload is the new normal: the next run finds the sheet unchanged and loads nothing.
    assert load(ShopSheets, local_env).rows == {}
    assert targets(local_env) == now

