"""Files in Cloud Storage (or a local folder): the warehouse partner's shipment drops.

dlt's `filesystem` source lists `gs://…` in the cloud and `file://…` locally, incrementally by
modification date, so a run reads only files that changed since the last one. CSV and Parquet
files are read straight into Arrow tables of one declared schema (the fast path: no Python rows)
and merged on `shipment_id`, so a re-delivered file replaces rather than duplicates. Rows that
break the contract (`contract.py`) land in `discarded_rows` with their reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import dlt
import pyarrow as pa
from dlt.sources import DltResource
from dlt.sources.filesystem import FileItemDict, filesystem

from pipelines.shop_files.contract import read_file
from pipelines.shop_files.settings import FILE_GLOB, SHIPMENTS_SCHEMA

DISCARDED = dlt.mark.make_hints(
    table_name="discarded_rows", write_disposition="merge", primary_key=["source_file", "row_ref"]
)


@dlt.source(name="shop_files", section="shop_files")
def shop_files(bucket_url: str = dlt.config.value, file_glob: str = FILE_GLOB) -> Iterable[DltResource]:
    files = filesystem(
        bucket_url=bucket_url,
        file_glob=file_glob,
        incremental=dlt.sources.incremental("modification_date"),
    )

    @dlt.transformer(name="shipments", primary_key="shipment_id", write_disposition="merge")
    def shipments(items: list[FileItemDict]) -> Iterator[object]:
        for item in items:
            read = read_file(item["file_name"], item.read_bytes(), SHIPMENTS_SCHEMA)
            if read.table is not None and read.table.num_rows:
                yield read.table
            if read.discarded:
                yield dlt.mark.with_hints(read.discarded, DISCARDED, create_table_variant=True)

    yield files | shipments
