"""The files source writes each landed file's rows as one Parquet load file, on reader threads,
and dlt imports it into the load package: many files in one run, one failing among them, and what
a killed run leaves behind."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import query
from source_drops import HEADER, T0, drop, files_env, raw, row  # noqa: F401 - files_env is a fixture

from pipelines import naming
from pipelines.errors import PipelineFailed
from pipelines.loading import load
from pipelines.shop_files.pipeline import ShopFiles
from pipelines.sources.files import READERS


def _working_dir(env):
    return env.work_dir / naming.dlt_pipeline_name(ShopFiles.name)


def _parquet_drop(env, name: str, shipments: list[int], mtime: float) -> None:
    table = pa.table(
        {
            "shipment_id": pa.array(shipments, pa.int64()),
            "order_id": pa.array([s - 100 for s in shipments], pa.int64()),
            "carrier": pa.array(["dhl"] * len(shipments)),
        }
    )
    path = env.samples / "files" / "shipments" / name
    pq.write_table(table, path)
    os.utime(path, (mtime, mtime))


def _many_drops(env, count: int) -> list[int]:
    """`count` files, CSV and Parquet alternating, one shipment each, in name order."""
    shipments = []
    for i in range(count):
        shipment = 10_000 + i
        if i % 2:
            _parquet_drop(env, f"drop_{i:02d}.parquet", [shipment], T0 + i)
        else:
            drop(env, f"drop_{i:02d}.csv", f"{HEADER}\n{row(shipment, 'ups')}\n", T0 + i)
        shipments.append(shipment)
    return shipments


def _load_files(env) -> list:
    return sorted((_working_dir(env) / "load" / "loaded").glob("*/completed_jobs/shipments.*.parquet"))


def test_more_files_than_readers_all_load_once_each_with_its_own_name(files_env):
    count = 3 * READERS + 1
    shipments = _many_drops(files_env, count)
    drop(files_env, "drop_50_empty.csv", HEADER + "\n", T0)  # no rows: no load file
    drop(files_env, "drop_51_extra.csv", f"{HEADER},note\n{row(20_000, 'dpd')},fragile\n", T0)  # an added column
    result = load(ShopFiles, files_env)
    assert result.rows == {"shipments": count + 1}
    loaded = raw(files_env)
    assert [r[0] for r in loaded] == [*shipments, 20_000]
    assert {r[0]: r[2] for r in loaded}[10_001] == "drop_01.parquet"
    assert query(files_env.datalake.path, "select note from raw_shop_files.shipments where note is not null") == [("fragile",)]
    assert not (_working_dir(files_env) / "landed_files").exists()
    assert _load_files(files_env) == []  # a completed package keeps no load files
    assert load(ShopFiles, files_env).rows == {}  # nothing new


def test_a_run_of_many_files_is_one_load_file_that_dictionary_encodes_only_its_text_columns(files_env, monkeypatch):
    """One load job per run however many files land (BigQuery allows 1,500 load jobs a table a day)."""
    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "false")  # keep them to look at
    _many_drops(files_env, 3 * READERS + 1)
    assert load(ShopFiles, files_env).rows == {"shipments": 3 * READERS + 1}
    (path,) = _load_files(files_env)
    meta = pq.ParquetFile(path).metadata
    encodings = {meta.schema.column(i).name: meta.row_group(0).column(i).encodings for i in range(meta.num_columns)}
    dictionary = {name for name, found in encodings.items() if any("DICTIONARY" in e for e in found)}
    assert dictionary == {"carrier", "_file_name", "_dlt_load_id"}
    assert meta.num_row_groups == 1  # small files gathered
    assert set(pq.read_table(path).column("_dlt_load_id").to_pylist()) == {path.parent.parent.name}
    assert meta.row_group(0).column(0).compression == "UNCOMPRESSED"  # locally: written and read once on one disk


def test_load_files_take_dlts_parquet_writer_settings_and_its_default_is_snappy(files_env, monkeypatch):
    from pipelines.sources import load_files

    monkeypatch.delenv("DATA_WRITER__COMPRESSION", raising=False)
    for local, default in ((False, "snappy"), (True, "none")):  # BigQuery gets them over the network
        monkeypatch.setattr(load_files, "_local_destination", lambda local=local: local)
        assert load_files.writer_options()["compression"] == default
        monkeypatch.setenv("DATA_WRITER__COMPRESSION", "snappy")
        assert load_files.writer_options()["compression"] == "snappy"  # set, even to dlt's default: it wins
        monkeypatch.delenv("DATA_WRITER__COMPRESSION")
    monkeypatch.undo()
    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "false")
    monkeypatch.setenv("DATA_WRITER__COMPRESSION", "zstd")  # what a team sets in dlt's own config
    monkeypatch.setenv("DATA_WRITER__VERSION", "2.6")
    _many_drops(files_env, 2)
    assert load(ShopFiles, files_env).rows == {"shipments": 2}
    (path,) = _load_files(files_env)
    meta = pq.ParquetFile(path).metadata
    assert (meta.row_group(0).column(0).compression, meta.format_version) == ("ZSTD", "2.6")


def test_load_files_roll_over_past_their_size_and_every_row_loads_once(files_env, monkeypatch):
    from pipelines.sources import load_files

    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "false")
    monkeypatch.setattr(load_files, "BYTES_PER_GROUP", 1)  # every table its own row group
    monkeypatch.setattr(load_files, "ROWS_PER_FILE", 3)
    shipments = _many_drops(files_env, 5)
    _parquet_drop(files_env, "drop_09.parquet", [40_000, 40_001, 40_002, 40_003], T0)
    assert load(ShopFiles, files_env).rows == {"shipments": 9}
    assert sorted(r[0] for r in raw(files_env)) == [*shipments, 40_000, 40_001, 40_002, 40_003]
    sizes = [pq.ParquetFile(p).metadata.num_rows for p in _load_files(files_env)]
    assert sum(sizes) == 9 and len(sizes) >= 2 and all(size <= 2 + 4 for size in sizes)


def test_a_table_of_other_columns_starts_a_new_load_file(tmp_path):
    from pipelines.sources.load_files import LoadFiles

    sink = LoadFiles(tmp_path, {})
    sink.add(pa.table({"a": pa.array([1], pa.int64())}))
    sink.add(pa.table({"a": pa.array([2], pa.int64())}))
    sink.add(pa.table({"a": pa.array([3], pa.int64()), "b": pa.array(["x"])}))
    done = sink.close()
    assert [(rows, columns.column_names) for _, rows, columns in done] == [(2, ["a"]), (1, ["a", "b"])]
    assert [pq.read_table(path).to_pylist() for path, _, _ in done] == [[{"a": 1}, {"a": 2}], [{"a": 3, "b": "x"}]]
    assert sink.close() == []  # each file is given once


def test_a_bad_file_among_many_fails_the_run_naming_it_and_loads_nothing_until_fixed(files_env):
    count = 2 * READERS + 2
    shipments = _many_drops(files_env, count)
    bad = files_env.samples / "files" / "shipments" / "drop_03.parquet"
    whole = bad.read_bytes()
    bad.write_bytes(whole[: len(whole) // 2])  # an upload cut off half way
    with pytest.raises(PipelineFailed, match=r"^pipeline 'shop_files' failed in extract: drop_03.parquet is not a readable Parquet file \("):
        load(ShopFiles, files_env)
    assert not files_env.datalake.path.exists() or not query(
        files_env.datalake.path, "select * from information_schema.tables where table_name = 'shipments'"
    )
    assert not (_working_dir(files_env) / "landed_files").exists()
    bad.write_bytes(whole)
    assert load(ShopFiles, files_env).rows == {"shipments": count}
    assert [r[0] for r in raw(files_env)] == shipments


def test_what_a_killed_run_left_in_the_scratch_folder_is_removed_and_never_loaded(files_env):
    drop(files_env, "a.csv", f"{HEADER}\n{row(9001, 'ups')}\n", T0)
    load(ShopFiles, files_env)
    left = _working_dir(files_env) / naming.SCRATCH_DIR / "landed-killed"
    left.mkdir(parents=True)
    pq.write_table(pa.table({"shipment_id": [666], "order_id": [1]}), left / "1.parquet")
    assert load(ShopFiles, files_env).rows == {}  # nothing new: the folder goes all the same
    assert not left.exists()
    left.mkdir(parents=True)
    pq.write_table(pa.table({"shipment_id": [666], "order_id": [1]}), left / "1.parquet")
    drop(files_env, "b.csv", f"{HEADER}\n{row(9002, 'dhl')}\n", T0 + 60)
    assert load(ShopFiles, files_env).rows == {"shipments": 1}
    assert [r[0] for r in raw(files_env)] == [9001, 9002]
    assert list((_working_dir(files_env) / naming.SCRATCH_DIR).iterdir()) == []


def _watch_reads(monkeypatch, barrier=None):
    """Record when each file's read starts and ends; with `barrier`, each read waits there for the
    other reader (a read that never meets it fails the run after the barrier's timeout)."""
    import threading

    from pipelines.sources import files

    events, lock, read = [], threading.Lock(), files.read_file

    def watched(name, data, schema):
        with lock:
            events.append(("start", name))
        if barrier is not None:
            barrier.wait()
        try:
            return read(name, data, schema)
        finally:
            with lock:
                events.append(("end", name))

    monkeypatch.setattr(files, "read_file", watched)
    return events


def test_two_files_are_read_at_once(files_env, monkeypatch):
    import threading

    assert READERS == 2
    events = _watch_reads(monkeypatch, threading.Barrier(READERS, timeout=30))
    _many_drops(files_env, 2)
    assert load(ShopFiles, files_env).rows == {"shipments": 2}
    assert [e[0] for e in events] == ["start", "start", "end", "end"]


def test_a_large_file_is_read_alone(files_env, monkeypatch):
    from pipelines.sources import files

    events = _watch_reads(monkeypatch)
    _many_drops(files_env, 4)
    _parquet_drop(files_env, "drop_01.parquet", list(range(30_000, 30_200)), T0 + 1)
    big = files_env.samples / "files" / "shipments" / "drop_01.parquet"
    monkeypatch.setattr(files, "READ_ALONE_BYTES", big.stat().st_size - 1)  # only drop_01 is "large"
    for other in ("drop_00.csv", "drop_02.csv", "drop_03.parquet"):
        assert (files_env.samples / "files" / "shipments" / other).stat().st_size < big.stat().st_size
    assert load(ShopFiles, files_env).rows == {"shipments": 203}
    # (in the order the listing gives) every read started before drop_01's has ended when it
    # starts, and no other starts before it ends
    at = events.index(("start", "drop_01.parquet"))
    assert sorted(n for e, n in events[:at] if e == "start") == sorted(n for e, n in events[:at] if e == "end")
    assert events[at + 1] == ("end", "drop_01.parquet")
    assert len(events) == 8


def test_more_files_than_a_listing_page_load_once_each_in_one_load_file_per_page(files_env, monkeypatch):
    """dlt's `filesystem` hands the files over in pages of 100, and dlt runs the transformer's calls
    for them round robin: a call that yields discarded rows half way lets the next page's call
    start. Every row must still load exactly once, and each page is one load file."""
    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "false")
    count = 130
    for i in range(count):
        bad = "x,1,ups,,,1\n" if i % 10 == 0 else ""  # a discarded row in every tenth file
        drop(files_env, f"drop_{i:03d}.csv", f"{HEADER}\n{row(50_000 + i, 'ups')}\n{bad}", T0 + i)
    result = load(ShopFiles, files_env)
    assert (result.rows["shipments"], result.discarded) == (count, 13)
    assert [r[0] for r in raw(files_env)] == [50_000 + i for i in range(count)]
    assert sorted(pq.ParquetFile(p).metadata.num_rows for p in _load_files(files_env)) == [30, 100]
    assert load(ShopFiles, files_env).rows == {}


