"""The Parquet load files a files source hands to dlt (`dlt.mark.with_file_import`), written by
its reader threads.

dlt loads each load file with one job, so the rows of all the files one run reads go into one
load file, not one per landed file: a partner dropping hundreds of small files must not cost
hundreds of BigQuery load jobs (BigQuery allows 1,500 a table a day). A new file starts past
`ROWS_PER_FILE` rows, or when a table's columns differ from the open file's. Small tables are
gathered into row groups of at least `BYTES_PER_GROUP` bytes of Arrow data, larger ones written
as they come: BigQuery loads and reads row groups under 16 MiB slower, and DuckDB reads a file's
row groups in parallel (32 MiB measured fastest locally for 1M shipment rows, against 16 and 64).

The files are written with the settings dlt's own Parquet writer resolves (`[data_writer]`:
format version, compression, ...; `writer_options`), but dictionary encoding only for text:
pyarrow otherwise tries it on every column, half the time of the write. Once the table has
columns an earlier file added, each load file carries them as typed nulls in the table's order
(`TableColumns`), so dlt imports it as written instead of rewriting it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Optional

import dlt
import pyarrow as pa
import pyarrow.parquet as pq
from dlt.common.configuration import configspec, known_sections
from dlt.common.configuration.specs import BaseConfiguration

BYTES_PER_GROUP = 32 * 2**20
ROWS_PER_FILE = 16 * 2**20


def _writer(path: Path, schema: pa.Schema, options: dict[str, object]) -> pq.ParquetWriter:
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_dictionary(f.type)]
    return pq.ParquetWriter(path, schema, use_dictionary=text, **options)


class LoadFiles:
    """Tables appended from any thread into Parquet files under `folder`; `finished()` gives each
    completed file once, as (path, rows, its columns as an empty table)."""

    def __init__(self, folder: Path, options: dict[str, object]) -> None:
        self._folder = folder
        self._options = options  # `pyarrow.parquet.ParquetWriter`'s, as `writer_options` resolves them
        self._lock = threading.Lock()
        self._numbered = 0
        self._schema: pa.Schema | None = None
        self._buffer: list[pa.Table] = []
        self._writer: pq.ParquetWriter | None = None
        self._path: Path | None = None
        self._rows = 0
        self._done: list[tuple[Path, int, pa.Table]] = []

    def add(self, table: pa.Table) -> None:
        with self._lock:
            if self._schema is not None and table.schema != self._schema:
                self._flush()
                self._finish()
            self._schema = table.schema
            self._buffer.append(table)
            if sum(t.nbytes for t in self._buffer) >= BYTES_PER_GROUP:
                self._flush()

    def finished(self) -> list[tuple[Path, int, pa.Table]]:
        with self._lock:
            done, self._done = self._done, []
        return done

    def close(self) -> list[tuple[Path, int, pa.Table]]:
        """Write what is buffered, close the open file, and give every file not given yet."""
        with self._lock:
            self._flush()
            self._finish()
        return self.finished()

    def abandon(self) -> None:
        """Close the open file without finishing it (the run failed)."""
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def _flush(self) -> None:
        if not self._buffer:
            return
        table = self._buffer[0] if len(self._buffer) == 1 else pa.concat_tables(self._buffer)
        self._buffer = []
        if self._writer is None:
            self._numbered += 1
            self._path = self._folder / f"{self._numbered}.parquet"
            self._writer = _writer(self._path, table.schema, self._options)
        self._writer.write_table(table)
        self._rows += table.num_rows
        if self._rows >= ROWS_PER_FILE:
            self._finish()

    def _finish(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._done.append((self._path, self._rows, _columns(self._schema)))
        self._writer, self._path, self._rows = None, None, 0


def _columns(schema: pa.Schema) -> pa.Table:
    """An empty table of `schema`, built without pyarrow's Python conversions (they import pandas)."""
    return pa.Table.from_batches([], schema=schema)


