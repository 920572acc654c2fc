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
pyarrow otherwise tries it on every column, half the time of the write.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

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
        self._options = options  # `pyarrow.parquet.ParquetWriter`'s, as `files.writer_options` resolves them
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
