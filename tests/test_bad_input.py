"""Bad input: each case has a defined outcome — evolve, discard and count, or fail clearly."""

from __future__ import annotations

import dataclasses
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import query

from pipelines.errors import PipelineFailed
from pipelines.loading import load
from pipelines.samples import SAMPLE_SPREADSHEET_ID
from pipelines.samples.server import Fault
from pipelines.shop_api.pipeline import ShopApi
from pipelines.shop_files.pipeline import ShopFiles
from pipelines.shop_sheets.pipeline import ShopSheets

pytestmark = pytest.mark.faults
HEADER = "shipment_id,order_id,carrier,shipped_at,delivered_at,weight_kg"


@pytest.fixture
def files_env(local_env, tmp_path):
    samples = tmp_path / "samples"
    (samples / "files" / "shipments").mkdir(parents=True)
    return dataclasses.replace(local_env, samples=samples)


def drop(env, name, content: bytes | str):
    path = env.samples / "files" / "shipments" / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def shipments(env, columns="shipment_id, carrier"):
    return query(env.datalake.path, f"select {columns} from raw_shop_files.shipments order by shipment_id")


def discarded(env):
    return query(env.datalake.path, "select source_file, row_ref, reason, raw from raw_shop_files.discarded_rows order by row_ref")


def test_malformed_rows_and_wrong_types_are_discarded_counted_and_kept(files_env):
    drop(files_env, "a.csv", f"{HEADER}\n1,10,ups,2026-01-01T00:00:00Z,,1.5\n2,11,dhl\nx3,12,dpd,,,\n4,13,ups,yesterday,,2\n5,14,ups,,,3\n")
    result = load(ShopFiles, files_env)
    assert (result.rows["shipments"], result.discarded) == (2, 3)
    assert shipments(files_env) == [(1, "ups"), (5, "ups")]
    assert discarded(files_env) == [
        ("a.csv", "line 3", "3 fields, expected 6", "2,11,dhl"),
        ("a.csv", "row 2", "shipment_id: 'x3' is not int64", "x3,12,dpd,,,"),
        ("a.csv", "row 3", "shipped_at: 'yesterday' is not timestamp[us, tz=UTC]", "4,13,ups,yesterday,,2"),
    ]


def test_out_of_range_values_are_discarded_and_any_iso_timestamp_with_a_zone_is_read(files_env):
    drop(
        files_env,
        "a.csv",
        f"{HEADER}\n"
        "1,10,ups,2026-01-01T00:00:00.250999999Z,2026-01-02T01:00:00+01:00,1.5\n"
        "99999999999999999999,11,dhl,,,\n"
        "3,12,dpd,2026-13-01T00:00:00Z,,\n"
        "4,13,ups,,,1e400\n"
        "5,14,ups,2026-01-01 00:00:00,,\n",
    )
    result = load(ShopFiles, files_env)
    assert (result.rows["shipments"], result.discarded) == (1, 4)
    assert shipments(files_env, "shipment_id, strftime(shipped_at, '%S.%f'), strftime(delivered_at, '%d %H')") == [
        (1, "00.250999", "02 00")  # nanoseconds cut to the column's microseconds
    ]
    assert [reason for _, _, reason, _ in discarded(files_env)] == [
        "shipment_id: '99999999999999999999' is not int64",
        "shipped_at: '2026-13-01T00:00:00Z' is not timestamp[us, tz=UTC]",
        "weight_kg: '1e400' is not double",
        "shipped_at: '2026-01-01 00:00:00' is not timestamp[us, tz=UTC]",
    ]


def test_an_added_column_evolves_the_table(files_env):
    drop(files_env, "a.csv", f"{HEADER},insured\n1,10,ups,,,1.5,yes\n")
    load(ShopFiles, files_env)
    assert shipments(files_env, "shipment_id, insured") == [(1, "yes")]


def test_a_removed_optional_column_becomes_null_and_a_removed_required_one_fails(files_env):
    drop(files_env, "a.csv", "shipment_id,order_id,carrier,shipped_at,delivered_at\n1,10,ups,,\n")
    load(ShopFiles, files_env)
    assert shipments(files_env, "shipment_id, weight_kg") == [(1, None)]
    drop(files_env, "b.csv", "order_id,carrier\n10,ups\n")
    os.utime(files_env.samples / "files" / "shipments" / "b.csv", (2e9, 2e9))
    with pytest.raises(PipelineFailed, match=r"^pipeline 'shop_files' failed in extract: b\.csv lacks required column\(s\) shipment_id$"):
        load(ShopFiles, files_env)


