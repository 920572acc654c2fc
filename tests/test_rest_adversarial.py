"""A REST API misbehaving the way real ones and their gateways do: links to another host or back to
a page already read, errors inside a 200, odd last pages, ignored parameters, Retry-After as a
date, compressed and non-UTF-8 bodies. Each run either loads exactly the source or fails in one
line naming the endpoint; none sends the token elsewhere, hangs, or ends with exit 0 and less.

The API is a scripted server on 127.0.0.1 (a second one, on its own port, is another origin):
each test gives the endpoints it needs their answers; any other is an empty last page.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import dlt
import pytest
from conftest import query

from pipelines import environments
from pipelines.errors import PipelineFailed
from pipelines.loading import load
from pipelines.samples import SAMPLE_SECRETS
from pipelines.shop_api.pipeline import ShopApi
from pipelines.shop_api.settings import PAGE_SIZE

TOKEN = SAMPLE_SECRETS["shop-api-token"]
CUSTOMERS = "/shop/v1/customers"
Answer = tuple[int, dict[str, str], bytes]


def page(data: object, **more: object) -> Answer:
    return 200, {"Content-Type": "application/json"}, json.dumps({"data": data, **more}).encode()


def customer(i: int, name: str = "x", day: int = 1) -> dict:
    return {"id": i, "name": name, "updated_at": f"2026-01-{day:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00Z"}


class Api(ThreadingHTTPServer):
    """Answers each GET with its route's answer (query as a dict), or an empty last page; records
    each request's path and query, Authorization header and time."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Callable[[dict[str, str]], Answer]] = {}
        self.seen: list[tuple[str, str | None, float]] = []
        self.port = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def requests_to(self, path: str) -> list[tuple[str, str | None, float]]:
        return [s for s in self.seen if urlsplit(s[0]).path == path]


