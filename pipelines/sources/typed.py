"""The fast path for CSV: one multithreaded pyarrow read straight into the declared types.

It gives exactly the table the row-by-row contract (`contract.py`) would, or nothing: `read_typed`
returns None whenever the contract might decide otherwise, and the caller then reads the file row
by row (discarding rows with their reasons). So it declines a file when a value does not convert,
a required value is missing, or the file spells something pyarrow accepts and the contract refuses:

- integers are converted by pyarrow, which also takes hexadecimal (`0x1f`): a file holding
  `0x` or `0X` anywhere is declined;
- floats and timestamps are read as text, checked against the contract's own patterns and then
  cast, as the contract does (pyarrow's parsers also take a leading `+`, `inf` and `nan`, and a
  space for `T`, no seconds or a zone of hours only); a float too large for its type is declined;
- text is read as is, a value of only whitespace becoming null, as in the contract;
- the usual spellings are recognised on the values' bytes instead of by pattern: every timestamp
  `YYYY-MM-DDTHH:MM:SSZ`, every float of digits, `.` and `-` only, text without whitespace (the
  tests compare both ways, exhaustively over short spellings);
- extra columns are read as the contract reads them (types inferred by one serial read, then
  turned into text: `1.50` becomes `1.5`), so a file with extra columns is read on one thread.

Nothing here goes through Python objects per row, nor through pandas.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# The contract's patterns (after trimming whitespace).
FLOAT = r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
# ISO 8601 with an explicit zone: `Z` or an offset; fractional seconds allowed.
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$"


def parse_options(data: bytes, **options: object) -> pacsv.ParseOptions:
    """pyarrow's CSV parsing for `data`: line breaks inside quoted values (RFC 4180; Excel writes
    one for a cell's Alt+Enter) kept in the value. pyarrow otherwise cuts a file into blocks at
    line breaks without looking at quotes, splitting a row whose value spans a block's end into
    two broken ones. Quote-aware cutting costs about a fifth of a read, so it is asked for only
    when the file has a quote character at all: without one, no value can hold a line break."""
    return pacsv.ParseOptions(newlines_in_values=b'"' in data, **options)


def _header(data: bytes) -> list[str] | None:
    end = data.find(b"\n")
    if end < 0:
        return None
    try:
        return pacsv.read_csv(io.BytesIO(data[: end + 1]), read_options=pacsv.ReadOptions(use_threads=False)).column_names
    except pa.ArrowInvalid:
        return None


def _present(text: pa.Array) -> pa.Array:
    """True where a text value holds more than whitespace (null stays null)."""
    return pc.cast(pc.utf8_length(pc.utf8_trim_whitespace(text)), pa.bool_())


# Shortcuts read off an array's bytes: each says yes only where the pattern or rule it stands
# for would accept every value, and costs a few milliseconds a million values.


def _value_bytes(text: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """The offsets and the bytes of a text array without nulls (None when it has nulls)."""
    if text.null_count or not pa.types.is_string(text.type):
        return None
    _, offsets, data = text.buffers()
    offsets = np.frombuffer(offsets, np.int32)[text.offset : text.offset + len(text) + 1]
    if data is None:
        return offsets, np.zeros(0, np.uint8)
    return offsets, np.frombuffer(data, np.uint8)[offsets[0] : offsets[-1]]


_UTC_SECONDS = "dddd-dd-ddTdd:dd:ddZ"
_DIGIT_AT = np.array([c == "d" for c in _UTC_SECONDS])
_SEPARATORS = np.frombuffer(_UTC_SECONDS.replace("d", "\0").encode(), np.uint8)[~_DIGIT_AT]
_PLAIN_DECIMAL = np.zeros(256, bool)
_PLAIN_DECIMAL[np.frombuffer(b"0123456789.-", np.uint8)] = True


def _all_utc_seconds(text: pa.Array) -> bool:
    """Whether every value is `YYYY-MM-DDTHH:MM:SSZ` (the usual export), read off the array's bytes:
    what the timestamp pattern accepts, with nothing for the contract to trim or cut."""
    found = _value_bytes(text)
    if found is None or not len(text):
        return False
    offsets, data = found
    if not (np.diff(offsets) == len(_UTC_SECONDS)).all():
        return False
    values = data.reshape(len(text), len(_UTC_SECONDS))
    digits = values[:, _DIGIT_AT] - np.uint8(ord("0"))  # wraps around below "0"
    return bool((digits <= 9).all() and (values[:, ~_DIGIT_AT] == _SEPARATORS).all())


def _only_plain_decimals(text: pa.Array) -> bool:
    """Whether every value is made of digits, `.` and `-` only: then the float cast accepts exactly
    what the float pattern does (no sign `+`, exponent, `inf`, `nan` or whitespace can occur)."""
    found = _value_bytes(text)
    return found is not None and bool(_PLAIN_DECIMAL[found[1]].all())


def _may_hold_hexadecimal(data: bytes) -> bool:
    """Whether `0x` or `0X` occurs: first one byte at a time (`memchr`, a few ms for 30 MB)."""
    return (b"x" in data and b"0x" in data) or (b"X" in data and b"0X" in data)


_BARE = np.zeros(256, bool)
_BARE[0x21:0x7F] = True  # printable ASCII but the space: no byte of any whitespace, ASCII or not


def _all_present(text: pa.Array) -> bool:
    """Whether every value holds text and no whitespace at all (read off the array's bytes), so
    none is only whitespace."""
    found = _value_bytes(text)
    return found is not None and bool((np.diff(found[0]) > 0).all() and _BARE[found[1]].all())


def _checked(text: pa.Array, type_: pa.DataType) -> pa.Array | None:
    """A float or timestamp text column cast as the contract casts it, or None if a value fails."""
    pattern = untouched = FLOAT
    digits = 0
    if pa.types.is_timestamp(type_):
        pattern, digits = TIMESTAMP, {"s": 0, "ms": 3, "us": 6, "ns": 9}[type_.unit]
        # values with no fraction finer than the column's unit: nothing for the contract to cut
        untouched = TIMESTAMP.replace(r"(\.\d{1,9})?", r"(\.\d{1,%d})?" % digits if digits else "")
        usual = _all_utc_seconds(text)
    else:
        usual = _only_plain_decimals(text)
    if usual or pc.all(pc.match_substring_regex(text, untouched), min_count=0).as_py():
        cleaned = text  # as the contract would leave it: no whitespace to trim, nothing to cut
    else:
        trimmed = pc.utf8_trim_whitespace(text)
        if digits:  # fractions finer than the column's unit are cut to it, as the contract does
            trimmed = pc.replace_substring_regex(trimmed, r"(\.\d{%d})\d+" % digits, r"\1")
        cleaned = pc.if_else(_present(text), trimmed, pa.nulls(len(text), pa.string()))
        if not pc.all(pc.match_substring_regex(cleaned, pattern), min_count=0).as_py():
            return None
    try:
        typed = pc.cast(cleaned, type_)
    except (pa.ArrowInvalid, OverflowError):
        return None
    if pa.types.is_floating(type_) and not pc.all(pc.is_finite(typed), min_count=0).as_py():
        return None
    return typed


def _column(values: pa.Array, field: pa.Field) -> pa.Array | None:
    """`values` (as read) under `field`'s contract, or None when the contract may differ."""
    type_ = field.type
    if pa.types.is_string(type_):
        if not _all_present(values):
            values = pc.if_else(_present(values), values, pa.nulls(len(values), pa.string()))
    elif pa.types.is_timestamp(type_) or pa.types.is_floating(type_):
        values = _checked(values, type_)
        if values is None:
            return None
    elif not pa.types.is_integer(type_):
        return None
    if not field.nullable and values.null_count:
        return None
    return values


def read_typed(data: bytes, schema: pa.Schema) -> pa.Table | None:
    """The file's rows under `schema` (extra columns as text), or None: read it row by row."""
    names = _header(data)
    if names is None or len(set(names)) != len(names):
        return None  # no header line, or a name twice: the contract decides
    missing = [f for f in schema if f.name not in names]
    if any(not f.nullable for f in missing):
        return None  # the contract names the missing columns
    integers = {f.name for f in schema if pa.types.is_integer(f.type)}
    if integers & set(names) and _may_hold_hexadecimal(data):
        return None
    types = {n: schema.field(n).type if n in integers else pa.string() for n in names if n in schema.names}
    extra = [n for n in names if n not in schema.names]
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=not extra),
            parse_options=parse_options(data),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
        )
    except pa.ArrowInvalid:
        return None
    if table.column_names != names or any(table.schema.field(n).type != t for n, t in types.items()):
        return None
    if table.num_rows == 0:
        return None
    columns = {}
    for field in schema:
        if field.name not in names:
            columns[field.name] = pa.nulls(table.num_rows, field.type)
            continue
        values = _column(table[field.name].combine_chunks(), field)
        if values is None:
            return None
        columns[field.name] = values
    extras = {n: table[n].cast(pa.string()) for n in extra}
    return arrange(schema, columns, extras)


def arrange(schema: pa.Schema, columns: dict, extras: dict, keep: pa.Array | None = None) -> pa.Table:
    """The declared columns (with their nullability) followed by any extra ones."""
    loose = pa.table({**columns, **extras})
    if keep is not None:
        loose = loose.filter(keep)
    fields = list(schema) + [pa.field(n, loose[n].type) for n in extras]
    return pa.Table.from_arrays([loose[f.name] for f in fields], schema=pa.schema(fields))