@pytest.mark.parametrize(
    ("header", "twice"), [(f"{HEADER},carrier", "carrier"), ("shipment_id,order_id,note,note", "note")], ids=["a declared column", "an extra column"]
)
def test_a_column_named_twice_fails_naming_the_file_and_the_column(files_env, header, twice):
    # A spreadsheet export that repeats a header cell: which of the two is the value is anyone's guess.
    fields = header.count(",") + 1
    drop(files_env, "a.csv", f"{header}\n" + ",".join(["1", "10"] + ["x"] * (fields - 2)) + "\n")
    with pytest.raises(PipelineFailed, match=rf"^pipeline 'shop_files' failed in extract: a\.csv names column\(s\) {twice} more than once"):
        load(ShopFiles, files_env)


def test_an_empty_file_loads_nothing_and_fails_nothing(files_env):
    drop(files_env, "empty.csv", b"")
    drop(files_env, "a.csv", f"{HEADER}\n1,10,ups,,,1\n")
    result = load(ShopFiles, files_env)
    assert (result.rows, result.discarded) == ({"shipments": 1}, 0)


def test_a_file_that_is_not_utf8_fails_naming_the_file(files_env):
    prefix = f"{HEADER}\n1,10,M".encode()
    drop(files_env, "latin.csv", prefix + "üller,,,1\n".encode("latin-1"))
    with pytest.raises(PipelineFailed) as caught:
        load(ShopFiles, files_env)
    assert str(caught.value) == f"pipeline 'shop_files' failed in extract: latin.csv is not UTF-8 (byte 0xfc at offset {len(prefix)})"


def test_a_parquet_column_of_another_type_fails_naming_file_and_column(files_env):
    table = pa.table({"shipment_id": ["one"], "order_id": [1], "carrier": ["ups"]})
    pq.write_table(table, files_env.samples / "files" / "shipments" / "bad.parquet")
    with pytest.raises(PipelineFailed) as caught:
        load(ShopFiles, files_env)
    assert str(caught.value).startswith("pipeline 'shop_files' failed in extract: bad.parquet: column shipment_id cannot be read as int64 (")


def test_an_extra_column_of_nanosecond_timestamps_loads_as_microseconds_or_fails_naming_file_and_column(files_env):
    """pandas and Spark write Parquet timestamps in nanoseconds; the warehouse keeps microseconds.
    Whole microseconds load; finer digits fail the file as a declared column's do, naming the file
    and the column; delivered again, it loads."""
    def scans(name, nanoseconds):
        ids = list(range(len(nanoseconds)))
        table = pa.table({"shipment_id": ids, "order_id": ids, "scanned_at": pa.array(nanoseconds, pa.timestamp("ns", tz="UTC"))})
        pq.write_table(table, files_env.samples / "files" / "shipments" / name)

    scans("a.parquet", [1_700_000_000_123_456_000])
    assert load(ShopFiles, files_env).rows == {"shipments": 1}
    assert shipments(files_env, "shipment_id, epoch_us(scanned_at)") == [(0, 1_700_000_000_123_456)]
    scans("b.parquet", [1_700_000_000_123_456_789])
    with pytest.raises(PipelineFailed) as caught:
        load(ShopFiles, files_env)
    assert str(caught.value).startswith(
        "pipeline 'shop_files' failed in extract: b.parquet: column scanned_at cannot be read as timestamp[us, tz=UTC] ("
    )
    assert shipments(files_env, "shipment_id") == [(0,)]  # nothing of it loaded
    scans("b.parquet", [1_700_000_000_123_457_000])  # delivered again, in whole microseconds
    assert load(ShopFiles, files_env).rows == {"shipments": 1}


def test_an_empty_sheet_fails_instead_of_emptying_the_table(local_env, server):
    assert load(ShopSheets, local_env).rows == {"sales_targets": 36}
    server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]["sales_targets"] = []
    with pytest.raises(PipelineFailed) as caught:
        load(ShopSheets, local_env)
    assert str(caught.value) == (
        "pipeline 'shop_sheets' failed in extract: sheet 'sales_targets' is empty; refusing to replace its table with nothing"
    )
    assert query(local_env.datalake.path, "select count(*) from raw_shop_sheets.sales_targets") == [(36,)]


def test_a_sheet_without_a_header_row_fails(local_env, server):
    rows = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]["sales_targets"]
    server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]["sales_targets"] = rows[1:]
    with pytest.raises(PipelineFailed) as caught:
        load(ShopSheets, local_env)
    first = rows[1]
    assert str(caught.value) == f"pipeline 'shop_sheets' failed in extract: sheet 'sales_targets' has no header row: its first row is {first!r}"


