"""The fast CSV path (pyarrow into the declared types) gives exactly what the row-by-row contract
gives: the same table (values, types, column order, extra columns) and the same discarded rows;
it declines every file it cannot read the contract's way, and takes the clean ones."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipelines.shop_files.settings import SHIPMENTS_SCHEMA
from pipelines.sources.contract import read_csv, read_file
from pipelines.sources.typed import read_typed

HEADER = "shipment_id,order_id,carrier,shipped_at,delivered_at,weight_kg"

CLEAN = {
    "plain": f"{HEADER}\n1,10,ups,2026-01-01T00:00:00Z,2026-01-02T10:00:00Z,1.5\n2,11,dhl,,,\n",
    "offsets and fractions": f"{HEADER}\n1,10,ups,2026-03-29T03:30:00+02:00,2026-03-29T01:30:00.250999999Z,2\n"
    "2,11,dpd,2026-03-29T03:30:00.5-0130,,.5\n",
    "numbers in every spelling the contract takes": f"{HEADER}\n-7,007,ups,,,1e-3\n8,9,dhl,,,1.\n9,10,x,,,-2.5E+3\n10,11, y ,,,  4 \n",
    "whitespace and null words": f"{HEADER}\n1, 10 ,   ,,,\n2,11,N/A,NULL,, 3\n3,12,\"quoted, text\",,,\n",
    "an extra column stays text": f"{HEADER},insured,note\n1,10,ups,,,1.5,007,1.50\n2,11,dhl,,,2,yes,\n",
    "a missing optional column": "shipment_id,order_id,carrier,shipped_at,delivered_at\n1,10,ups,,\n",
    "columns in another order": "weight_kg,carrier,order_id,shipment_id\n1.5,ups,10,1\n",
    "excel: byte order mark and CRLF": "\ufeff" + HEADER + "\r\n1,10,ups,2026-01-01T00:00:00Z,,1\r\n",
    "no newline at the end": f"{HEADER}\n1,10,ups,,,1",
    "a float of only whitespace": f"{HEADER}\n1,10,ups,,, \n2,11,dhl,,,2\n",
    "every value in the usual shape": f"{HEADER}\n1,10,ups,2026-01-01T00:00:00Z,2026-01-02T10:00:59Z,1.5\n"
    "2,11,dhl,2025-12-31T23:59:59Z,2026-01-01T00:00:00Z,-.25\n",
}

DECLINED = {
    "hexadecimal integer": f"{HEADER}\n0x1f,10,ups,,,1\n2,11,dhl,,,2\n",
    "leading plus": f"{HEADER}\n1,10,ups,,,+1.5\n2,11,dhl,,,2\n",
    "infinity": f"{HEADER}\n1,10,ups,,,inf\n2,11,dhl,,,Infinity\n3,12,dpd,,,2\n",
    "nan not in the null words": f"{HEADER}\n1,10,ups,,,NAN\n2,11,dhl,,,2\n",
    "too large a float": f"{HEADER}\n1,10,ups,,,1e400\n2,11,dhl,,,2\n",
    "timestamp with a space": f"{HEADER}\n1,10,ups,2026-01-01 00:00:00Z,,1\n2,11,dhl,,,2\n",
    "timestamp without seconds": f"{HEADER}\n1,10,ups,2026-01-01T00:00Z,,1\n2,11,dhl,,,2\n",
    "zone of hours only": f"{HEADER}\n1,10,ups,2026-01-01T00:00:00+01,,1\n2,11,dhl,,,2\n",
    "timestamp without zone": f"{HEADER}\n1,10,ups,2026-01-01T00:00:00,,1\n2,11,dhl,,,2\n",
    "13th month": f"{HEADER}\n1,10,ups,2026-13-01T00:00:00Z,,1\n2,11,dhl,,,2\n",
    "integer out of range": f"{HEADER}\n99999999999999999999,10,ups,,,1\n2,11,dhl,,,2\n",
    "text in an integer column": f"{HEADER}\nx3,10,ups,,,1\n2,11,dhl,,,2\n",
    "missing required value": f"{HEADER}\n,10,ups,,,1\n2,11,dhl,,,2\n",
    "a row with too few fields": f"{HEADER}\n1,10,ups\n2,11,dhl,,,2\n",
    "a row with too many fields": f"{HEADER}\n1,10,ups,,,1,extra\n2,11,dhl,,,2\n",
    "carriage return in a number": f"{HEADER}\n1\r,10,ups,,,1\n2,11,dhl,,,2\n",
    "header only": f"{HEADER}\n",
    "a minus inside a number": f"{HEADER}\n1,10,ups,,,1-2\n2,11,dhl,,,2\n",
    "a lone minus": f"{HEADER}\n1,10,ups,,,-\n2,11,dhl,,,2\n",
    "two points": f"{HEADER}\n1,10,ups,,,1..2\n2,11,dhl,,,2\n",
    "a 24th hour in the usual shape": f"{HEADER}\n1,10,ups,2026-01-01T24:00:00Z,,1\n2,11,dhl,2026-01-01T00:00:00Z,,2\n",
}


def same(fast, slow) -> None:
    assert fast.discarded == slow.discarded
    if slow.table is None:
        assert fast.table is None
        return
    assert fast.table.schema == slow.table.schema
    assert fast.table.equals(slow.table), (fast.table.to_pylist(), slow.table.to_pylist())


@pytest.mark.parametrize("content", CLEAN.values(), ids=CLEAN.keys())
def test_a_clean_file_takes_the_fast_path_and_reads_as_the_contract_does(content):
    data = content.encode()
    assert read_typed(data, SHIPMENTS_SCHEMA) is not None
    slow = read_csv("a.csv", data, SHIPMENTS_SCHEMA)
    assert slow.discarded == []
    same(read_file("a.csv", data, SHIPMENTS_SCHEMA), slow)


@pytest.mark.parametrize("content", DECLINED.values(), ids=DECLINED.keys())
def test_a_file_the_fast_path_cannot_read_the_contracts_way_is_read_row_by_row(content):
    data = content.encode()
    assert read_typed(data, SHIPMENTS_SCHEMA) is None
    same(read_file("a.csv", data, SHIPMENTS_SCHEMA), read_csv("a.csv", data, SHIPMENTS_SCHEMA))


def test_mixed_good_and_bad_rows_give_the_contracts_table_and_discards():
    good = [f"{i},{i + 10},ups,2026-01-01T00:00:{i % 60:02d}Z,,{i}.5" for i in range(1, 400)]
    bad = ["x,1,ups,,,1", "5,6,dhl,yesterday,,1", "7,8", "9,10,dpd,,,+1"]
    lines = good[:100] + bad[:2] + good[100:300] + bad[2:] + good[300:]
    data = (HEADER + "\n" + "\n".join(lines) + "\n").encode()
    fast, slow = read_file("a.csv", data, SHIPMENTS_SCHEMA), read_csv("a.csv", data, SHIPMENTS_SCHEMA)
    same(fast, slow)
    assert [d["row_ref"] for d in fast.discarded] == ["line 304", "row 101", "row 102", "row 303"]
    assert fast.table.num_rows == len(good)


def test_the_fast_path_types_are_the_declared_ones():
    table = read_typed(CLEAN["plain"].encode(), SHIPMENTS_SCHEMA)
    assert table.schema == SHIPMENTS_SCHEMA
    assert table.column("shipped_at").type == pa.timestamp("us", tz="UTC")


def test_a_header_naming_a_column_twice_is_left_to_the_contract():
    assert read_typed(f"{HEADER},note,note\n1,10,ups,,,1,a,b\n".encode(), SHIPMENTS_SCHEMA) is None


def _checked_both_ways(values: list[str], type_: pa.DataType, monkeypatch) -> tuple:
    """`_checked` as it runs, and with the byte-level shortcuts turned off (patterns only)."""
    from pipelines.sources import typed

    text = pa.array(values, pa.string())
    fast = typed._checked(text, type_)
    with monkeypatch.context() as m:
        m.setattr(typed, "_all_utc_seconds", lambda text: False)
        m.setattr(typed, "_only_plain_decimals", lambda text: False)
        slow = typed._checked(text, type_)
    return fast, slow


def _alike(fast, slow) -> bool:
    return (fast is None and slow is None) or (fast is not None and slow is not None and fast.equals(slow))


def test_the_plain_decimal_shortcut_accepts_exactly_what_the_float_pattern_does(monkeypatch):
    # Every string of up to four characters of digits, points and minus signs, alone and beside a
    # good value: the shortcut skips the pattern only where the cast itself refuses what it refuses.
    import itertools

    from pipelines.sources.typed import _only_plain_decimals

    assert _only_plain_decimals(pa.array(["1.5", "-.25", "7"]))
    alphabet, differ = "01.-", []
    for n in range(1, 5):
        for chars in itertools.product(alphabet, repeat=n):
            value = "".join(chars)
            for values in ([value], [value, "2.5"]):
                fast, slow = _checked_both_ways(values, pa.float64(), monkeypatch)
                if not _alike(fast, slow):
                    differ.append(value)
    assert differ == []


def test_the_utc_seconds_shortcut_accepts_exactly_what_the_timestamp_pattern_does(monkeypatch):
    # One valid value with each character replaced in turn by a digit, a separator, a letter or a
    # sign, for every timestamp unit.
    from pipelines.sources.typed import _all_utc_seconds

    good = "2026-03-29T01:30:59Z"
    assert _all_utc_seconds(pa.array([good, "1999-12-31T23:59:59Z"]))
    differ = []
    for unit in ("s", "ms", "us", "ns"):
        type_ = pa.timestamp(unit, tz="UTC")
        for at in range(len(good)):
            for char in "0959-:TtZz+. /a\u0660":
                value = good[:at] + char + good[at + 1 :]
                fast, slow = _checked_both_ways([value, good], type_, monkeypatch)
                if not _alike(fast, slow):
                    differ.append((unit, value))
    assert differ == []


def test_the_text_shortcut_keeps_exactly_what_the_whitespace_rule_keeps(monkeypatch):
    # Text columns: a value of only whitespace (ASCII or not) becomes null; the shortcut skips that
    # rule only for values with no whitespace at all.
    import itertools

    from pipelines.sources import typed

    field = pa.field("carrier", pa.string())
    assert typed._all_present(pa.array(["postnl", "dhl"]))
    differ = []
    for n in range(0, 3):
        for chars in itertools.product(["a", " ", "\t", "\u00a0", "\u3000", "é", "\r"], repeat=n):
            values = pa.array(["".join(chars), "dpd"], pa.string())
            fast = typed._column(values, field)
            with monkeypatch.context() as m:
                m.setattr(typed, "_all_present", lambda text: False)
                slow = typed._column(values, field)
            if not fast.equals(slow):
                differ.append("".join(chars))
    assert differ == []


@pytest.mark.parametrize("spelling", ["0x1f", "0X1F"])
def test_hexadecimal_is_found_in_either_case(spelling):
    assert read_typed(f"{HEADER}\n{spelling},10,ups,,,1\n".encode(), SHIPMENTS_SCHEMA) is None
    assert read_typed(f"{HEADER}\n31,10,fedex,,,1\n".encode(), SHIPMENTS_SCHEMA) is not None


def test_line_breaks_in_quoted_values_are_kept_across_pyarrow_blocks():
    """RFC 4180 allows a line break inside a quoted value (Excel writes one for a cell's
    Alt+Enter). pyarrow cuts a file into 1 MiB blocks at line breaks; without quote-aware
    cutting, the row spanning a block's end was split into two broken rows and discarded."""
    rows = 60_000  # ~2.4 MB: three blocks, their ends inside some row's quoted value
    data = (HEADER + "\n" + "".join(f'{i},{i},"carrier {i}\nline two",,,1\n' for i in range(rows))).encode()
    assert len(data) > 2 * 2**20
    for read in (read_file, read_csv):  # the fast path, and the row-by-row contract
        got = read("a.csv", data, SHIPMENTS_SCHEMA)
        assert got.discarded == []
        assert got.table.num_rows == rows
        assert got.table["carrier"][rows - 1].as_py() == f"carrier {rows - 1}\nline two"
        assert got.table["shipment_id"].to_pylist() == list(range(rows))
    assert read_typed(data, SHIPMENTS_SCHEMA) is not None  # still the fast path
