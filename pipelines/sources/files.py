"""Landed files (Cloud Storage, or a local folder) read once per delivery under a contract.

Shared by every files source (see `pipelines/shop_files/source.py`). dlt's `filesystem` source
lists `gs://…` in the cloud and `file://…` locally; `read_new_files` reads the files it has not
read before, or that changed since (name, modification time and size, kept in the resource's
state), so a late file with an old modification time is read once, like any other. CSV and
Parquet files are read straight into Arrow tables of one declared schema (`contract.py`,
`typed.py`), each row carrying its file's name and modification time; a key listed twice in one
file is kept once (its last row). Rows that break the contract land in `discarded_rows` with
their reason.

The rows go into Parquet load files that dlt imports into the load package as they are
(`load_files.py`: one per page of up to 100 files that dlt's `filesystem` lists, so one load job
per page, not one per file). Files are read on `READERS` threads (a large one alone); a file with
columns the contract does not declare goes through dlt's writer instead, so the pipeline's schema
contract rules on them. Once such columns are in the table, the load files of later runs carry
them as nulls of the table's types, in the table's order (dlt's own `normalize_py_arrow_item`),
so dlt still imports them as written rather than rewriting every one of them with its own writer
(unless one is nested: typed nulls would not read back as dlt's `json`, and dlt then rewrites).

Declare the table with `write_disposition=by_file()` and a primary key of (key, `_file_name`): a
re-delivered file replaces all of its own rows (rows it no longer holds go too), and every
delivered version of a key is kept, so a staging model can pick the newest (latest modification
time, then file name). The merge deletes the rows of the files a load holds and inserts the staged
rows as they are: they are unique per (key, file) already, so the destination neither matches
every key nor ranks duplicates.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.sources.filesystem import FileItemDict

from pipelines import arrow, naming
from pipelines.sources.contract import read_file
from pipelines.sources.load_files import LoadFiles, TableColumns, writer_options

DISCARDED = dlt.mark.make_hints(
    table_name="discarded_rows",
    write_disposition="merge",
    primary_key=["source_file", "row_ref"],
    # A file read again (fixed, re-delivered) replaces its old entries; a row it no longer
    # discards is deleted from `discarded_rows` (a `_resolved` marker when none remain).
    merge_key="source_file",
    columns={"_resolved": {"data_type": "bool", "hard_delete": True}},
)


FILE_NAME, FILE_MODIFIED_AT = "_file_name", "_file_modified_at"
READERS = 2  # files read at once: a Cloud Run task of the files pipelines has 2 vCPUs
READ_ALONE_BYTES = 32 * 2**20  # larger files are read one at a time (a file's bytes and its table held at once)


def by_file() -> dict[str, object]:
    """The write disposition of a table of landed rows: a file read again replaces all of its own
    rows (the scope stands for a merge key on the file name), and the staged rows need no ranking."""
    return {
        "disposition": "merge",
        "strategy": "delete-insert",
        "destination_scope": f"{FILE_NAME} IN (SELECT {FILE_NAME} FROM {{staging_table}})",
        "deduplicated": True,
    }


def file_key(item: FileItemDict) -> str:
    """Which file it is: its path under the listed folder (`2026/06/drop.csv`), not its base name,
    so files of one name in two subfolders stay two files (the same for a file at the top)."""
    return item["relative_path"]


def is_marker(item: FileItemDict) -> bool:
    """Whether the file, or a folder it is in, is named with a leading `_` or `.`: the markers and
    side files of the tools that write drops (Spark's `_SUCCESS`, `_committed_…`, `.crc` files,
    `_temporary/`), which Spark, Hive and pyarrow's datasets skip the same way. Not data."""
    return any(part.startswith(("_", ".")) for part in file_key(item).split("/"))


def file_version(item: FileItemDict) -> str:
    """What identifies one delivery of a file: its modification time and size."""
    return f"{item['modification_date'].isoformat()}|{item['size_in_bytes']}"


def with_file_columns(table: pa.Table, item: FileItemDict) -> pa.Table:
    """The file's name and modification time on every row: which version of a key is newest."""
    rows = table.num_rows
    names = arrow.constant_text(file_key(item), rows)
    modified = pa.repeat(arrow.timestamp(item["modification_date"]), rows)
    return table.append_column(pa.field(FILE_NAME, names.type, nullable=False), names).append_column(
        pa.field(FILE_MODIFIED_AT, pa.timestamp("us", tz="UTC")), modified
    )