def test_a_sheet_value_of_another_type_fails_by_contract(local_env, server):
    load(ShopSheets, local_env)
    sheet = server.store.spreadsheets[SAMPLE_SPREADSHEET_ID]["sales_targets"]
    sheet[5] = [sheet[5][0], sheet[5][1], "n/a", sheet[5][3]]
    with pytest.raises(PipelineFailed) as caught:
        load(ShopSheets, local_env)
    assert str(caught.value) == (
        "pipeline 'shop_sheets' failed in normalize: schema contract: sales_targets.target_revenue received a text value; "
        f"its data type is frozen (if the change is meant, `toltek run shop_sheets --refresh` reloads the pipeline's tables whole); "
        f"its data is kept in {local_env.work_dir.parent / 'failed' / 'shop_sheets'} "
        "and the pipeline's state rolled back: fix the source and run again"
    )
    sheet[5] = [sheet[5][0], sheet[5][1], 1234.5, sheet[5][3]]  # fixed at the source: the next run loads
    assert load(ShopSheets, local_env).rows == {"sales_targets": 36}
    assert query(local_env.datalake.path, "select count(*) from raw_shop_sheets.sales_targets where target_revenue = 1234.5") == [(1,)]


def test_json_that_does_not_match_the_data_selector_fails(local_env, server):
    server.inject(Fault(path="/shop/v1/products", body={"items": [{"id": 1}]}, times=-1))
    with pytest.raises(PipelineFailed) as caught:
        load(ShopApi, local_env)
    assert str(caught.value) == (
        f"pipeline 'shop_api' failed in extract: response from GET {server.url}/shop/v1/products has no 'data' (it has: items)"
    )


def test_an_api_value_of_another_type_fails_by_contract(local_env, server):
    load(ShopApi, local_env)
    order = dict(server.store.api["orders"][7], total_amount="lots", updated_at="2026-09-01T00:00:00Z")
    server.store.upsert("orders", order)
    with pytest.raises(PipelineFailed) as caught:
        load(ShopApi, local_env)
    assert str(caught.value) == (
        "pipeline 'shop_api' failed in normalize: schema contract: orders.total_amount received a text value (row id 7); "
        f"its data type is frozen (if the change is meant, `toltek run shop_api --refresh` reloads the pipeline's tables whole); "
        f"its data is kept in {local_env.work_dir.parent / 'failed' / 'shop_api'} "
        "and the pipeline's state rolled back: fix the source and run again"
    )
    assert query(local_env.datalake.path, "select total_amount from raw_shop_api.orders where id = 7") != [("lots",)]
    # Fixed at the source: the refused package is gone, so the next run loads the order.
    server.store.upsert("orders", dict(order, total_amount=99.5))
    load(ShopApi, local_env)
    assert query(local_env.datalake.path, "select total_amount from raw_shop_api.orders where id = 7") == [(99.5,)]


def test_an_append_resource_is_refused_unless_declared(local_env, registry):
    import dlt

    from pipelines.base import Pipeline
    from pipelines.declarations import Schedule

    class Appending(Pipeline):
        """Appends events."""

        name = "appending"
        schedule = Schedule("0 4 * * *")
        dataset = "raw_appending"

        def source(self, env):
            return dlt.resource([{"id": 1}], name="events", write_disposition="append")

    with pytest.raises(PipelineFailed, match=r"resource 'events' uses write disposition 'append'; allowed: merge, replace"):
        load(Appending, local_env)
    Appending.write_dispositions = ("merge", "replace", "append")
    assert load(Appending, local_env).rows == {"events": 1}


@pytest.mark.parametrize(
    ("type_", "value"),
    [(pa.timestamp("us"), 1_780_304_400_000_000), (pa.timestamp("ns"), 1_780_304_400_000_000_000), (pa.date32(), 20_605)],
    ids=["naive-us", "naive-ns-pandas", "date"],
)
def test_a_parquet_timestamp_without_a_zone_fails_naming_file_and_column(files_env, type_, value):
    """Parquet's `isAdjustedToUTC=false` (pandas' naive datetimes) holds local times of an unknown
    zone; pyarrow casts them as if UTC, so 09:00 in Amsterdam loaded as 09:00Z. Refused as a CSV
    timestamp without a zone is; the file written with its zone loads."""
    folder = files_env.samples / "files" / "shipments"
    table = pa.table({"shipment_id": [1], "order_id": [1], "shipped_at": pa.array([value], pa.int32() if pa.types.is_date(type_) else pa.int64()).cast(type_)})
    pq.write_table(table, folder / "local.parquet")
    with pytest.raises(PipelineFailed) as caught:
        load(ShopFiles, files_env)
    assert str(caught.value) == (
        f"pipeline 'shop_files' failed in extract: local.parquet: column shipped_at holds {type_} values without a time zone "
        "(local times), expected timestamp[us, tz=UTC]: write them in UTC or with their zone"
    )
    zoned = table.set_column(2, "shipped_at", pa.array([1_780_297_200_000_000], pa.timestamp("us", tz="Europe/Amsterdam")))
    pq.write_table(zoned, folder / "local.parquet")
    assert load(ShopFiles, files_env).rows == {"shipments": 1}
    assert shipments(files_env, "shipment_id, epoch_us(shipped_at)") == [(1, 1_780_297_200_000_000)]
