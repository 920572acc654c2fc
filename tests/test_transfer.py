"""The local transfer: read in place through a read-only attach, or copy into the warehouse."""

from __future__ import annotations

import pytest
from conftest import query

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


def test_a_missing_raw_dataset_is_a_clear_failure(local_env):
    load(ShopSheets, local_env)
    from pipelines.shop_api.pipeline import ShopApi

    with pytest.raises(PipelineFailed, match="raw dataset 'raw_shop_api' of pipeline 'shop_api' is missing from the datalake"):
        transfer(local_env, [ShopSheets, ShopApi])
