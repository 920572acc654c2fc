"""Files in the landing bucket behaving like real drops: late, re-delivered, corrected, odd.

Each case asserts the exact contents after the runs, so a behaviour that loses or overwrites data
with exit 0 fails here.
"""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import query
from source_drops import HEADER, T0, drop, files_env, newest, raw, row

from pipelines.errors import PipelineFailed
from pipelines.loading import load
from pipelines.shop_files.pipeline import ShopFiles


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


def test_drops_in_subfolders_load_each_known_by_its_path(files_env):
    """Partners often drop into dated folders (`shipments/2026/06/`), reusing one file name each
    period: every file under the landing folder loads, and two files of one name in two folders
    stay two files (neither replaces the other's rows)."""
    drop(files_env, "top.csv", f"{HEADER}\n{row(5101, 'ups')}\n", T0)
    drop(files_env, "2026/01/drop.csv", f"{HEADER}\n{row(5102, 'dhl')}\n", T0)
    drop(files_env, "2026/02/drop.csv", f"{HEADER}\n{row(5103, 'dpd')}\n", T0 + 60)
    assert load(ShopFiles, files_env).rows == {"shipments": 3}
    assert load(ShopFiles, files_env).rows == {}  # each read once
    drop(files_env, "2026/02/drop.csv", f"{HEADER}\n{row(5103, 'postnl')}\n", T0 + 120)  # re-delivered
    assert load(ShopFiles, files_env).rows == {"shipments": 1}
    assert raw(files_env) == [
        (5101, "ups", "top.csv", T0), (5102, "dhl", "2026/01/drop.csv", T0), (5103, "postnl", "2026/02/drop.csv", T0 + 120),
    ]


def test_a_spark_style_drop_folder_loads_its_part_files_and_skips_its_markers(files_env):
    """Spark and Hive write `part-…` files beside `_SUCCESS` markers, `.crc` side files and a
    `_temporary/` folder while they work; Spark, Hive and pyarrow's datasets skip names starting with
    `_` or `.`. Read as drops, the marker failed every run (not a CSV or Parquet file)."""
    drop(files_env, "2026/06/part-00000.csv", f"{HEADER}\n{row(5201, 'ups')}\n", T0)
    drop(files_env, "2026/06/_SUCCESS", b"", T0)
    drop(files_env, "2026/06/.part-00000.csv.crc", b"\x00crc", T0)
    drop(files_env, "2026/06/_temporary/0/part-00001.csv", f"{HEADER}\n{row(5202, 'dhl')}\n", T0)
    assert load(ShopFiles, files_env).rows == {"shipments": 1}
    assert raw(files_env) == [(5201, "ups", "2026/06/part-00000.csv", T0)]


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


def _bigquery_merge_sql(env, pipeline_name: str, table: str) -> str:
    """dlt's BigQuery merge SQL, generated offline from the schema the pipeline really loaded with."""
    import dlt
    from dlt.common.configuration.specs import GcpServiceAccountCredentials
    from dlt.common.schema.utils import get_nested_tables
    from dlt.destinations import bigquery
    from dlt.destinations.impl.bigquery.bigquery import BigQueryMergeJob
    from dlt.destinations.impl.bigquery.sql_client import BigQuerySqlClient

    schema = dlt.attach(f"toltek_{pipeline_name}", pipelines_dir=str(env.work_dir)).default_schema
    credentials = GcpServiceAccountCredentials()
    credentials.project_id = "toltek-datalake-prd"
    dataset = f"raw_{pipeline_name}"
    client = BigQuerySqlClient(dataset, f"{dataset}_staging", credentials, bigquery().capabilities())
    return " ".join(" ".join(BigQueryMergeJob.generate_sql(get_nested_tables(schema.tables, table), client)).split())


def test_the_bigquery_merge_keeps_the_same_version_as_duckdb(local_env):
    """Duplicates of a key in one load are ranked by the same `dedup_sort` as on DuckDB."""
    from pipelines.shop_api.pipeline import ShopApi

    load(ShopApi, local_env)
    sql = _bigquery_merge_sql(local_env, "shop_api", "orders")
    assert "`toltek-datalake-prd`.`raw_shop_api_staging`.`orders`" in sql
    assert "ROW_NUMBER() OVER (partition BY `id` ORDER BY `updated_at` DESC)" in sql, sql[:1500]


def test_the_bigquery_files_merge_replaces_whole_files_like_duckdb(files_env):
    """On BigQuery as on DuckDB the files merge deletes the rows of the files a load holds and
    inserts the staged rows as they are (the source keeps one row per shipment and file)."""
    drop(files_env, "a.csv", f"{HEADER}\n{row(9301, 'ups')}\n", T0)
    load(ShopFiles, files_env)
    sql = _bigquery_merge_sql(files_env, "shop_files", "shipments")
    staging = "`toltek-datalake-prd`.`raw_shop_files_staging`.`shipments`"
    assert sql.startswith(f"DELETE FROM `toltek-datalake-prd`.`raw_shop_files`.`shipments` WHERE _file_name IN (SELECT _file_name FROM {staging});"), sql
    assert "ROW_NUMBER" not in sql
    assert sql.endswith(f"FROM {staging} WHERE 1 = 1"), sql


def test_a_shipment_twice_in_one_file_keeps_its_last_row(files_env):
    drop(files_env, "a.csv", f"{HEADER}\n{row(9401, 'ups')}\n{row(9402, 'dhl')}\n{row(9401, 'dpd')}\n", T0)
    drop(files_env, "b.csv", f"{HEADER}\n{row(9401, 'postnl')}\n", T0 + 60)
    assert load(ShopFiles, files_env).rows == {"shipments": 3}
    assert raw(files_env) == [(9401, "dpd", "a.csv", T0), (9401, "postnl", "b.csv", T0 + 60), (9402, "dhl", "a.csv", T0)]
