"""`toltek run NAME --refresh`: a pipeline loaded from scratch, and what happens when that is cut short.

Each case asserts the exact contents after the runs, so a reload that loses rows with exit 0 fails
here (the cut-short cases that need a killed process and a new container are in
tests/test_crash_safety.py).
"""

from __future__ import annotations

import pytest
from conftest import query
from rich.console import Console

from pipelines.errors import PipelineFailed
from pipelines.loading import load
from pipelines.samples import SAMPLE_SPREADSHEET_ID
from pipelines.shop_sheets.pipeline import ShopSheets


def targets(env) -> list[tuple]:
    return query(env.datalake.path, "select * exclude (_dlt_load_id, _dlt_id) from raw_shop_sheets.sales_targets order by all")


def edit_a_cell(server) -> None:
    """Someone edits the sheet: a plain run would load it too (the refresh is what is tested)."""
    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]["sales_targets"]
    sheet[1] = [*sheet[1][:3], "growth-eu"]


def fail_once(monkeypatch, owner: type, name: str, error: Exception, *, after_calling: bool = False) -> None:
    """`owner.name` raises `error` the next time it is called (after doing its work, with
    `after_calling`), then is itself again."""
    original = getattr(owner, name)

    def once(self, *args, **kwargs):
        monkeypatch.setattr(owner, name, original)
        if after_calling:
            original(self, *args, **kwargs)
        raise error

    monkeypatch.setattr(owner, name, once)


def completed(env, dataset: str, table: str) -> list[tuple]:
    """(rows, rows of completed loads) of a raw table: what staging models see is the second."""
    return query(
        env.datalake.path,
        f"select count(*), count(*) filter (where _dlt_load_id in (select load_id from {dataset}._dlt_loads where status = 0)) "
        f"from {dataset}.{table}",
    )


def test_a_refresh_of_an_unchanged_sheet_reloads_it(local_env, server):
    """An unchanged sheet is not extracted on a plain run (its digest matches); a refresh is told
    before the source decides, so the table comes back whole (here after rows went missing from it)."""
    load(ShopSheets, local_env)
    before = targets(local_env)
    import duckdb

    with duckdb.connect(str(local_env.datalake.path)) as con:
        con.execute("delete from raw_shop_sheets.sales_targets where channel = 'web'")
    assert load(ShopSheets, local_env).rows == {}, "a plain run does not look at the table"
    assert load(ShopSheets, local_env, refresh=True).rows == {"sales_targets": 36}
    assert targets(local_env) == before


def test_a_refresh_that_would_drop_a_nested_table_for_good_is_refused(local_env, server):
    """Orders that all lost their items: the refresh would drop `orders__items` and not create it
    again (the staging model reading it would then fail); refused, everything kept."""
    from pipelines.shop_api.pipeline import ShopApi

    load(ShopApi, local_env)
    orders = server.store.api["orders"]
    items = sum(len(orders[key]["items"]) for key in orders)
    server.store.upsert("orders", *(dict(orders[key], items=[]) for key in list(orders)))
    with pytest.raises(PipelineFailed) as caught:
        load(ShopApi, local_env, refresh=True)
    assert f"--refresh: table raw_shop_api.orders__items would be emptied (it has {items} rows, this load none;" in str(caught.value)
    assert query(local_env.datalake.path, "select count(*) from raw_shop_api.orders__items") == [(items,)]


def test_a_refresh_stopped_before_normalizing_is_finished_by_the_next_run(local_env, server, monkeypatch):
    """The run stops between extract and normalize (a failure of the world: the package is kept);
    the next, plain run resumes the refresh's package and loads it whole, not refusing it as if it
    emptied the table (it holds all the sheet's rows)."""
    from dlt.pipeline.pipeline import Pipeline

    load(ShopSheets, local_env)
    edit_a_cell(server)
    fail_once(monkeypatch, Pipeline, "normalize", OSError("No space left on device"))
    with pytest.raises(PipelineFailed, match="failed in normalize: OSError: No space left on device"):
        load(ShopSheets, local_env, refresh=True)
    finishing = load(ShopSheets, local_env)
    assert (finishing.rows, finishing.refreshed) == ({"sales_targets": 36}, True), "the marts are to be rebuilt whole"
    assert completed(local_env, "raw_shop_sheets", "sales_targets") == [(36, 36)]
    assert ("2025-01", "web", 77900.0, "growth-eu") in targets(local_env)
    assert load(ShopSheets, local_env).rows == {}