class _Handler(BaseHTTPRequestHandler):
    server: Api
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms wait for an ACK

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        self.server.seen.append((self.path, self.headers.get("Authorization"), time.monotonic()))
        route = self.server.routes.get(parts.path)
        query_ = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        status, headers, body = route(query_) if route else page([], next=None)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve() -> Iterator[Api]:
    api = Api()
    thread = threading.Thread(target=api.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield api
    finally:
        api.shutdown()
        api.server_close()
        thread.join()


api = pytest.fixture(_serve)
other = pytest.fixture(_serve)  # another origin: a port of its own


@pytest.fixture
def env(toltek_home, api):
    return environments.get("local").with_sample_url(api.url)


def customers(env) -> list[tuple]:
    """Raw customers as loaded (none when nothing was ever committed)."""
    if not env.datalake.path.exists():
        return []
    tables = query(env.datalake.path, "select table_name from information_schema.tables where table_schema = 'raw_shop_api'")
    if ("customers",) not in tables:
        return []
    return query(env.datalake.path, "select id, name from raw_shop_api.customers order by id")


def fails(env) -> str:
    with pytest.raises(PipelineFailed) as caught:
        load(ShopApi, env)
    message = str(caught.value)
    assert "\n" not in message and TOKEN not in message
    return message


# 1. The token goes only to the base URL's origin.


@pytest.mark.parametrize(
    ("link", "origin"),
    [
        ("{other}/shop/v1/customers?page=2", "http://127.0.0.1:{port}"),
        ("http://localhost:{port}/shop/v1/customers?page=2", "http://localhost:{port}"),
        ("//localhost:{port}/shop/v1/customers?page=2", "http://localhost:{port}"),
        ("https://127.0.0.1:{api_port}/shop/v1/customers?page=2", "https://127.0.0.1:{api_port}"),
    ],
    ids=["another port", "another host", "scheme-relative", "another scheme"],
)
def test_a_next_link_to_another_origin_is_refused_and_gets_no_token(env, api, other, link, origin):
    names = {"other": other.url, "port": other.port, "api_port": api.port}
    api.routes[CUSTOMERS] = lambda q: page([customer(1)], next=link.format(**names))
    other.routes[CUSTOMERS] = lambda q: page([customer(2)], next=None)
    message = fails(env)
    assert message == (
        f"pipeline 'shop_api' failed in extract: response from GET {api.url}{CUSTOMERS} links its next page to "
        f"another origin ({origin.format(**names)}); not followed: the token would be sent there"
    )
    assert other.seen == [] and len(api.requests_to(CUSTOMERS)) == 1
    assert customers(env) == []  # the first page is not committed either


def test_a_redirect_to_another_origin_is_followed_without_the_token(env, api, other):
    # RFC 9110 §15.4.8: a 307 repeats the request at the new URL. Like a browser, `requests` keeps
    # credentials to the same host only.
    api.routes[CUSTOMERS] = lambda q: (307, {"Location": f"{other.url}{CUSTOMERS}?signed=1"}, b"")
    other.routes[CUSTOMERS] = lambda q: page([customer(1)], next=None)
    load(ShopApi, env)
    assert customers(env) == [(1, "x")]
    assert [auth for _, auth, _ in other.seen] == [None]
    assert {auth for _, auth, _ in api.seen} == {f"Bearer {TOKEN}"}


# 2. A listing that links back into itself fails instead of paging forever.


@pytest.mark.parametrize(("cycle", "pages"), [(1, 2), (2, 3)], ids=["the same page", "A-B-A"])
def test_a_next_link_back_to_a_page_already_read_fails_instead_of_paging_forever(env, api, cycle, pages):
    served = []

    def listing(q):
        served.append(q)
        number = int(q.get("page", "1"))
        if len(served) > 20:  # without the guard: stop here, so the test fails instead of hanging
            return page([], next=None)
        return page([customer(number)], next=f"{api.url}{CUSTOMERS}?page={number % cycle + 1}")

    api.routes[CUSTOMERS] = listing
    message = fails(env)
    assert message == (
        f"pipeline 'shop_api' failed in extract: response from GET {api.url}{CUSTOMERS} links its next page back "
        f"to a page already read (after {pages} pages); the listing would never end"
    )
    assert len(served) == pages and customers(env) == []


def test_endless_empty_pages_on_fresh_links_fail_instead_of_paging_forever(env, api, monkeypatch):
    """A cursor that moves on every page without ever returning data: each link is new, so only the
    run of empty pages gives it away (one page of data in between starts the count again)."""
    from pipelines.sources import rest

    monkeypatch.setattr(rest, "MAX_EMPTY_PAGES", 40)  # the default (1,000) takes longer to reach
    limit = rest.NextLink().max_empty_pages
    served = []

    def listing(q):
        served.append(q)
        number = int(q.get("page", "1"))
        if len(served) > 5 * limit:  # without the guard: stop here, so the test fails instead of hanging
            return page([], next=None)
        data = [customer(1)] if number == limit // 2 else []  # data once, half-way through the first run of empties
        return page(data, next=f"{api.url}{CUSTOMERS}?page={number + 1}")

    api.routes[CUSTOMERS] = listing
    message = fails(env)
    assert message == (
        f"pipeline 'shop_api' failed in extract: response from GET {api.url}{CUSTOMERS}: {limit} empty pages in a row, "
        "each linking to another; stopped there: a listing of nothing but empty pages may never end"
    )
    assert len(served) == limit // 2 + limit and customers(env) == []


def test_the_empty_page_count_starts_again_with_each_listing():
    """One paginator may serve several listings (an endpoint's, then a child resource's per parent
    row), and a listing may be left before its last page (an incremental's end value reached, the
    resource closed): empty pages of an earlier listing do not count towards a later one's limit."""
    import requests

    from pipelines.sources.rest import NextLink

    def answer(url: str, data: list, next_: str | None) -> requests.Response:
        response = requests.Response()
        response.url, response.status_code = url, 200
        response._content = json.dumps({"data": data, "next": next_}).encode()
        return response

    paginator = NextLink(max_empty_pages=3)
    base = "http://127.0.0.1:1/items"
    for listing in range(3):
        paginator.init_request(requests.Request("GET", base))
        for number in range(2):  # two empty pages linking onward, then the listing is left
            paginator.update_state(answer(f"{base}?l={listing}&p={number}", [], f"{base}?l={listing}&p={number + 1}"), [])
    paginator.init_request(requests.Request("GET", base))
    with pytest.raises(Exception, match="3 empty pages in a row"):
        for number in range(3):
            paginator.update_state(answer(f"{base}?p={number}", [], f"{base}?p={number + 1}"), [])


def test_a_next_link_that_is_not_a_url_fails(env, api):
    # e.g. HAL's {"next": {"href": ...}} read with a path to its parent
    api.routes[CUSTOMERS] = lambda q: page([customer(1)], next={"href": f"{api.url}{CUSTOMERS}?page=2"})
    assert fails(env) == (
        f"pipeline 'shop_api' failed in extract: response from GET {api.url}{CUSTOMERS} has its next link as an object, not a URL"
    )


# 3. An error inside a 200 fails the run and commits nothing of it.


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ({"data": None, "errors": [{"message": "rate limit exceeded"}]}, "null"),
        ({"data": {"error": "maintenance"}, "next": None}, "an object"),
    ],
    ids=["graphql-style errors", "an error object"],
)
def test_an_error_inside_a_200_fails_and_commits_nothing(env, api, body, found):
    api.routes[CUSTOMERS] = lambda q: page([customer(1)], next=None)
    api.routes["/shop/v1/products"] = lambda q: (200, {"Content-Type": "application/json"}, json.dumps(body).encode())
    message = fails(env)
    keys = ", ".join(sorted(body))
    assert message == (
        f"pipeline 'shop_api' failed in extract: response from GET {api.url}/shop/v1/products has 'data' as {found}, "
        f"not a list (it has: {keys})"
    )
    assert api.requests_to(CUSTOMERS) and customers(env) == []  # read before the error, not committed


# 4. Where a listing ends.


