"""Sources behaving like real sources: late and re-delivered files, corrections, cleared sheets.

Each case asserts the exact raw contents after the runs (and, end to end, the marts), so a
behaviour that loses or overwrites data with exit 0 fails here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import TOLTEK, query, toltek_env

from pipelines.errors import PipelineFailed
from pipelines.loading import load
from pipelines.samples import DATA_DIR, SAMPLE_SPREADSHEET_ID
from pipelines.shop_files.pipeline import ShopFiles
from pipelines.shop_sheets.pipeline import ShopSheets

HEADER = "shipment_id,order_id,carrier,shipped_at,delivered_at,weight_kg"
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture
def files_env(local_env, tmp_path):
    samples = tmp_path / "samples"
    (samples / "files" / "shipments").mkdir(parents=True)
    return dataclasses.replace(local_env, samples=samples)


def drop(env, name: str, content: bytes | str, mtime: float) -> None:
    """A file landing in the bucket with the modification time its uploader preserved."""
    path = env.samples / "files" / "shipments" / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    os.utime(path, (mtime, mtime))


def raw(env) -> list[tuple]:
    return query(
        env.datalake.path,
        "select shipment_id, carrier, _file_name, epoch(_file_modified_at)::bigint from raw_shop_files.shipments "
        "order by shipment_id, _file_modified_at, _file_name",
    )


def newest(env) -> list[tuple]:
    """What the staging model keeps: the newest version of each shipment (same rule, in SQL)."""
    return query(
        env.datalake.path,
        "select shipment_id, carrier from raw_shop_files.shipments "
        "qualify row_number() over (partition by shipment_id order by _file_modified_at desc nulls last, _file_name desc nulls last) = 1 "
        "order by shipment_id",
    )


def row(shipment: int, carrier: str, order: int | None = None) -> str:
    return f"{shipment},{order or shipment - 100},{carrier},2026-01-02T10:00:00Z,,1.5"


# Files ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("names", [("a_original.csv", "b_correction.csv"), ("b_original.csv", "a_correction.csv")])
def test_an_original_and_its_correction_in_one_run_the_newer_file_wins_in_either_name_order(files_env, names):
    original, correction = names
    drop(files_env, original, f"{HEADER}\n{row(1001, 'ups')}\n{row(1002, 'dhl')}\n", T0)
    drop(files_env, correction, f"{HEADER}\n{row(1001, 'postnl')}\n", T0 + 3600)
    assert load(ShopFiles, files_env).rows == {"shipments": 3}
    assert raw(files_env) == [
        (1001, "ups", original, T0), (1001, "postnl", correction, T0 + 3600), (1002, "dhl", original, T0),
    ]
    assert newest(files_env) == [(1001, "postnl"), (1002, "dhl")]


def test_a_late_file_with_an_older_modification_time_is_loaded_once_and_does_not_win(files_env):
    drop(files_env, "2026_02.csv", f"{HEADER}\n{row(2001, 'ups')}\n", T0 + 86400)
    load(ShopFiles, files_env)
    # `cp -p` / `gsutil cp -P` of an older drop, after a newer one was loaded
    drop(files_env, "2026_01.csv", f"{HEADER}\n{row(2001, 'dhl')}\n{row(2002, 'dpd')}\n", T0)
    assert load(ShopFiles, files_env).rows == {"shipments": 2}
    assert load(ShopFiles, files_env).rows == {}  # and exactly once
    assert raw(files_env) == [(2001, "dhl", "2026_01.csv", T0), (2001, "ups", "2026_02.csv", T0 + 86400), (2002, "dpd", "2026_01.csv", T0)]
    assert newest(files_env) == [(2001, "ups"), (2002, "dpd")]


def test_files_from_a_clock_skewed_uploader_all_load(files_env):
    drop(files_env, "future.csv", f"{HEADER}\n{row(3001, 'ups')}\n", T0 + 10 * 365 * 86400)
    load(ShopFiles, files_env)
    drop(files_env, "now.csv", f"{HEADER}\n{row(3002, 'dhl')}\n", T0)
    assert load(ShopFiles, files_env).rows == {"shipments": 1}
    assert [r[:2] for r in raw(files_env)] == [(3001, "ups"), (3002, "dhl")]


def test_a_redelivered_file_replaces_all_its_own_rows(files_env):
    drop(files_env, "drop.csv", f"{HEADER}\n{row(4001, 'ups')}\n{row(4002, 'dhl')}\n{row(4003, 'dpd')}\n", T0)
    drop(files_env, "other.csv", f"{HEADER}\n{row(4002, 'ups')}\n", T0 - 60)
    load(ShopFiles, files_env)
    # re-delivered: 4001 changed, 4002 gone from it, 4003 now invalid
    drop(files_env, "drop.csv", f"{HEADER}\n{row(4001, 'postnl')}\n4003,1,dpd,yesterday,,1\n", T0 + 60)
    assert load(ShopFiles, files_env).rows == {"shipments": 1, "discarded_rows": 1}
    assert raw(files_env) == [(4001, "postnl", "drop.csv", T0 + 60), (4002, "ups", "other.csv", T0 - 60)]
    assert newest(files_env) == [(4001, "postnl"), (4002, "ups")]


def test_a_file_touched_without_changes_is_read_again_without_duplicates(files_env):
    drop(files_env, "drop.csv", f"{HEADER}\n{row(5001, 'ups')}\n", T0)
    load(ShopFiles, files_env)
    os.utime(files_env.samples / "files" / "shipments" / "drop.csv", (T0 + 5, T0 + 5))
    assert load(ShopFiles, files_env).rows == {"shipments": 1}
    assert raw(files_env) == [(5001, "ups", "drop.csv", T0 + 5)]


@pytest.mark.parametrize("content", [HEADER + "\n", HEADER, b""], ids=["header", "header without newline", "zero bytes"])
def test_a_file_with_no_rows_loads_nothing_and_blocks_nothing(files_env, content):
    drop(files_env, "a_empty.csv", content, T0)
    drop(files_env, "b_full.csv", f"{HEADER}\n{row(6001, 'ups')}\n", T0)
    assert load(ShopFiles, files_env).rows == {"shipments": 1}
    assert raw(files_env) == [(6001, "ups", "b_full.csv", T0)]


def test_a_truncated_parquet_file_fails_naming_it_and_loads_once_fixed(files_env):
    table = pa.table({"shipment_id": [7001], "order_id": [1], "carrier": ["ups"]})
    path = files_env.samples / "files" / "shipments" / "drop.parquet"
    pq.write_table(table, path)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(PipelineFailed) as caught:
        load(ShopFiles, files_env)
    assert str(caught.value).startswith("pipeline 'shop_files' failed in extract: drop.parquet is not a readable Parquet file (")
    path.write_bytes(whole)  # the upload completes
    assert load(ShopFiles, files_env).rows == {"shipments": 1}


# Sheets ---------------------------------------------------------------------------------------


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
    ],
    ids=["duplicate", "blank"],
)
def test_a_duplicate_or_blank_header_is_named(local_env, server, header, message):
    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]
    sheet["sales_targets"] = [header, *sheet["sales_targets"][1:]]
    with pytest.raises(PipelineFailed) as caught:
        load(ShopSheets, local_env)
    assert str(caught.value) == f"pipeline 'shop_sheets' failed in extract: {message}"


# End to end -----------------------------------------------------------------------------------


def test_corrections_reach_the_marts_and_a_cleared_sheet_keeps_the_targets(tmp_path):
    """`toltek run` twice: corrections in both name orders pick the newer file in fct_orders; a
    sheet cleared to its header fails the run (exit 1) and leaves the marts' targets intact."""
    samples = tmp_path / "samples"
    shutil.copytree(DATA_DIR, samples)
    shipments = samples / "files" / "shipments"
    first = (shipments / "shipments_2025_01.csv").read_text().splitlines()
    (a, b) = first[1].split(","), first[2].split(",")
    old = (shipments / "shipments_2025_01.csv").stat().st_mtime
    for name, fields, carrier in (("0_fix.csv", a, "ups"), ("zz_fix.csv", b, "dpd")):
        fields = [*fields[:2], carrier, *fields[3:]]
        (shipments / name).write_text(f"{HEADER}\n{','.join(fields)}\n")
        os.utime(shipments / name, (old + 3600, old + 3600))
    home = tmp_path / "home"
    env = toltek_env(home, TOLTEK_SAMPLES=str(samples))
    done = subprocess.run([str(TOLTEK), "run"], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    warehouse = home / "warehouse.duckdb"
    fixed = query(warehouse, f"select shipment_id, carrier from marts.fct_orders where shipment_id in ({a[0]}, {b[0]}) order by 1")
    assert fixed == [(int(a[0]), "ups"), (int(b[0]), "dpd")]
    assert query(warehouse, "select count(*), count(distinct order_id) from marts.fct_orders") == [(8000, 8000)]
    targets_before = query(warehouse, "select * from marts.mart_sales_vs_targets order by all")

    sheet = samples / "sheets" / f"{SAMPLE_SPREADSHEET_ID}.json"
    document = json.loads(sheet.read_text())
    document["sheets"]["sales_targets"] = document["sheets"]["sales_targets"][:1]
    sheet.write_text(json.dumps(document))
    again = subprocess.run([str(TOLTEK), "run"], capture_output=True, text=True, env=env, timeout=900)
    assert again.returncode == 1
    assert "table raw_shop_sheets.sales_targets would be emptied (it has 36 rows, this load none;" in again.stderr
    assert query(warehouse, "select * from marts.mart_sales_vs_targets order by all") == targets_before
    assert query(warehouse, "select count(*) from marts.mart_sales_vs_targets where target_revenue is null") == [(0,)]


# Poison packages ------------------------------------------------------------------------------


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


# API ------------------------------------------------------------------------------------------


def orders(env) -> list[tuple]:
    return query(env.datalake.path, "select id, status, updated_at from raw_shop_api.orders order by id")


def source_orders(server) -> list[tuple]:
    return sorted((r["id"], r["status"], r["updated_at"]) for r in server.store.api["orders"].values())


def as_text(rows: list[tuple]) -> list[tuple]:
    """DuckDB timestamps back to the API's ISO text."""
    return [(i, s, u.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(u, "strftime") else u) for i, s, u in rows]


def test_records_changing_and_shifting_while_paged_converge_on_the_next_run(local_env, server):
    """Page 1 is read, then a record on it is updated (it moves to the last page) and every later
    record shifts one place up: the first record of page 3 slides onto page 2, already read. The
    run loads the moved record's new version; the next run (nothing changing) starts from the
    moved record's old position and ends with the source exactly."""
    from pipelines.shop_api.pipeline import ShopApi
    from pipelines.shop_api.settings import PAGE_SIZE

    listing = sorted(server.store.api["orders"].values(), key=lambda r: (r["updated_at"], r["id"]))
    moved, shifted = listing[10], listing[2 * PAGE_SIZE]

    def churn(entity: str, page: int) -> None:
        if entity == "orders" and page == 3:
            server.store.upsert("orders", dict(moved, status="cancelled", updated_at="2026-12-01T00:00:00Z"))
            server.store.before_page = None

    server.store.before_page = churn
    load(ShopApi, local_env)
    first = {r[0]: r for r in as_text(orders(local_env))}
    assert first[moved["id"]][1:] == ("cancelled", "2026-12-01T00:00:00Z")  # the newest version won
    assert shifted["id"] not in first and len(first) == 7999  # it slid into a page already read

    load(ShopApi, local_env)
    assert as_text(orders(local_env)) == source_orders(server)


def test_the_rewind_step_runs_after_the_incremental():
    """dlt puts its incremental step last when a map is added; the rewind must come after it."""
    from pipelines.shop_api import shop_api

    source = shop_api(base_url="http://127.0.0.1:9/shop/v1/", access_token="unused")
    for name in ("customers", "orders", "products"):
        steps = [type(s).__name__ for s in source.resources[name]._pipe.steps]
        assert steps.index("IncrementalResourceWrapper") < len(steps) - 1 and steps[-1] == "MapItem", steps


def test_an_api_rerun_looks_back_one_schedule_interval(local_env, server):
    """A record committed late, with an updated_at older than the newest already loaded but within
    one schedule interval (an hour for shop_api), is still read by the next run."""
    from pipelines.shop_api.pipeline import ShopApi

    load(ShopApi, local_env)
    newest = max(r["updated_at"] for r in server.store.api["orders"].values())
    late = dict(server.store.api["orders"][3], status="refunded")
    from datetime import datetime, timedelta

    newest_at = datetime.strptime(newest, "%Y-%m-%dT%H:%M:%SZ")
    late["updated_at"] = (newest_at - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    server.store.upsert("orders", late)
    load(ShopApi, local_env)
    assert as_text(orders(local_env)) == source_orders(server)


@pytest.mark.parametrize(
    ("raw", "starting"),
    [("<html><body>Service temporarily unavailable</body></html>", "<html><body>Service temporarily unavailable</body></html>"),
     ('{"data": [{"id": 1,', '{"data": [{"id": 1,')],
    ids=["html", "truncated json"],
)
def test_an_api_answer_that_is_not_json_fails_naming_the_endpoint(local_env, server, raw, starting):
    from pipelines.samples.server import Fault
    from pipelines.shop_api.pipeline import ShopApi

    server.inject(Fault(path="/shop/v1/customers", raw=raw, times=-1))
    with pytest.raises(PipelineFailed) as caught:
        load(ShopApi, local_env)
    assert str(caught.value) == (
        f"pipeline 'shop_api' failed in extract: response from GET {server.url}/shop/v1/customers is not JSON "
        f"(text/html, starting {starting!r})"
    )


def test_a_failing_dbt_test_names_itself_and_its_error_on_stderr(tmp_path):
    samples = tmp_path / "samples"
    shutil.copytree(DATA_DIR, samples)
    shipments = samples / "files" / "shipments"
    first = (shipments / "shipments_2025_01.csv").read_text().splitlines()[1].split(",")
    (shipments / "zz_fedex.csv").write_text(f"{HEADER}\n{','.join([*first[:2], 'fedex', *first[3:]])}\n")
    os.utime(shipments / "zz_fedex.csv", (T0 * 2, T0 * 2))  # the newest version: fedex
    done = subprocess.run([str(TOLTEK), "run"], capture_output=True, text=True, env=toltek_env(tmp_path / "home", TOLTEK_SAMPLES=str(samples)), timeout=900)
    assert done.returncode == 1
    failures = [line for line in done.stderr.splitlines() if line.startswith("dbt: ")]
    assert failures[0] == (
        "dbt: test accepted_values_stg_shop_files__shipments_carrier__postnl__dhl__dpd__ups: fail: Got 1 result, configured to fail if != 0"
    ), done.stderr[-2000:]
    assert len(failures) == 2 and failures[1].startswith("dbt: ") and failures[1].endswith(" node(s) skipped because a node they depend on failed")


# More of the world ----------------------------------------------------------------------------


def test_a_renamed_column_evolves_and_the_old_one_turns_null(files_env):
    drop(files_env, "a.csv", f"{HEADER}\n{row(8001, 'ups')}\n", T0)
    load(ShopFiles, files_env)
    renamed = HEADER.replace("carrier", "carrier_name")
    drop(files_env, "b.csv", f"{renamed}\n{row(8002, 'dhl')}\n", T0 + 60)
    assert load(ShopFiles, files_env).rows == {"shipments": 1}
    assert query(files_env.datalake.path, "select shipment_id, carrier, carrier_name from raw_shop_files.shipments order by 1") == [
        (8001, "ups", None), (8002, None, "dhl"),
    ]


def test_timestamps_in_another_zone_land_as_the_same_instant(files_env):
    drop(files_env, "a.csv", f"{HEADER}\n9001,1,ups,2026-03-29T03:30:00+02:00,2026-03-29T01:30:00Z,1\n", T0)
    load(ShopFiles, files_env)
    assert query(
        files_env.datalake.path,
        "select epoch(shipped_at)::bigint, epoch(delivered_at)::bigint from raw_shop_files.shipments",
    ) == [(1_774_747_800, 1_774_747_800)]


def test_excel_exports_with_a_byte_order_mark_and_crlf_load(files_env):
    drop(files_env, "excel.csv", ("\ufeff" + HEADER + "\r\n" + row(9101, "ups") + "\r\n").encode(), T0)
    assert load(ShopFiles, files_env).rows == {"shipments": 1}
    assert raw(files_env) == [(9101, "ups", "excel.csv", T0)]


def test_a_renamed_sheet_tab_fails_naming_the_range(local_env, server):
    sheets = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]
    sheets["targets 2026"] = sheets.pop("sales_targets")
    with pytest.raises(PipelineFailed) as caught:
        load(ShopSheets, local_env)
    assert str(caught.value) == (
        f"pipeline 'shop_sheets' failed in extract: sheet 'sales_targets' is not in spreadsheet {SAMPLE_SPREADSHEET_ID} "
        "(a renamed or deleted tab?)"
    )


def test_a_record_deleted_upstream_stays_in_raw(local_env, server):
    """An `updated_since` API never reports deletions: the raw table keeps what it last saw."""
    from pipelines.shop_api.pipeline import ShopApi

    load(ShopApi, local_env)
    del server.store.api["customers"][5]
    load(ShopApi, local_env)
    assert query(local_env.datalake.path, "select count(*) from raw_shop_api.customers where id = 5") == [(1,)]


def test_a_fixed_file_replaces_its_discarded_rows(files_env):
    drop(files_env, "a.csv", f"{HEADER}\n{row(9201, 'ups')}\nx,1,ups,,,1\n9203,1,ups,yesterday,,1\n", T0)
    load(ShopFiles, files_env)
    entries = "select source_file, row_ref, reason from raw_shop_files.discarded_rows order by all"
    assert [r[:2] for r in query(files_env.datalake.path, entries)] == [("a.csv", "row 2"), ("a.csv", "row 3")]
    drop(files_env, "a.csv", f"{HEADER}\n{row(9201, 'ups')}\n9202,1,ups,,,1\n9203,1,ups,tomorrow,,1\n", T0 + 60)
    result = load(ShopFiles, files_env)
    assert (result.rows["shipments"], result.discarded) == (2, 1)
    assert query(files_env.datalake.path, entries) == [("a.csv", "row 3", "shipped_at: 'tomorrow' is not timestamp[us, tz=UTC]")]
    assert [r[:2] for r in raw(files_env)] == [(9201, "ups"), (9202, "ups")]


@pytest.mark.parametrize(("pipeline_name", "table", "order"), [("shop_api", "orders", "`updated_at` DESC"), ("shop_files", "shipments", "`_file_modified_at` DESC")])
def test_the_bigquery_merge_keeps_the_same_version_as_duckdb(local_env, files_env, pipeline_name, table, order):
    """dlt's BigQuery merge SQL, generated offline from the schema the pipeline really loaded with:
    duplicates of a key in one load are ranked by the same `dedup_sort` as on DuckDB."""
    import dlt
    from dlt.common.configuration.specs import GcpServiceAccountCredentials
    from dlt.common.schema.utils import get_nested_tables
    from dlt.destinations import bigquery
    from dlt.destinations.impl.bigquery.bigquery import BigQueryMergeJob
    from dlt.destinations.impl.bigquery.sql_client import BigQuerySqlClient

    from pipelines.shop_api.pipeline import ShopApi

    if pipeline_name == "shop_files":
        drop(files_env, "a.csv", f"{HEADER}\n{row(9301, 'ups')}\n", T0)
    load(ShopApi if pipeline_name == "shop_api" else ShopFiles, local_env if pipeline_name == "shop_api" else files_env)
    env = local_env if pipeline_name == "shop_api" else files_env
    schema = dlt.attach(f"toltek_{pipeline_name}", pipelines_dir=str(env.work_dir)).default_schema
    credentials = GcpServiceAccountCredentials()
    credentials.project_id = "toltek-datalake-prd"
    dataset = f"raw_{pipeline_name}"
    client = BigQuerySqlClient(dataset, f"{dataset}_staging", credentials, bigquery().capabilities())
    sql = " ".join(" ".join(BigQueryMergeJob.generate_sql(get_nested_tables(schema.tables, table), client)).split())
    assert f"`toltek-datalake-prd`.`{dataset}_staging`.`{table}`" in sql
    assert f"ROW_NUMBER() OVER (partition BY {'`id`' if table == 'orders' else '`shipment_id`, `_file_name`'} ORDER BY {order})" in sql, sql[:1500]


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
    # The kept package is resumed first, then the sheet read again: two replaces of 36 rows.
    assert load(ShopSheets, local_env).rows == {"sales_targets": 72}
    assert query(local_env.datalake.path, "select count(*) from raw_shop_sheets.sales_targets") == [(36,)]


def test_an_emptying_replace_normalized_by_a_run_that_died_is_refused_on_resume(local_env, server, monkeypatch):
    """The run that normalized the empty sheet died before checking it (its count failed): the
    next run checks the pending package before loading it, and keeps the table."""
    import requests

    import pipelines.loading as loading

    load(ShopSheets, local_env)
    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]
    sheet["sales_targets"] = sheet["sales_targets"][:1]
    real = loading._rows_now

    def unreachable(*args, **kwargs):
        raise requests.ConnectionError("the destination went away")  # a failure of the world

    monkeypatch.setattr(loading, "_rows_now", unreachable)
    with pytest.raises(PipelineFailed):
        load(ShopSheets, local_env)
    monkeypatch.setattr(loading, "_rows_now", real)
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