def _dictionary_columns(path) -> set[str]:
    meta = pq.ParquetFile(path).metadata
    return {
        meta.schema.column(i).name
        for i in range(meta.num_columns)
        if any("DICTIONARY" in e for e in meta.row_group(0).column(i).encodings)
    }


def test_after_a_partner_adds_columns_later_files_still_load_as_written_with_those_columns_null(files_env, monkeypatch):
    """Once a file has brought columns the contract does not declare (the table evolved), the
    files of later runs lack them. Their load files carry them as nulls of the table's types, in
    the table's order, so dlt still imports them as written (not rewritten with its own writer:
    that writer dictionary-encodes every column)."""
    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "false")
    drop(files_env, "a.csv", f"{HEADER}\n{row(1, 'ups')}\n", T0)
    load(ShopFiles, files_env)
    drop(files_env, "b.csv", f"{HEADER},note\n{row(2, 'dhl')},fragile\n", T0 + 60)  # a CSV extra is text
    extra = pa.table({"shipment_id": pa.array([3], pa.int64()), "order_id": pa.array([3], pa.int64()),
                      "scanned_at": pa.array([T0 * 10**6], pa.timestamp("us", tz="UTC")), "pieces": pa.array([4], pa.int32())})
    pq.write_table(extra, files_env.samples / "files" / "shipments" / "c.parquet")
    os.utime(files_env.samples / "files" / "shipments" / "c.parquet", (T0 + 120, T0 + 120))
    assert load(ShopFiles, files_env).rows == {"shipments": 2}
    before = set(_load_files(files_env))

    _many_drops(files_env, 3)  # the contract's columns only, CSV and Parquet
    assert load(ShopFiles, files_env).rows == {"shipments": 3}
    (path,) = set(_load_files(files_env)) - before
    assert _dictionary_columns(path) == {"carrier", "_file_name", "_dlt_load_id", "note"}  # its text only: written by the files source, imported as is
    table_columns = [c[0] for c in query(files_env.datalake.path, "select column_name from information_schema.columns "
                                         "where table_schema = 'raw_shop_files' and table_name = 'shipments' order by ordinal_position")]
    written = pq.read_table(path)
    assert written.column_names == table_columns  # the table's order, evolved columns included
    assert {c: written.column(c).null_count for c in ("note", "scanned_at", "pieces")} == {"note": 3, "scanned_at": 3, "pieces": 3}
    got = query(files_env.datalake.path, "select shipment_id, note, scanned_at is null, pieces from raw_shop_files.shipments order by shipment_id")
    assert got == [(1, None, True, None), (2, "fragile", True, None), (3, None, False, 4),
                   (10_000, None, True, None), (10_001, None, True, None), (10_002, None, True, None)]