def test_an_empty_page_with_a_link_is_followed_and_an_absent_or_empty_next_ends_the_listing(env, api):
    """Each endpoint's listing is an empty page linking to a last one, which says it is the last
    its own way: no `next` (customers), `""` (orders), `false` (products); `null` is what the
    sample server says, in every other test."""
    ends = {CUSTOMERS: {}, "/shop/v1/orders": {"next": ""}, "/shop/v1/products": {"next": False}}
    for path, last in ends.items():
        pages = {
            "1": page([], next=f"{api.url}{path}?page=2"),  # an empty page that is not the last
            "2": page([customer(1), customer(2)], **last),
        }
        api.routes[path] = lambda q, pages=pages: pages[q.get("page", "1")]
    assert load(ShopApi, env).rows == {"customers": 2, "orders": 2, "products": 2}
    assert all(len(api.requests_to(path)) == 2 for path in ends)


# 5. Parameters the server ignores.


def test_a_server_ignoring_page_size_and_updated_since_loads_each_change_once_and_keeps_the_cursor(env, api):
    """Every answer is the whole table on one page, newest first, whatever page_size and
    updated_since say. The cursor never moves back, nothing later is lost, nothing is loaded twice."""
    source = {i: customer(i) for i in range(1, 3 * PAGE_SIZE)}
    api.routes[CUSTOMERS] = lambda q: page(sorted(source.values(), key=lambda r: r["updated_at"], reverse=True), next=None)

    def cursor() -> str:
        state = dlt.attach("toltek_shop_api", pipelines_dir=str(env.work_dir)).state
        return str(state["sources"]["shop_api"]["resources"]["customers"]["incremental"]["updated_at"]["last_value"])

    assert load(ShopApi, env).rows == {"customers": len(source)}
    newest = cursor()
    assert load(ShopApi, env).rows == {}  # the same old records again: nothing to load
    assert cursor() == newest
    source[5] = customer(5, "changed", day=2)  # the newest record now
    assert load(ShopApi, env).rows == {"customers": 1}
    assert cursor() > newest
    assert customers(env) == sorted((r["id"], r["name"]) for r in source.values())
    updated_since = [parse_qs(urlsplit(path).query)["updated_since"][0] for path, _, _ in api.requests_to(CUSTOMERS)]
    assert updated_since[0] == "2000-01-01T00:00:00Z" < updated_since[1] == updated_since[2]
    # The saved cursor is UTC with six fraction digits (compared as text, that is time order); the
    # API is sent RFC 3339 to the second, the form it writes.
    assert newest.endswith(".000000Z") and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", u) for u in updated_since)


# 6. Retry-After as an HTTP-date (RFC 9110 §10.2.3).


def test_retry_after_as_an_http_date_is_honoured_up_to_the_longest_wait(env, api, monkeypatch):
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_RETRY_DELAY", "0.3")  # 30 s in production
    answers = [(503, {"Retry-After": formatdate(time.time() + 86400, usegmt=True)}, b""), page([customer(1)], next=None)]
    api.routes[CUSTOMERS] = lambda q: answers.pop(0)
    load(ShopApi, env)
    first, second = (t for _, _, t in api.requests_to(CUSTOMERS))
    assert 0.25 <= second - first < 5  # waited the longest wait: not at once (backoff is 0 in tests), not a day
    assert customers(env) == [(1, "x")]


# 7. Compression and charsets.


def _body(encoding: str, bom: bytes = b"") -> bytes:
    return bom + json.dumps({"data": [customer(1, "Müller")], "next": None}, ensure_ascii=False).encode(encoding)


def test_compressed_and_declared_charset_bodies_load_their_text_exactly(env, api):
    answers = {
        "customers": (200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, gzip.compress(_body("utf-8"))),
        "orders": (200, {"Content-Type": "application/json; charset=iso-8859-1"}, _body("latin-1")),
        "products": (200, {"Content-Type": "application/json"}, _body("utf-8", bom=b"\xef\xbb\xbf")),  # RFC 8259 §8.1
    }
    for entity, answer in answers.items():
        api.routes[f"/shop/v1/{entity}"] = lambda q, answer=answer: answer
    load(ShopApi, env)
    for entity in answers:
        assert query(env.datalake.path, f"select id, name from raw_shop_api.{entity}") == [(1, "Müller")], entity


@pytest.mark.parametrize(
    ("content_type", "problem"),
    [
        ("application/json", "is not UTF-8 (byte 0xfc at offset {at})"),  # undeclared: UTF-8 (RFC 8259)
        ("application/json; charset=utf-8", "is not UTF-8 (byte 0xfc at offset {at})"),
        ("application/json; charset=latin-9000", "declares an unknown charset 'latin-9000'"),
    ],
    ids=["undeclared", "declared utf-8", "unknown charset"],
)
def test_a_body_that_is_not_in_its_charset_fails_instead_of_loading_replacement_characters(env, api, content_type, problem):
    body = _body("latin-1")
    api.routes[CUSTOMERS] = lambda q: (200, {"Content-Type": content_type}, body)
    at = body.index("ü".encode("latin-1"))
    assert fails(env) == f"pipeline 'shop_api' failed in extract: response from GET {api.url}{CUSTOMERS} " + problem.format(at=at)
    assert customers(env) == []


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