def writer_options() -> dict[str, object]:
    """The Parquet settings of dlt's own writer (`[data_writer]`: format version, compression, ...),
    resolved as dlt resolves them for this source, as `pyarrow.parquet.ParquetWriter` takes them.

    One default differs: for a DuckDB datalake the files are not compressed. DuckDB reads them
    once from the same disk, and they are deleted once loaded, so compressing them only costs
    time. BigQuery receives them over the network and gets dlt's default, snappy. A compression
    set in dlt's config wins either way."""
    from dlt.common.configuration import resolve_configuration
    from dlt.common.destination.configuration import ParquetFormatConfiguration

    f = resolve_configuration(ParquetFormatConfiguration())
    options = {
        "flavor": f.flavor, "version": f.version, "compression": f.compression, "data_page_size": f.data_page_size,
        "coerce_timestamps": f.coerce_timestamps, "allow_truncated_timestamps": f.allow_truncated_timestamps,
        "use_compliant_nested_type": f.use_compliant_nested_type, "write_page_index": f.write_page_index,
    }
    if resolve_configuration(_Compression()).compression is None and _local_destination():
        options["compression"] = "none"
    return {name: value for name, value in options.items() if value is not None}


@configspec
class _Compression(BaseConfiguration):
    """The compression of dlt's `[data_writer]` settings with no default: None when nothing sets it."""

    compression: Optional[str] = None  # noqa: UP045 - dlt's config specs resolve typing hints
    __section__: ClassVar[str] = known_sections.DATA_WRITER


def _local_destination() -> bool:
    """Whether the run loads into a DuckDB file on this machine."""
    destination = dlt.current.pipeline().destination
    return destination is not None and destination.destination_type == "dlt.destinations.duckdb"


@dataclass(frozen=True)
class TableColumns:
    """The columns of the resource's table in dlt's schema, when an earlier file added some the
    contract does not declare: what a load file must hold, in order, for dlt to import it as is."""

    columns: dict
    naming: object
    capabilities: object
    timezone: str

    @classmethod
    def evolved(cls, ours: set[str]) -> TableColumns | None:
        """None while the table holds only the columns a files source writes, `ours` (or does not
        exist yet); on the extracting thread, where dlt's current schema and pipeline are known."""
        from dlt.common.schema.utils import is_complete_column
        from dlt.common.time import get_context_timezone_name

        resource, source_schema = dlt.current.resource(), dlt.current.source_schema()
        name = resource.table_name if isinstance(resource.table_name, str) else resource.name
        columns = {n: c for n, c in source_schema.tables.get(name, {}).get("columns", {}).items() if is_complete_column(c)}
        ours = {*ours, "_dlt_id"}
        if not set(columns) - ours:
            return None
        capabilities = dlt.current.pipeline().destination.capabilities()
        padding = cls(columns, source_schema.naming, capabilities, get_context_timezone_name())
        return padding if padding._infers_back({n: c for n, c in columns.items() if n not in ours}) else None

    def _infers_back(self, evolved: dict) -> bool:
        """Whether null columns of the arrow types dlt gives `evolved` read back as the same data
        types. A nested (`json`) column does not: its nulls would be text, a change of type the
        contract refuses. Files then go through dlt's writer, which rewrites them."""
        from dlt.common.libs.pyarrow import py_arrow_to_table_schema_columns

        padded = TableColumns(evolved, self.naming, self.capabilities, self.timezone).of(pa.table({}))
        inferred = py_arrow_to_table_schema_columns(padded.schema)
        return all(inferred.get(name, {}).get("data_type") == column.get("data_type") for name, column in evolved.items())

    def of(self, table: pa.Table) -> pa.Table:
        from dlt.common.libs.pyarrow import normalize_py_arrow_item

        return normalize_py_arrow_item(table, self.columns, self.naming, self.capabilities, self.timezone)
