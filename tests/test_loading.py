"""Where a pipeline loads (the environment decides the dlt destination), and how it resumes."""

from __future__ import annotations

import dlt
import pytest
from conftest import duckdb_held_by_another_process, query

from pipelines import environments, naming
from pipelines.errors import PipelineFailed
from pipelines.loading import destination, load, local_secrets
from pipelines.shop_sheets.pipeline import ShopSheets


def test_local_loads_into_the_datalake_duckdb_file(toltek_home):
    dest = destination(environments.get("local"))
    assert dest.destination_type == "dlt.destinations.duckdb"
    assert dest.config_params["credentials"] == str(toltek_home / "datalake.duckdb")


def test_cloud_loads_into_bigquery_of_the_datalake_project(monkeypatch):
    for var in ("TOLTEK_DATALAKE_PROJECT", "TOLTEK_BQ_LOCATION"):
        monkeypatch.delenv(var, raising=False)
    dest = destination(environments.get("prd"))
    assert dest.destination_type == "dlt.destinations.bigquery"
    assert dest.config_params["location"] == "EU"
    assert dest.config_params["credentials"].project_id == "toltek-datalake-prd"



def edit_sheet(server, revenue: int) -> None:
    """Change one target in the sample sheet: the next extraction has new data (an unchanged sheet
    is not extracted again)."""
    from pipelines.samples import SAMPLE_SPREADSHEET_ID

    row = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]["sales_targets"][1]
    row[2] = revenue


def test_data_an_interrupted_run_left_is_resumed_first_reported_and_counted(local_env, server):
    """A run that died after extracting leaves a package; the next run loads it before its own."""
    left = dlt.pipeline(
        pipeline_name=naming.dlt_pipeline_name(ShopSheets.name),
        destination=destination(local_env),
        dataset_name=ShopSheets.dataset,
        pipelines_dir=str(local_env.work_dir),
    )
    with local_secrets(ShopSheets, local_env):
        left.extract(ShopSheets().source(local_env))
    assert left.has_pending_data

    with duckdb_held_by_another_process(local_env.datalake.path):
        with pytest.raises(PipelineFailed, match=r"^pipeline 'shop_sheets' failed in resume: .*lock"):
            load(ShopSheets, local_env)

    # The failed attempt had normalized the package already: it is loaded now, not counted again.
    edit_sheet(server, 1001)
    result = load(ShopSheets, local_env)
    assert result.rows == {"sales_targets": 36}
    assert query(local_env.datalake.path, "select count(*) from raw_shop_sheets._dlt_loads where status = 0") == [(2,)]

    # A package left extracted but not normalized is normalized, loaded and counted on resume.
    edit_sheet(server, 1002)
    with local_secrets(ShopSheets, local_env):
        left.extract(ShopSheets().source(local_env))
    edit_sheet(server, 1003)
    result = load(ShopSheets, local_env)
    assert result.rows == {"sales_targets": 72}  # the resumed package's 36 rows, then this run's 36
    assert query(local_env.datalake.path, "select count(*) from raw_shop_sheets.sales_targets") == [(36,)]
    assert query(local_env.datalake.path, "select count(*) from raw_shop_sheets._dlt_loads where status = 0") == [(4,)]


def test_a_load_opens_the_local_datalake_once_and_closes_it(local_env, server, monkeypatch):
    """dlt opens and closes the DuckDB file for each step of a load (each close checkpoints); a run
    holds one connection for its loads, and another process can take the file once it is done."""
    import duckdb

    opened, connect = [], duckdb.connect

    def counted(database=":memory:", *args, **kwargs):
        opened.append(str(database))
        return connect(database, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", counted)
    assert load(ShopSheets, local_env).rows == {"sales_targets": 36}
    assert opened.count(str(local_env.datalake.path)) == 1
    with duckdb_held_by_another_process(local_env.datalake.path):
        pass
    assert load(ShopSheets, local_env).rows == {}  # the sheet is unchanged: nothing to load ...
    assert opened.count(str(local_env.datalake.path)) == 1  # ... and the datalake is not even opened


def test_a_datalake_that_cannot_be_closed_fails_the_load_in_one_line(local_env, server, monkeypatch):
    """Closing the held connection checkpoints the database (a full disk fails there): the run
    says so in one line, and a failure before it is not hidden by one at closing."""
    import duckdb

    from pipelines import loading

    close = loading.HeldDatalake.close

    def failing(self, *, quietly=False):
        close(self, quietly=quietly)
        if not quietly:
            raise duckdb.IOException("could not write the checkpoint: No space left on device")

    monkeypatch.setattr(loading.HeldDatalake, "close", failing)
    with pytest.raises(PipelineFailed, match=r"^pipeline 'shop_sheets' failed in load: IOException: could not write the checkpoint: No space left on device$"):
        load(ShopSheets, local_env)
    monkeypatch.setattr(loading.HeldDatalake, "close", close)
    assert query(local_env.datalake.path, "select count(*) from raw_shop_sheets.sales_targets") == [(36,)]  # its load had committed
    assert load(ShopSheets, local_env).rows == {}


def test_dlt_still_fails_a_refresh_where_the_staging_dataset_has_no_stored_versions(tmp_path):
    """Why `staging_versions_optional` exists (dlt-hub/dlt#1801): with staging truncation on (as
    `DLT_SETTINGS` sets it), a refresh's drop fails on the `_staging` dataset dlt created without
    a `_dlt_version` table. When this test fails, dlt has fixed it: drop the workaround."""
    import duckdb
    from dlt.destinations.exceptions import DatabaseUndefinedRelation

    from pipelines.reload import staging_versions_optional

    @dlt.resource(write_disposition="replace")
    def targets(value: object):
        yield [{"revenue": value}]

    path = tmp_path / "lake.duckdb"

    def pipeline() -> dlt.Pipeline:
        return dlt.pipeline("refresh_check", destination=dlt.destinations.duckdb(str(path)), dataset_name="raw_x", pipelines_dir=str(tmp_path / "work"))

    def run(value: object, refresh: str | None = None) -> None:
        pipeline().extract(targets(value), refresh=refresh)
        pipeline().normalize()
        pipeline().load()

    with pytest.MonkeyPatch.context() as patched:
        patched.setenv("LOAD__TRUNCATE_STAGING_DATASET", "true")
        run(45658.0)
        with pytest.raises(Exception) as caught:
            run("2025-01", refresh="drop_resources")
        cause = caught.value
        while cause.__cause__ is not None or cause.__context__ is not None:
            if isinstance(cause, DatabaseUndefinedRelation):
                break
            cause = cause.__cause__ or cause.__context__
        assert isinstance(cause, DatabaseUndefinedRelation) and "_dlt_version" in str(cause)
        with staging_versions_optional():
            pipeline().load()  # the package the refresh left pending
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select revenue, typeof(revenue) from raw_x.targets").fetchall() == [("2025-01", "VARCHAR")]
