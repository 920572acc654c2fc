"""Files in Cloud Storage (or a local folder): the warehouse partner's shipment drops.

dlt's `filesystem` source lists `gs://…` in the cloud and `file://…` locally. A run reads the
files it has not read before, or that changed since (name, modification time and size, kept in the
pipeline's state): a late file with an old modification time is read once, like any other. CSV
and Parquet files are read straight into Arrow tables of one declared schema (`typed.py`: no Python
rows, no pandas), each row carrying its file's name and modification time, and merged on
(`shipment_id`, file): a re-delivered file replaces its own rows, and every delivered version of a
shipment is kept, so the staging model can pick the newest (latest modification time, then file
name) however the files arrived. A shipment listed twice in one file is kept once (its last row).
Rows that break the contract (`contract.py`, read row by row only for a CSV file the fast path
declines) land in `discarded_rows` with their reason.

The merge deletes the rows of the files a load holds (`_file_name` in the staged rows) and inserts
the staged rows as they are: they are unique per (`shipment_id`, file) already, so the destination
neither matches every key nor ranks duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.sources import DltResource
from dlt.sources.filesystem import FileItemDict, filesystem

from pipelines import arrow
from pipelines.shop_files.contract import read_file
from pipelines.shop_files.settings import FILE_GLOB, SHIPMENTS_SCHEMA

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


def file_version(item: FileItemDict) -> str:
    """What identifies one delivery of a file: its modification time and size."""
    return f"{item['modification_date'].isoformat()}|{item['size_in_bytes']}"


def with_file_columns(table: pa.Table, item: FileItemDict) -> pa.Table:
    """The file's name and modification time on every row: which version of a shipment is newest."""
    rows = table.num_rows
    names = pa.repeat(arrow.text(item["file_name"]), rows)
    modified = pa.repeat(arrow.timestamp(item["modification_date"]), rows)
    return table.append_column(pa.field(FILE_NAME, pa.string(), nullable=False), names).append_column(
        pa.field(FILE_MODIFIED_AT, pa.timestamp("us", tz="UTC")), modified
    )


def last_per_shipment(table: pa.Table) -> pa.Table:
    """`table` with each `shipment_id` once: its last row in the file."""
    ids = table["shipment_id"].combine_chunks()
    if table.num_rows < 2 or pc.all(pc.greater(ids[1:], ids[:-1])).as_py():
        return table  # ascending: unique (the usual export, checked without hashing)
    if len(pc.unique(ids)) == table.num_rows:
        return table
    last = pa.table({"id": ids, "at": arrow.positions(table.num_rows)}).group_by("id", use_threads=False).aggregate([("at", "max")])
    keep = last["at_max"]
    return table.take(keep.take(pc.sort_indices(keep)))  # in file order


@dlt.source(name="shop_files", section="shop_files")
def shop_files(bucket_url: str = dlt.config.value, file_glob: str = FILE_GLOB) -> Iterable[DltResource]:
    files = filesystem(bucket_url=bucket_url, file_glob=file_glob)

    @dlt.transformer(
        name="shipments",
        primary_key=["shipment_id", FILE_NAME],
        # A file read again replaces all of its own rows (rows it no longer holds go too): the
        # merge deletes by file (the scope stands for a merge key on the file name), and the staged
        # rows need no ranking (unique per key already).
        write_disposition={
            "disposition": "merge",
            "strategy": "delete-insert",
            "destination_scope": f"{FILE_NAME} IN (SELECT {FILE_NAME} FROM {{staging_table}})",
            "deduplicated": True,
        },
    )
    def shipments(items: list[FileItemDict]) -> Iterator[object]:
        state = dlt.current.resource_state()
        read_before, discarded_before = state.setdefault("files", {}), state.setdefault("discarded", {})
        for item in items:
            name, version = item["file_name"], file_version(item)
            if read_before.get(name) == version:
                continue
            read = read_file(name, item.read_bytes(), SHIPMENTS_SCHEMA)
            if read.table is not None and read.table.num_rows:
                yield with_file_columns(last_per_shipment(read.table), item)
            refs = [d["row_ref"] for d in read.discarded]
            resolved = [{"source_file": name, "row_ref": ref, "_resolved": True} for ref in discarded_before.get(name, []) if ref not in refs]
            if read.discarded or resolved:
                yield dlt.mark.with_hints([*read.discarded, *resolved], DISCARDED, create_table_variant=True)
            read_before[name] = version
            if refs:
                discarded_before[name] = refs
            else:
                discarded_before.pop(name, None)

    yield files | shipments
