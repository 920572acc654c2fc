"""Files in Cloud Storage (or a local folder): the warehouse partner's shipment drops.

dlt's `filesystem` source lists `gs://…` in the cloud and `file://…` locally, incrementally by
modification date, so a run reads only files that changed since the last one. CSV and Parquet
files are read straight into Arrow tables of one declared schema (the fast path: no Python rows)
and merged on `shipment_id`, so a re-delivered file replaces rather than duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import dlt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from dlt.sources import DltResource
from dlt.sources.filesystem import FileItemDict, filesystem

from pipelines.shop_files.settings import FILE_GLOB, SHIPMENTS_SCHEMA


def read_arrow(item: FileItemDict, schema: pa.Schema) -> pa.Table:
    """One CSV or Parquet file as an Arrow table of `schema` (columns selected and cast)."""
    name = item["file_name"].lower()
    with item.open(mode="rb") as f:
        if name.endswith(".csv"):
            table = pacsv.read_csv(
                f,
                convert_options=pacsv.ConvertOptions(
                    column_types=schema, include_columns=schema.names, strings_can_be_null=True
                ),
            )
        elif name.endswith(".parquet"):
            table = pq.read_table(f, columns=schema.names)
        else:
            raise ValueError(f"unsupported file type: {item['file_name']}")
    return table.select(schema.names).cast(schema)


@dlt.source(name="shop_files", section="shop_files")
def shop_files(bucket_url: str = dlt.config.value, file_glob: str = FILE_GLOB) -> Iterable[DltResource]:
    files = filesystem(
        bucket_url=bucket_url,
        file_glob=file_glob,
        incremental=dlt.sources.incremental("modification_date"),
    )

    @dlt.transformer(name="shipments", primary_key="shipment_id", write_disposition="merge")
    def shipments(items: list[FileItemDict]) -> Iterator[pa.Table]:
        for item in items:
            table = read_arrow(item, SHIPMENTS_SCHEMA)
            if table.num_rows:
                yield table

    yield files | shipments
