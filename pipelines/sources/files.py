"""Landed files (Cloud Storage, or a local folder) read once per delivery under a contract.

Shared by every files source (see `pipelines/shop_files/source.py`). dlt's `filesystem` source
lists `gs://…` in the cloud and `file://…` locally; `read_new_files` reads the files it has not
read before, or that changed since (name, modification time and size, kept in the resource's
state), so a late file with an old modification time is read once, like any other. CSV and
Parquet files are read straight into Arrow tables of one declared schema (`contract.py`,
`typed.py`), each row carrying its file's name and modification time; a key listed twice in one
file is kept once (its last row). Rows that break the contract land in `discarded_rows` with
their reason.

Declare the table with `write_disposition=by_file()` and a primary key of (key, `_file_name`): a
re-delivered file replaces all of its own rows (rows it no longer holds go too), and every
delivered version of a key is kept, so a staging model can pick the newest (latest modification
time, then file name). The merge deletes the rows of the files a load holds and inserts the staged
rows as they are: they are unique per (key, file) already, so the destination neither matches
every key nor ranks duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.sources.filesystem import FileItemDict

from pipelines import arrow
from pipelines.sources.contract import read_file

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


def by_file() -> dict[str, object]:
    """The write disposition of a table of landed rows: a file read again replaces all of its own
    rows (the scope stands for a merge key on the file name), and the staged rows need no ranking."""
    return {
        "disposition": "merge",
        "strategy": "delete-insert",
        "destination_scope": f"{FILE_NAME} IN (SELECT {FILE_NAME} FROM {{staging_table}})",
        "deduplicated": True,
    }


def file_version(item: FileItemDict) -> str:
    """What identifies one delivery of a file: its modification time and size."""
    return f"{item['modification_date'].isoformat()}|{item['size_in_bytes']}"


def with_file_columns(table: pa.Table, item: FileItemDict) -> pa.Table:
    """The file's name and modification time on every row: which version of a key is newest."""
    rows = table.num_rows
    names = arrow.constant_text(item["file_name"], rows)
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


def read_new_files(items: Iterable[FileItemDict], schema: pa.Schema, key: str) -> Iterator[object]:
    """The body of a `@dlt.transformer` over `filesystem(...)`: each file not read before (or
    changed since) as one Arrow table under `schema`, and its discarded rows."""
    state = dlt.current.resource_state()
    read_before, discarded_before = state.setdefault("files", {}), state.setdefault("discarded", {})
    for item in items:
        name, version = item["file_name"], file_version(item)
        if read_before.get(name) == version:
            continue
        read = read_file(name, item.read_bytes(), schema)
        if read.table is not None and read.table.num_rows:
            yield with_file_columns(last_per_key(read.table, key), item)
        refs = [d["row_ref"] for d in read.discarded]
        resolved = [{"source_file": name, "row_ref": ref, "_resolved": True} for ref in discarded_before.get(name, []) if ref not in refs]
        if read.discarded or resolved:
            yield dlt.mark.with_hints([*read.discarded, *resolved], DISCARDED, create_table_variant=True)
        read_before[name] = version
        if refs:
            discarded_before[name] = refs
        else:
            discarded_before.pop(name, None)