def last_per_key(table: pa.Table, key: str) -> pa.Table:
    """`table` with each `key` once: its last row in the file."""
    ids = table[key].combine_chunks()
    if table.num_rows < 2 or pc.all(pc.greater(ids[1:], ids[:-1])).as_py():
        return table  # ascending: unique (the usual export, checked without hashing)
    if len(pc.unique(ids)) == table.num_rows:
        return table
    last = pa.table({"id": ids, "at": arrow.positions(table.num_rows)}).group_by("id", use_threads=False).aggregate([("at", "max")])
    keep = last["at_max"]
    return table.take(keep.take(pc.sort_indices(keep)))  # in file order


@dataclass
class _Landed:
    """One file read under the contract (its rows already in the load files, or its table when it
    has extra columns: dlt's writer then applies the schema contract to them), and the rows it
    discarded."""

    item: FileItemDict
    discarded: list[dict]
    table: pa.Table | None = None


def _read(item: FileItemDict, schema: pa.Schema, key: str, sink: LoadFiles, load_id: str, table_columns: TableColumns | None) -> _Landed:
    """Read one file and add its rows to the run's load files (on a reader thread)."""
    read = read_file(file_key(item), item.read_bytes(), schema)
    landed = _Landed(item, read.discarded)
    if read.table is None or not read.table.num_rows:
        return landed
    table = with_file_columns(last_per_key(read.table, key), item)
    if set(read.table.column_names) - set(schema.names):  # extra columns
        landed.table = table
        return landed
    table = arrow.with_constant_text(table, arrow.LOAD_ID, load_id)
    sink.add(table if table_columns is None else table_columns.of(table))
    return landed


def _in_order(pool: ThreadPoolExecutor, work: Callable[..., _Landed], items: list[FileItemDict]) -> Iterator[_Landed]:
    """`work(item)` of each item on the pool, yielded in the items' order, with at most
    one more file queued than there are readers (bounded memory, whatever the page size). A file
    over `READ_ALONE_BYTES` is read alone, as it would be on one thread: its Arrow table and bytes
    are the run's peak memory, so no other file is held beside it."""
    pending: deque[Future[_Landed]] = deque()
    try:
        for item in items:
            alone = item["size_in_bytes"] > READ_ALONE_BYTES
            while alone and pending:
                yield pending.popleft().result()
            pending.append(pool.submit(work, item))
            while pending and (alone or len(pending) > READERS):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def read_new_files(items: Iterable[FileItemDict], schema: pa.Schema, key: str) -> Iterator[object]:
    """The body of a `@dlt.transformer` over `filesystem(...)`: the rows of each file not read
    before (or changed since) under `schema`, in Parquet load files, and its discarded rows.

    Files are read and written on `READERS` threads (pyarrow releases the GIL); the state and what
    is handed to dlt stay on the extracting thread, in the files' order."""
    state = dlt.current.resource_state()
    read_before, discarded_before = state.setdefault("files", {}), state.setdefault("discarded", {})
    todo = [item for item in items if not is_marker(item) and read_before.get(file_key(item)) != file_version(item)]
    if not todo:
        return
    # A folder of this call's own: dlt runs the calls for its listing pages round robin, so another
    # page's call may start while this one waits at a yield. The runner empties `scratch` before
    # each extract (what a killed run left there is stale).
    scratch = Path(dlt.current.pipeline().working_dir) / naming.SCRATCH_DIR
    scratch.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="landed-", dir=scratch))
    sink = LoadFiles(folder, writer_options())
    load_id = dlt.current.load_package_state()["load_id"]
    work = partial(_read, schema=schema, key=key, sink=sink, load_id=load_id, table_columns=TableColumns.evolved({*schema.names, FILE_NAME, FILE_MODIFIED_AT, arrow.LOAD_ID}))
    try:
        with ThreadPoolExecutor(READERS, thread_name_prefix="landed-files") as pool:
            for landed in _in_order(pool, work, todo):
                yield from _imports(sink.finished())
                name = file_key(landed.item)
                if landed.table is not None:
                    yield landed.table
                refs = [d["row_ref"] for d in landed.discarded]
                resolved = [{"source_file": name, "row_ref": ref, "_resolved": True} for ref in discarded_before.get(name, []) if ref not in refs]
                if landed.discarded or resolved:
                    yield dlt.mark.with_hints([*landed.discarded, *resolved], DISCARDED, create_table_variant=True)
                read_before[name] = file_version(landed.item)
                if refs:
                    discarded_before[name] = refs
                else:
                    discarded_before.pop(name, None)
        yield from _imports(sink.close())
    finally:
        sink.abandon()
        shutil.rmtree(folder, ignore_errors=True)


def _imports(done: list[tuple[Path, int, pa.Table]]) -> Iterator[object]:
    """Finished load files, for dlt to hard-link into the load package (copied if it cannot be)."""
    for path, rows, columns in done:
        yield dlt.mark.with_file_import(str(path), "parquet", rows, hints=columns)