@pytest.mark.parametrize("extra", [pa.array([{"a": 1, "b": "z"}]), pa.array([[1, 2]])], ids=["struct", "list"])
def test_after_a_partner_adds_a_nested_column_later_files_still_load(files_env, extra):
    """A nested column is `json` in dlt's table, which a padded null column would not say (it
    would read as text, a type change the frozen contract refuses on every later run): files then
    go through dlt's writer, as they did before padding existed."""
    drop(files_env, "a.csv", f"{HEADER}\n{row(1, 'ups')}\n", T0)
    load(ShopFiles, files_env)
    table = pa.table({"shipment_id": pa.array([2], pa.int64()), "order_id": pa.array([2], pa.int64()), "parcel": extra})
    pq.write_table(table, files_env.samples / "files" / "shipments" / "b.parquet")
    os.utime(files_env.samples / "files" / "shipments" / "b.parquet", (T0 + 60, T0 + 60))
    assert load(ShopFiles, files_env).rows == {"shipments": 1}
    drop(files_env, "c.csv", f"{HEADER}\n{row(3, 'ups')}\n", T0 + 120)
    assert load(ShopFiles, files_env).rows == {"shipments": 1}
    got = query(files_env.datalake.path, "select shipment_id, parcel is null from raw_shop_files.shipments order by shipment_id")
    assert got == [(1, True), (2, False), (3, True)]


@pytest.mark.parametrize("section", ["data_writer", "sources.shop_files.data_writer"])
def test_a_compression_set_in_dlts_own_config_file_wins_over_the_local_default(files_env, tmp_path, section):
    """Locally, load files are uncompressed by default; a team's `[data_writer]` in .dlt/config.toml
    (read by `toltek` from its working directory, as dlt reads it, in any section dlt reads for
    the source) says otherwise."""
    import subprocess
    import sys

    from conftest import toltek_env

    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(f'[{section}]\ncompression = "zstd"\n')
    drop(files_env, "a.csv", f"{HEADER}\n{row(1, 'ups')}\n", T0)
    for folder in ("api", "sheets"):
        (files_env.samples / folder).mkdir()
    env = toltek_env(files_env.work_dir.parent, TOLTEK_SAMPLES=str(files_env.samples), LOAD__DELETE_COMPLETED_JOBS="false")
    env.pop("DATA_WRITER__COMPRESSION", None)
    toltek = Path(sys.executable).parent / "toltek"
    done = subprocess.run([str(toltek), "run", "shop_files", "--skip-transform"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (path,) = _load_files(files_env)
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
