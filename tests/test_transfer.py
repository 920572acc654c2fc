"""The local transfer: read in place through a read-only attach, or copy into the warehouse."""

from __future__ import annotations

import pytest
from conftest import duckdb_held_by_another_process, query

from pipelines.errors import PipelineFailed
from pipelines.loading import load
from pipelines.shop_sheets.pipeline import ShopSheets
from pipelines.transfer import transfer


def test_read_in_place_counts_what_the_warehouse_sees(local_env):
    load(ShopSheets, local_env)
    (result,) = transfer(local_env, [ShopSheets])
    assert (result.dataset, result.mode, result.tables, result.rows) == ("raw_shop_sheets", "read", 1, 36)
    schemas = query(local_env.warehouse.path, "select schema_name from information_schema.schemata where catalog_name = 'warehouse'")
    assert ("raw_shop_sheets",) not in schemas


def test_copy_lands_the_dataset_and_its_load_ledger_in_the_warehouse(local_env, monkeypatch):
    monkeypatch.setattr(ShopSheets, "transfer", "copy")
    load(ShopSheets, local_env)
    (result,) = transfer(local_env, [ShopSheets])
    assert (result.mode, result.rows) == ("copy", 36)
    wh = local_env.warehouse.path
    assert query(wh, "select count(*) from raw_shop_sheets.sales_targets") == [(36,)]
    assert query(wh, "select count(*) from raw_shop_sheets._dlt_loads where status = 0") == [(1,)]
    load(ShopSheets, local_env)
    transfer(local_env, [ShopSheets])
    assert query(wh, "select count(*) from raw_shop_sheets.sales_targets") == [(36,)]


def test_a_raw_dataset_never_loaded_is_reported_not_raised(local_env):
    load(ShopSheets, local_env)
    from pipelines.shop_api.pipeline import ShopApi

    sheets, api = transfer(local_env, [ShopSheets, ShopApi])
    assert (sheets.loaded, sheets.rows) == (True, 36)
    assert (api.dataset, api.loaded, api.tables, api.rows) == ("raw_shop_api", False, 0, 0)


def test_a_warehouse_held_by_another_process_is_a_one_line_failure(local_env):
    load(ShopSheets, local_env)
    with duckdb_held_by_another_process(local_env.warehouse.path):
        with pytest.raises(PipelineFailed) as caught:
            transfer(local_env, [ShopSheets])
    message = str(caught.value)
    assert message.startswith(f"transfer: cannot open the warehouse {local_env.warehouse.path}: IO Error: Could not set lock")
    assert "\n" not in message
    (result,) = transfer(local_env, [ShopSheets])  # released: the next run goes through
    assert result.rows == 36