def test_a_refresh_set_aside_after_its_drop_is_finished_by_the_next_run(local_env, server, monkeypatch):
    """The destination refuses the load right after the refresh dropped the table (a data failure:
    the package is set aside and the state rolled back to before it). The table is gone, the
    rolled-back state says the sheet was read: the next run must refresh, not find nothing new."""
    from dlt.common.destination.exceptions import DestinationTerminalException
    from dlt.destinations.job_client_impl import SqlJobClientBase

    load(ShopSheets, local_env)
    before = targets(local_env)
    fail_once(monkeypatch, SqlJobClientBase, "drop_tables", DestinationTerminalException("quota exceeded for table creation"), after_calling=True)
    with pytest.raises(PipelineFailed, match="failed in load: .*quota exceeded"):
        load(ShopSheets, local_env, refresh=True)
    finishing = load(ShopSheets, local_env)
    assert (finishing.rows, finishing.refreshed) == ({"sales_targets": 36}, True), "the marts are to be rebuilt whole"
    assert completed(local_env, "raw_shop_sheets", "sales_targets") == [(36, 36)]
    assert targets(local_env) == before
    assert load(ShopSheets, local_env).rows == {}, "finished: the next run is a plain one again"


def test_refresh_is_refused_when_the_source_gives_no_rows_for_a_table_it_would_drop(local_env, server):
    load(ShopSheets, local_env)
    before = targets(local_env)
    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]
    sheet["sales_targets"] = sheet["sales_targets"][:1]  # cleared down to its header
    with pytest.raises(PipelineFailed) as caught:
        load(ShopSheets, local_env, refresh=True)
    assert "table raw_shop_sheets.sales_targets would be emptied (it has 36 rows, this load none;" in str(caught.value)
    assert targets(local_env) == before


def test_a_refresh_after_one_cut_short_counts_the_rows_it_leaves_once(local_env, server, monkeypatch):
    """The cut-short refresh's package is resumed, then dropped and loaded again by the new
    refresh: the run reports the rows the tables hold, not both loads."""
    from dlt.pipeline.pipeline import Pipeline

    load(ShopSheets, local_env)
    edit_a_cell(server)
    fail_once(monkeypatch, Pipeline, "normalize", OSError("No space left on device"))
    with pytest.raises(PipelineFailed):
        load(ShopSheets, local_env, refresh=True)
    assert load(ShopSheets, local_env, refresh=True).rows == {"sales_targets": 36}
    assert completed(local_env, "raw_shop_sheets", "sales_targets") == [(36, 36)]


def test_a_refresh_makes_the_next_local_build_rebuild_the_marts_whole_even_if_run_later(local_env, server):
    """`run NAME --refresh --skip-transform`, then a plain `toltek run` that loads nothing new: rows
    the source no longer gives left the raw tables, so that build must still be a full refresh."""
    from pipelines import last_build
    from pipelines.run import run_all

    quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    project = last_build.project_digest()
    last_build.finished(local_env, True, {}, project)  # a warehouse built by this project
    assert not last_build.needs_full_refresh(local_env, project)
    assert run_all(local_env, [ShopSheets], transform="never", out=quiet, err=quiet)
    assert not last_build.needs_full_refresh(local_env, project), "a plain load keeps the incremental build"
    assert run_all(local_env, [ShopSheets], transform="never", out=quiet, err=quiet, refresh=True)
    assert last_build.needs_full_refresh(local_env, project)


def test_a_refresh_with_the_transform_in_dev_or_prd_rebuilds_the_marts_whole(monkeypatch):
    """No build record in the cloud: the run that refreshed tells dbt itself."""
    import pipelines.run as run
    from pipelines import environments
    from pipelines.loading import LoadResult

    built: list[bool] = []
    monkeypatch.setattr(run, "load", lambda pipeline, env, on_stage, refresh: LoadResult(pipeline.name, {"sales_targets": 36}, refreshed=refresh))
    monkeypatch.setattr(run, "_transfer_and_transform", lambda *args, full_refresh, **kwargs: built.append(full_refresh) or True)
    quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    dev = environments.get("dev")
    assert run.run_all(dev, [ShopSheets], transform="always", out=quiet, err=quiet, refresh=True)
    assert run.run_all(dev, [ShopSheets], transform="always", out=quiet, err=quiet)
    assert built == [True, False]

