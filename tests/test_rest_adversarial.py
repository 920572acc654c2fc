"""A REST API misbehaving the way real ones and their gateways do: links to another host or back to
a page already read, errors inside a 200, odd last pages, ignored parameters, Retry-After as a
date, compressed and non-UTF-8 bodies. Each run either loads exactly the source or fails in one
line naming the endpoint; none sends the token elsewhere, hangs, or ends with exit 0 and less.

The API is a scripted server on 127.0.0.1 (`scripted_api.py`; a second one, on its own port, is
another origin): each test gives the endpoints it needs their answers; any other is an empty last
page. Cursor times as APIs write them are in test_rest_cursor_times.py.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from email.utils import formatdate
from urllib.parse import parse_qs, urlsplit

import dlt
import pytest
from conftest import query
from scripted_api import CUSTOMERS, TOKEN, Answer, api, customer, customers, env, fails, other, page  # noqa: F401 - fixtures

from pipelines.loading import load
from pipelines.shop_api.pipeline import ShopApi
from pipelines.shop_api.settings import PAGE_SIZE

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
