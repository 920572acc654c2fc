"""The contract of landed files (CSV and Parquet under one declared Arrow schema), row by row.

A CSV file is first read the fast way (`typed.py`: pyarrow straight into the declared types),
which gives exactly the table this reading would or declines the file; a declined file (a bad
row, a spelling only the fast reading would take) is read here, row by row.

Outcomes, per case:

- a malformed CSV row (wrong number of fields), a value of the wrong type or out of its range, or a
  timestamp that is not ISO 8601 with a zone (`Z` or an offset): the row is discarded,
  kept with its reason in the `discarded_rows` table, and counted in the run summary;
- an added column: kept (the raw table evolves; CSV values as text);
- a removed column: nullable ones become null, a missing required column fails the run;
- a column named twice (in a CSV header or a Parquet schema): fails the run, naming the file and
  the column;
- an empty file, or a CSV with only its header: no rows, no failure (a header naming no required
  column still fails);
- a file that is not UTF-8, a CSV that cannot be parsed or a Parquet file that cannot be read
  (truncated, not Parquet): fails the run, naming the file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipelines import arrow
from pipelines.errors import SourceDataError
from pipelines.sources.typed import FLOAT, TIMESTAMP, arrange, parse_options, read_typed

_INT = r"^-?\d+$"
_FLOAT = FLOAT
_TIMESTAMP = TIMESTAMP


@dataclass
class FileRead:
    table: pa.Table | None
    discarded: list[dict[str, Any]] = field(default_factory=list)


def _discard(file: str, ref: str, reason: str, raw: str) -> dict[str, Any]:
    return {"source_file": file, "row_ref": ref, "reason": reason, "raw": raw[:2000]}


def _parse(column: pa.Array, type_: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """(typed values, mask of values that do not parse) for a text column."""
    trimmed = pc.utf8_trim_whitespace(column)
    present = pc.fill_null(pc.not_equal(trimmed, arrow.EMPTY), arrow.FALSE)
    nothing = pa.nulls(1, pa.string())[0]
    if pa.types.is_string(type_):
        return pc.if_else(present, column, nothing), arrow.booleans(len(column))
    if pa.types.is_integer(type_):
        pattern = _INT
    elif pa.types.is_floating(type_):
        pattern = _FLOAT
    elif pa.types.is_timestamp(type_):
        pattern = _TIMESTAMP
        # Fractions finer than the column's unit are cut to it (the cast refuses them otherwise).
        digits = {"s": 0, "ms": 3, "us": 6, "ns": 9}[type_.unit]
        trimmed = pc.replace_substring_regex(trimmed, r"(\.\d{%d})\d+" % digits, r"\1") if digits else trimmed
    else:
        raise TypeError(f"no text parser for {type_}")
    # The pattern rejects most bad values at once; the cast catches the rest (an integer out of
    # range, a 13th month), value by value only when the whole column does not cast.
    bad = pc.and_(present, pc.invert(pc.fill_null(pc.match_substring_regex(trimmed, pattern), arrow.FALSE)))
    cleaned = pc.if_else(pc.or_(bad, pc.invert(present)), nothing, trimmed)
    try:
        typed = pc.cast(cleaned, type_)
    except (pa.ArrowInvalid, OverflowError):
        typed, unparsable = _cast_each(cleaned, type_)
        bad = pc.or_(bad, unparsable)
    if pa.types.is_floating(type_):  # a finite number too large for the type
        bad = pc.or_(bad, pc.fill_null(pc.is_inf(typed), arrow.FALSE))
        typed = pc.if_else(bad, pa.nulls(1, type_)[0], typed)
    return typed, bad


def _cast_each(column: pa.Array, type_: pa.DataType) -> tuple[pa.Array, pa.Array]:
    values, bad = [], []
    for i in range(len(column)):
        try:
            values.append(pc.cast(column.slice(i, 1), type_))
            bad.append(False)
        except (pa.ArrowInvalid, OverflowError):
            values.append(pa.nulls(1, type_))
            bad.append(True)
    return pa.concat_arrays(values), arrow.booleans(bad)


def _require_utf8(name: str, data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceDataError(f"{name} is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def read_csv(name: str, data: bytes, schema: pa.Schema) -> FileRead:
    """The row-by-row reading: every value checked, bad rows discarded with their reasons."""
    _require_utf8(name, data)
    malformed: list[dict[str, Any]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        ref = f"line {row.number}" if row.number is not None else "line ?"
        reason = f"{row.actual_columns} fields, expected {row.expected_columns}"
        malformed.append(_discard(name, ref, reason, row.text))
        return "skip"

    if not data.endswith(b"\n"):
        data += b"\n"  # a last line without its newline (a header alone, say) is still a line
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=parse_options(data, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in schema.names}, strings_can_be_null=True),
        )
    except pa.ArrowInvalid as exc:
        raise SourceDataError(f"{name} cannot be read as CSV ({' '.join(str(exc).split())[:200]})") from None
    table = _with_required_columns(name, table, schema, as_text=True)
    if table.num_rows == 0:
        return FileRead(None, malformed)
    bad_any = arrow.booleans(table.num_rows)
    reasons: dict[int, list[str]] = {}
    columns = {}
    for field_ in schema:
        typed, bad = _parse(table[field_.name].combine_chunks(), field_.type)
        if not field_.nullable:
            bad = pc.or_(bad, pc.is_null(typed))
        bad = pc.fill_null(bad, arrow.FALSE)
        for i in pc.indices_nonzero(bad).to_pylist():
            value = table[field_.name][i].as_py()
            reasons.setdefault(i, []).append(
                f"{field_.name}: required, missing" if value in (None, "") else f"{field_.name}: {value!r} is not {field_.type}"
            )
        bad_any = pc.or_(bad_any, bad)
        columns[field_.name] = typed
    extras = [n for n in table.column_names if n not in schema.names]
    at = pc.indices_nonzero(bad_any)
    discarded = malformed + [
        _discard(name, f"row {i + 1}", "; ".join(reasons[i]), ",".join("" if v is None else str(v) for v in row.values()))
        for i, row in zip(at.to_pylist(), table.take(at).to_pylist())
    ]
    keep = pc.invert(bad_any)
    out = arrange(schema, columns, {n: table[n].cast(pa.string()) for n in extras}, keep)
    return FileRead(out, discarded)


def read_parquet(name: str, data: bytes, schema: pa.Schema) -> FileRead:
    try:
        # ParquetFile, not read_table: the latter goes through pyarrow's dataset API (and pandas)
        raw = pq.ParquetFile(io.BytesIO(data)).read()
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceDataError(f"{name} is not a readable Parquet file ({' '.join(str(exc).split())[:200]})") from None
    if raw.num_rows == 0:
        _with_required_columns(name, raw, schema, as_text=False)
        return FileRead(None)
    table = _with_required_columns(name, raw, schema, as_text=False)
    columns = {field_.name: _cast(name, field_.name, table[field_.name], field_.type) for field_ in schema}
    extras = {n: _microseconds(name, n, table[n]) for n in table.column_names if n not in schema.names}
    if any(not f.nullable and columns[f.name].null_count for f in schema):
        missing = [f.name for f in schema if not f.nullable and columns[f.name].null_count]
        raise SourceDataError(f"{name}: required column(s) {', '.join(missing)} hold nulls")
    return FileRead(arrange(schema, columns, extras))


def _cast(name: str, column_name: str, column: pa.ChunkedArray, type_: pa.DataType) -> pa.ChunkedArray:
    """`column` of file `name` as `type_`, losing nothing; else a `SourceDataError` naming both.

    Timestamps or dates without a zone (Parquet's `isAdjustedToUTC=false`: pandas' naive
    datetimes) are local times of an unknown zone, not points in time: pyarrow would read them as
    UTC, hours off. Refused for a column declared with a zone, as a CSV value without one is."""
    if pa.types.is_timestamp(type_) and type_.tz is not None and _zoneless(column.type):
        raise SourceDataError(
            f"{name}: column {column_name} holds {column.type} values without a time zone (local times), expected {type_}: "
            "write them in UTC or with their zone"
        )
    try:
        return column.cast(type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SourceDataError(f"{name}: column {column_name} cannot be read as {type_} ({exc})") from None


def _zoneless(type_: pa.DataType) -> bool:
    return pa.types.is_date(type_) or (pa.types.is_timestamp(type_) and type_.tz is None)


def _microseconds(name: str, column_name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    """An extra column of nanosecond timestamps in microseconds, the warehouse's precision (dlt
    would cast it so, failing with a message that names neither file nor column): finer digits
    fail as for a declared column."""
    if not (pa.types.is_timestamp(column.type) and column.type.unit == "ns"):
        return column
    return _cast(name, column_name, column, pa.timestamp("us", tz=column.type.tz))


def _with_required_columns(name: str, table: pa.Table, schema: pa.Schema, *, as_text: bool) -> pa.Table:
    twice = sorted({n for n in table.column_names if table.column_names.count(n) > 1})
    if twice:
        raise SourceDataError(f"{name} names column(s) {', '.join(twice)} more than once; each column must appear once")
    missing = [f for f in schema if f.name not in table.column_names]
    required = [f.name for f in missing if not f.nullable]
    if required:
        raise SourceDataError(f"{name} lacks required column(s) {', '.join(required)}")
    for f in missing:
        table = table.append_column(f.name, pa.nulls(table.num_rows, pa.string() if as_text else f.type))
    return table


def read_file(name: str, data: bytes, schema: pa.Schema) -> FileRead:
    """A CSV or Parquet file under `schema`; empty files give no table."""
    if not data.strip():
        return FileRead(None)
    lower = name.lower()
    if lower.endswith(".csv"):
        _require_utf8(name, data)
        table = read_typed(data, schema)
        return FileRead(table) if table is not None else read_csv(name, data, schema)
    if lower.endswith(".parquet"):
        return read_parquet(name, data, schema)
    raise SourceDataError(f"{name}: unsupported file type (expected .csv or .parquet)")
