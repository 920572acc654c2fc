"""Arrow values built from their buffers.

pyarrow converts every Python value (`pa.array([...])`, `pa.scalar(...)`, a Python value given to
a compute function) through its pandas shim, which imports pandas (over a second); paths that
only move Arrow data build the few constants they need here instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
LOAD_ID = "_dlt_load_id"  # dlt's column naming the load package that wrote each row


def _one(type_: pa.DataType, *buffers: bytes) -> pa.Scalar:
    return pa.Array.from_buffers(type_, 1, [None, *map(pa.py_buffer, buffers)])[0]


def text(value: str) -> pa.Scalar:
    data = value.encode()
    return _one(pa.string(), np.array([0, len(data)], np.int32).tobytes(), data)


def timestamp(value: datetime) -> pa.Scalar:
    """`value` as `timestamp[us, tz=UTC]` (a naive one taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return _one(pa.timestamp("us", tz="UTC"), np.array([(value - _EPOCH) // timedelta(microseconds=1)], np.int64).tobytes())


def constant_text(value: str, rows: int) -> pa.DictionaryArray:
    """`value` on each of `rows` rows, dictionary-encoded (one value, int8 indices, as dlt builds its
    own `_dlt_load_id`): the Parquet writer then neither copies nor hashes the text once per row."""
    indices = pa.Array.from_buffers(pa.int8(), rows, [None, pa.py_buffer(np.zeros(rows, np.int8))])
    data = value.encode()
    dictionary = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(np.array([0, len(data)], np.int32)), pa.py_buffer(data)])
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def with_constant_text(table: pa.Table, name: str, value: str) -> pa.Table:
    """`table` with column `name` (required) holding `value` on every row: replaced where it is,
    appended otherwise."""
    column = constant_text(value, table.num_rows)
    field = pa.field(name, column.type, nullable=False)
    at = table.schema.get_field_index(name)
    return table.set_column(at, field, column) if at >= 0 else table.append_column(field, column)


def positions(rows: int) -> pa.Array:
    """0, 1, … rows - 1 as int64."""
    return pa.Array.from_buffers(pa.int64(), rows, [None, pa.py_buffer(np.arange(rows, dtype=np.int64))])


def booleans(values: list[bool] | int) -> pa.Array:
    """A boolean array of `values`, or of that many False."""
    flags = np.zeros(values, bool) if isinstance(values, int) else np.array(values, bool)
    return pa.Array.from_buffers(pa.bool_(), len(flags), [None, pa.py_buffer(np.packbits(flags, bitorder="little"))])


FALSE = booleans([False])[0]
EMPTY = text("")
