"""Cursor times as REST APIs write them: local offsets that change at daylight-saving time, no
offset (the API's local time), fractions of any length, lower-case `t`/`z`, leap seconds, and a
cursor saved in the API's own text by an earlier version. dlt's incremental compares cursors as
text; every case loads each change once, with exit 0 only when nothing was skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, quote, urlsplit

import dlt
import pytest
from scripted_api import CUSTOMERS, Answer, api, customers, env, page  # noqa: F401 - the fixtures

from pipelines.loading import load
from pipelines.shop_api.pipeline import ShopApi

# 8. Cursor times as APIs write them: local offsets, no offset, long fractions, and a cursor saved
#    in the API's own text by an earlier version.


def local_api(records: dict[int, dict], local_hours: int = 0, *, ordered: bool = True) -> Callable[[dict[str, str]], Answer]:
    """An API filtering `updated_since` as its database would: by instant, a time written without
    an offset read as its own local time (UTC + `local_hours`); listed by instant, or (`ordered`
    False) in the order the records were stored."""
    from datetime import datetime, timedelta, timezone

    zone = timezone(timedelta(hours=local_hours))

    def instant(text: str) -> datetime:
        moment = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text))  # as a database keeps it: to the microsecond
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)

    def route(q: dict[str, str]) -> Answer:
        since = instant(q["updated_since"]) if "updated_since" in q else None
        rows = [r for r in records.values() if since is None or instant(r["updated_at"]) >= since]
        return page(sorted(rows, key=lambda r: instant(r["updated_at"])) if ordered else rows, next=None)

    return route


def sent_since(api) -> list[str]:
    return [parse_qs(urlsplit(path).query)["updated_since"][0] for path, _, _ in api.requests_to(CUSTOMERS)]


def test_an_api_writing_local_times_without_an_offset_is_asked_in_that_form(env, api):
    """Times written without an offset, in the API's local time (UTC+2): the parameter must be the
    wall time it wrote, not that time marked as UTC (two hours of changes would be skipped)."""
    records = {i: {"id": i, "name": "x", "updated_at": f"2026-06-01T10:{i:02d}:00"} for i in range(1, 20)}
    api.routes[CUSTOMERS] = local_api(records, local_hours=2)
    assert load(ShopApi, env).rows == {"customers": 19}
    records.update({i: {"id": i, "name": "late", "updated_at": f"2026-06-01T11:{i - 10:02d}:00"} for i in range(20, 24)})
    assert load(ShopApi, env).rows == {"customers": 4}
    assert customers(env) == sorted((i, r["name"]) for i, r in records.items())
    assert sent_since(api)[1] == "2026-06-01T09:19:00", "the newest wall time less the hour's look-back, as written"


def test_a_cursor_saved_in_the_apis_own_offset_text_by_an_earlier_version_still_reads_what_follows(env, api):
    """Before cursors were kept in UTC, the saved cursor was the API's text (`…10:19:00+02:00`); as
    text, every later time written in UTC form sorts below it. It is rewritten before comparing."""
    records = {i: {"id": i, "name": "x", "updated_at": f"2026-06-01T10:{i:02d}:00+02:00"} for i in range(1, 20)}
    api.routes[CUSTOMERS] = local_api(records)
    assert load(ShopApi, env).rows == {"customers": 19}
    pipeline = dlt.attach("toltek_shop_api", pipelines_dir=str(env.work_dir))
    with pipeline.managed_state() as state:  # what the earlier version saved
        state["sources"]["shop_api"]["resources"]["customers"]["incremental"]["updated_at"]["last_value"] = "2026-06-01T10:19:00+02:00"
    records.update({i: {"id": i, "name": "late", "updated_at": f"2026-06-01T10:{i + 10:02d}:00+02:00"} for i in range(20, 24)})
    records[5] = {"id": 5, "name": "changed", "updated_at": "2026-06-01T10:45:00+02:00"}
    assert load(ShopApi, env).rows == {"customers": 5}
    assert customers(env) == sorted((i, r["name"]) for i, r in records.items())


def test_offsets_with_seven_fraction_digits_are_compared_as_instants(env, api):
    """.NET's round-trip format writes seven fraction digits: 17:30+09:00 (08:30 UTC), then 09:00
    UTC; the second is later and loads."""
    records = {1: {"id": 1, "name": "tokyo", "updated_at": "2026-06-01T17:30:00.0000000+09:00"}}
    api.routes[CUSTOMERS] = local_api(records)
    assert load(ShopApi, env).rows == {"customers": 1}
    records[2] = {"id": 2, "name": "utc", "updated_at": "2026-06-01T09:00:00.0000000+00:00"}
    assert load(ShopApi, env).rows == {"customers": 1}
    assert customers(env) == [(1, "tokyo"), (2, "utc")]


def test_a_start_date_written_with_an_offset_is_the_instant_it_names(env, api, monkeypatch):
    monkeypatch.setenv("SOURCES__SHOP_API__INITIAL_UPDATED_SINCE", "2026-06-01T10:00:00+02:00")  # 08:00 UTC
    records = {i: {"id": i, "name": "x", "updated_at": f"2026-06-01T{7 + i:02d}:30:00Z"} for i in range(3)}
    api.routes[CUSTOMERS] = lambda q: page(list(records.values()), next=None)  # ignores updated_since
    assert load(ShopApi, env).rows == {"customers": 2}
    assert customers(env) == [(1, "x"), (2, "x")]


@pytest.mark.parametrize("zone_hours", [0, 9])
def test_a_record_read_again_unchanged_that_then_moves_rewinds_the_cursor_in_any_offset(env, api, zone_hours):
    """Record 2 is read again unchanged by the look-back (dropped before dlt's incremental, as the
    API wrote it), then moves to the end while the listing is paged, and record 5 slides into a
    page already read. The cursor must rewind to record 2's old time whatever offset the API
    writes (+09:00 text against UTC text compared as text did not), so the next run loads record 5."""
    from datetime import datetime, timedelta, timezone

    zone, base = timezone(timedelta(hours=zone_hours)), datetime(2026, 6, 1, tzinfo=timezone.utc)
    real: dict[int, tuple[str, datetime]] = {1: ("a", base), 2: ("b", base + timedelta(minutes=1))}
    moves: dict[int, Callable[[], None]] = {}

    def written(t: datetime) -> str:
        return t.astimezone(zone).isoformat() if zone_hours else t.strftime("%Y-%m-%dT%H:%M:%SZ")

    def route(q: dict[str, str]) -> Answer:  # two records a page, by offset, as a live table pages
        at = int(q.get("offset", "0"))
        if at in moves:
            moves.pop(at)()
        rows = sorted((t, i, n) for i, (n, t) in real.items() if t >= datetime.fromisoformat(q["updated_since"]))
        more = at + 2 < len(rows)
        link = f"{api.url}{CUSTOMERS}?updated_since={quote(q['updated_since'])}&offset={at + 2}" if more else None
        return page([{"id": i, "name": n, "updated_at": written(t)} for t, i, n in rows[at:at + 2]], next=link)

    api.routes[CUSTOMERS] = route
    assert load(ShopApi, env).rows == {"customers": 2}
    real.update({i: ("new", base + timedelta(minutes=m)) for i, m in zip(range(3, 8), (30, 40, 50, 180, 190))})
    moves[4] = lambda: real.__setitem__(2, ("b2", base + timedelta(minutes=200)))
    load(ShopApi, env)
    load(ShopApi, env)
    assert customers(env) == [(1, "a"), (2, "b2"), (3, "new"), (4, "new"), (5, "new"), (6, "new"), (7, "new")]


def test_in_a_listing_of_mixed_forms_the_start_is_written_in_the_newest_records_form(env, api):
    """An API writing local times (UTC+5) without an offset, and one record some other writer
    stored in UTC, listed last though older: the next start is the newest record's wall time, as
    the API writes it, not that time marked UTC (five hours would be skipped)."""
    records = {1: {"id": 1, "name": "x", "updated_at": "2026-06-01T12:00:00"}, 2: {"id": 2, "name": "z", "updated_at": "2026-06-01T06:30:00Z"}}
    api.routes[CUSTOMERS] = local_api(records, local_hours=5, ordered=False)
    assert load(ShopApi, env).rows == {"customers": 2}
    records[3] = {"id": 3, "name": "new", "updated_at": "2026-06-01T13:00:00"}
    assert load(ShopApi, env).rows == {"customers": 1}
    assert sent_since(api)[1] == "2026-06-01T11:00:00"


@pytest.mark.parametrize("written", ["2026-06-01t10:{i:02d}:00z", "2026-06-01T10:{i:02d}:00z", "2016-12-31T23:{i:02d}:60Z"])
def test_times_rfc_3339_allows_are_times_lower_case_and_leap_seconds(env, api, written):
    """RFC 3339 §5.6 allows `t` and `z` in lower case, and a 60th second: each is a time (a leap
    second the last microsecond of its minute), loaded and compared as such, run after run, with
    more records in the look-back than it keeps digests of before pruning them."""
    from pipelines.sources.incremental import _PRUNE_AT

    records = {i: {"id": i, "name": "x", "updated_at": written.format(i=i % 60)} for i in range(1, _PRUNE_AT + 44)}
    api.routes[CUSTOMERS] = lambda q: page(list(records.values()), next=None)
    assert load(ShopApi, env).rows == {"customers": len(records)}
    records[1000] = {"id": 1000, "name": "new", "updated_at": "2026-06-02T00:00:00Z"}
    assert load(ShopApi, env).rows == {"customers": 1}
    assert load(ShopApi, env).rows == {}
