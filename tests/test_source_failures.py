"""Failures of the data and of the world: poison data set aside, packages kept and resumed.

Each case asserts the exact contents after the runs, so a behaviour that loses or overwrites data
with exit 0 fails here.
"""

from __future__ import annotations

import pytest
from conftest import query
from source_drops import HEADER, T0, drop, files_env, row

from pipelines.errors import PipelineFailed
from pipelines.loading import load
from pipelines.samples import SAMPLE_SPREADSHEET_ID
from pipelines.shop_files.pipeline import ShopFiles
from pipelines.shop_sheets.pipeline import ShopSheets


def test_a_null_key_is_set_aside_once_and_the_fixed_source_loads_on_the_next_run(local_env, server):
    from pipelines.shop_api.pipeline import ShopApi

    assert load(ShopApi, local_env).rows["products"] == 48
    broken = dict(server.store.api["products"][1], id=None, name="no key", updated_at="2030-01-01T00:00:00Z")
    server.store.api["products"][-1] = broken
    with pytest.raises(PipelineFailed) as caught:
        load(ShopApi, local_env)
    failed = local_env.work_dir.parent / "failed" / "shop_api"
    assert str(caught.value) == (
        "pipeline 'shop_api' failed in normalize: CannotCoerceNullException: In schema `shop_api`: Cannot coerce NULL "
        f"in table `products` column `id` which is not nullable; its data is kept in {failed} and the pipeline's state "
        "rolled back: fix the source and run again"
    )
    [kept] = failed.iterdir()
    assert "Cannot coerce NULL" in (kept / "reason.txt").read_text()
    assert any(p.suffix == ".parquet" or "products" in p.name for p in kept.rglob("*") if p.is_file())
    del server.store.api["products"][-1]
    server.store.upsert("products", dict(server.store.api["products"][1], name="renamed", updated_at="2030-01-01T00:00:00Z"))
    assert load(ShopApi, local_env).rows["products"] >= 1  # not the poison again: it was set aside
    products = query(local_env.datalake.path, "select id, name from raw_shop_api.products order by id")
    assert products == sorted((p["id"], p["name"]) for p in server.store.api["products"].values())
    assert (1, "renamed") in products


def test_a_full_disk_is_one_line_and_keeps_the_package_for_the_next_run(local_env, server, monkeypatch):
    """ENOSPC while normalizing (simulated: no full disk can be made here without privileges) is a
    failure of the world, not of the data: one line, nothing set aside, and the next run resumes."""
    import errno

    from dlt.pipeline.pipeline import Pipeline as DltPipeline

    normalize = DltPipeline.normalize

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(local_env.work_dir / "normalize"))

    monkeypatch.setattr(DltPipeline, "normalize", full)
    with pytest.raises(PipelineFailed) as caught:
        load(ShopSheets, local_env)
    assert str(caught.value) == (
        f"pipeline 'shop_sheets' failed in normalize: OSError: [Errno 28] No space left on device: '{local_env.work_dir / 'normalize'}'"
    )
    assert not (local_env.work_dir.parent / "failed").exists()
    monkeypatch.setattr(DltPipeline, "normalize", normalize)  # space again
    # The kept package is resumed first; the sheet, read again, is as in that package: not extracted.
    assert load(ShopSheets, local_env).rows == {"sales_targets": 36}
    assert query(local_env.datalake.path, "select count(*) from raw_shop_sheets.sales_targets") == [(36,)]


def test_an_emptying_replace_normalized_by_a_run_that_died_is_refused_on_resume(local_env, server, monkeypatch):
    """The run that normalized the empty sheet died before checking it (its count failed): the
    next run checks the pending package before loading it, and keeps the table."""
    import requests

    import pipelines.table_loss as loading

    load(ShopSheets, local_env)
    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]
    sheet["sales_targets"] = sheet["sales_targets"][:1]
    real = loading.rows_now

    def unreachable(*args, **kwargs):
        raise requests.ConnectionError("the destination went away")  # a failure of the world

    monkeypatch.setattr(loading, "rows_now", unreachable)
    with pytest.raises(PipelineFailed):
        load(ShopSheets, local_env)
    monkeypatch.setattr(loading, "rows_now", real)
    with pytest.raises(PipelineFailed) as caught:
        load(ShopSheets, local_env)
    assert str(caught.value).startswith("pipeline 'shop_sheets' failed in resume: table raw_shop_sheets.sales_targets would be emptied")
    assert query(local_env.datalake.path, "select count(*) from raw_shop_sheets.sales_targets") == [(36,)]


def test_rows_set_aside_by_a_resumed_package_are_counted(files_env):
    drop(files_env, "a.csv", f"{HEADER}\n{row(9401, 'ups')}\nx,1,ups,,,1\n", T0)
    from dlt.pipeline.pipeline import Pipeline as DltPipeline

    real = DltPipeline.load
    calls = []

    def dies_once(self, *args, **kwargs):
        if not calls:
            calls.append(1)
            raise OSError(5, "Input/output error")  # the world, once: the package stays pending
        return real(self, *args, **kwargs)

    DltPipeline.load = dies_once
    try:
        with pytest.raises(PipelineFailed):
            load(ShopFiles, files_env)
        result = load(ShopFiles, files_env)
    finally:
        DltPipeline.load = real
    assert (result.rows["shipments"], result.discarded) == (1, 1)
