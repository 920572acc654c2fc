"""Files in Cloud Storage (or a local folder): the warehouse partner's shipment drops.

dlt's `filesystem` source lists `gs://…` in the cloud and `file://…` locally. A run reads the
files it has not read before, or that changed since (name, modification time and size, kept in the
pipeline's state): a late file with an old modification time is read once, like any other. CSV
and Parquet files are read straight into Arrow tables of one declared schema
(`pipelines/sources/typed.py`: no Python rows, no pandas), each row carrying its file's name and
modification time, written into one Parquet load file per listing page of up to 100 files
(two files read at a time) that dlt imports as it is, and merged on (`shipment_id`, file): a re-delivered file replaces its own rows,
and every delivered version of a shipment is kept, so the staging model can pick the newest
(latest modification time, then file name) however the files arrived. A shipment listed twice in
one file is kept once (its last row). Rows that break the contract
(`pipelines/sources/contract.py`, read row by row only for a CSV file the fast path declines)
land in `discarded_rows` with their reason.

The merge deletes the rows of the files a load holds (`_file_name` in the staged rows) and inserts
the staged rows as they are: they are unique per (`shipment_id`, file) already, so the destination
neither matches every key nor ranks duplicates. The reading is shared with every files source:
`pipelines/sources/files.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import dlt
from dlt.sources import DltResource
from dlt.sources.filesystem import FileItemDict, filesystem

from pipelines.shop_files.settings import FILE_GLOB, SHIPMENTS_SCHEMA
from pipelines.sources.files import FILE_NAME, by_file, read_new_files


@dlt.source(name="shop_files", section="shop_files")
def shop_files(bucket_url: str = dlt.config.value, file_glob: str = FILE_GLOB) -> Iterable[DltResource]:
    files = filesystem(bucket_url=bucket_url, file_glob=file_glob)

    # A file read again replaces all of its own rows (rows it no longer holds go too): the merge
    # deletes by file, and the staged rows need no ranking (unique per key already).
    @dlt.transformer(name="shipments", primary_key=["shipment_id", FILE_NAME], write_disposition=by_file())
    def shipments(items: list[FileItemDict]) -> Iterator[object]:
        yield from read_new_files(items, SHIPMENTS_SCHEMA, key="shipment_id")

    yield files | shipments
