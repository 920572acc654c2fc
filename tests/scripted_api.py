"""A scripted REST API on 127.0.0.1 for the adversarial source tests: each test gives the endpoints
it needs their answers (a function of the query); any other is an empty last page. A second one,
on its own port, is another origin.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import query

from pipelines import environments
from pipelines.errors import PipelineFailed
from pipelines.loading import load
from pipelines.samples import SAMPLE_SECRETS
from pipelines.shop_api.pipeline import ShopApi

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
