"""A small HTTP server on 127.0.0.1 that serves the sample data set the way production does.

- ``GET /shop/v1/{customers,orders,products}``: the shop's REST API. Bearer token, pages linked
  through ``next``, ``updated_since`` filters on ``updated_at`` (inclusive), results ordered by
  ``(updated_at, id)``.
- ``GET /api/<name>/<entity>``: the same for another pipeline's API, from ``api/<name>/<entity>.jsonl``.
  Each API path takes the token `secrets.json` gives it (``"path"``), and only that one.
- ``GET /sheets/v4/spreadsheets/{id}/values/{range}``: the Google Sheets API v4 ``values``
  endpoint: ``{"range", "majorDimension", "values"}``, ``values`` omitted for an empty range. A
  cell stored as ``{"date": "2025-01-15"}`` (or a date and time) is a date-formatted cell: sent as
  its serial number (days since 1899-12-30) unless ``dateTimeRenderOption=FORMATTED_STRING`` asks
  for its text, as the API does.

The local run starts it on an ephemeral port and stops it afterwards; tests change its data
through `SampleServer.store`, count its requests through `SampleServer.requests`, and inject
faults (`SampleServer.inject`, or `TOLTEK_SAMPLE_FAULTS` as a JSON list for a whole run): an HTTP
status with an optional Retry-After, a connection reset, a slow response, a response held until a
file exists, or a given body.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from pipelines.errors import UserError
from pipelines.samples import DATA_DIR, SAMPLE_GOOGLE_TOKEN, SAMPLE_TOKENS
from pipelines.samples.records import Records

API_PREFIX = "/shop/v1/"  # the shop's API: api/<entity>.jsonl
APIS_PREFIX = "/api/"  # another pipeline's API: api/<name>/<entity>.jsonl at /api/<name>/<entity>
SHEETS_PREFIX = "/sheets/v4/spreadsheets/"
MAX_PAGE_SIZE = 1000


@dataclass
class Fault:
    """What the next `times` requests under `path` get instead of a normal answer."""

    path: str = "/"
    status: int | None = None  # e.g. 429, 503, 401
    retry_after: int | None = None
    reset: bool = False  # drop the connection without an answer
    delay: float = 0.0  # seconds before answering
    hold_until: str | None = None  # answer only once this file exists (a test's gate), at most `delay` s
    body: object | None = None  # answer 200 with this JSON instead
    raw: str | None = None  # answer 200 with this text (e.g. a proxy's HTML page) instead
    times: int = 1  # -1: every request

    @classmethod
    def from_env(cls) -> list[Fault]:
        return [cls(**spec) for spec in json.loads(os.environ.get("TOLTEK_SAMPLE_FAULTS") or "[]")]


@dataclass
class SampleStore:
    """The data the server serves, mutable so tests can add and change records."""

    api: dict[str, Records] = field(default_factory=dict)  # entity, or "<name>/<entity>" under /api/
    spreadsheets: dict[str, dict[str, list[list]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called with (entity, page) before a page is served: a test changes records while a client
    # pages through them, as people do in a live system (records move between pages).
    before_page: Callable[[str, int], None] | None = None

    @classmethod
    def load(cls, data_dir: Path = DATA_DIR) -> SampleStore:
        """Read `data_dir`'s api/*.jsonl and sheets/*.json; a file that cannot be read is one `UserError`."""
        store = cls()
        path = data_dir
        try:
            for path in sorted((data_dir / "api").glob("*.jsonl")):
                store.api[path.stem] = Records(path)
            for path in sorted((data_dir / "api").glob("*/*.jsonl")):
                store.api[f"{path.parent.name}/{path.stem}"] = Records(path)
            for path in sorted((data_dir / "sheets").glob("*.json")):
                store.spreadsheets[path.stem] = json.loads(path.read_text())["sheets"]
        except OSError as exc:
            raise UserError(f"sample data: cannot read {exc.filename or path}: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError) as exc:
            detail = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise UserError(f"sample data: {path} is not valid sample data ({detail})") from None
        return store

    def upsert(self, entity: str, *records: dict) -> None:
        with self.lock:
            for record in records:
                self.api.setdefault(entity, Records())[record["id"]] = record

    def page(self, entity: str, updated_since: str | None, page: int, size: int) -> tuple[list, bool]:
        if self.before_page is not None:
            self.before_page(entity, page)
        with self.lock:
            return self.api[entity].page(updated_since, page, size)


def _rendered(cell: object, formatted: bool) -> object:
    """A cell as the Sheets API sends it with `valueRenderOption=UNFORMATTED_VALUE`: a date cell
    as its text when `formatted` (`dateTimeRenderOption=FORMATTED_STRING`), else as its serial
    number, the API's default (whole days since 1899-12-30, the time as a fraction of a day)."""
    if not (isinstance(cell, dict) and "date" in cell):
        return cell
    from datetime import datetime

    text = str(cell["date"])
    if formatted:
        return text
    delta = datetime.fromisoformat(text) - datetime(1899, 12, 30)
    return delta.days + delta.seconds / 86400


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle's algorithm the body can wait for the
    # client's delayed ACK of the headers: 40 ms a response when a client asks for pages back to
    # back on one connection (measured), latency that belongs to no API.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet by design
        return

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        parts = urlsplit(self.path)
        self.server.owner.record(parts.path)
        fault = self.server.owner.take_fault(parts.path)
        if fault and self._fault(fault):
            return
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path.startswith(API_PREFIX):
            self._api(API_PREFIX, parts.path[len(API_PREFIX) :], query)
        elif parts.path.startswith(APIS_PREFIX):
            self._api(APIS_PREFIX, parts.path[len(APIS_PREFIX) :], query)
        elif parts.path.startswith(SHEETS_PREFIX):
            self._sheets(parts.path[len(SHEETS_PREFIX) :], query)
        else:
            self._send(404, {"error": f"no such path {parts.path}"})

    def _fault(self, fault: Fault) -> bool:
        """Apply `fault`; True when the request has been answered (or dropped)."""
        if fault.hold_until:
            gate, deadline = Path(fault.hold_until), time.monotonic() + (fault.delay or 300)
            while not gate.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        elif fault.delay:
            time.sleep(fault.delay)
        if fault.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return True
        if fault.status:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            self._send(fault.status, {"error": f"injected {fault.status}"}, headers)
            return True
        if fault.body is not None:
            self._send(200, fault.body)
            return True
        if fault.raw is not None:
            payload = fault.raw.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return True
        return False

    def _authorized(self, token: str | None) -> bool:
        if token is not None and self.headers.get("Authorization") == f"Bearer {token}":
            return True
        self._send(401, {"error": "unauthorized"})
        return False

    def _api(self, prefix: str, entity: str, query: dict[str, str]) -> None:
        """`entity` of the API under `prefix`: a name under /shop/v1/, `<name>/<entity>` under /api/."""
        if not self._authorized(self.server.owner.token_for(prefix + entity)):
            return
        store = self.server.owner.store
        levels = 1 if prefix == APIS_PREFIX else 0  # "<name>/<entity>" under /api/
        if entity.count("/") != levels or entity not in store.api:
            self._send(404, {"error": f"unknown resource '{entity}'"})
            return
        try:
            page = int(query.get("page", "1"))
            size = min(int(query.get("page_size", "100")), MAX_PAGE_SIZE)
            if page < 1 or size < 1:
                raise ValueError
        except ValueError:
            self._send(400, {"error": "page and page_size must be positive integers"})
            return
        try:
            rows, more = store.page(entity, query.get("updated_since"), page, size)
        except ValueError:
            self._send(400, {"error": "updated_since must be an ISO 8601 time"})
            return
        next_url = None
        if more:
            next_query = {**query, "page": str(page + 1), "page_size": str(size)}
            next_url = f"{self.server.owner.url}{prefix}{entity}?{urlencode(next_query)}"
        self._send(200, {"data": rows, "page": page, "next": next_url})

    def _sheets(self, rest: str, query: dict[str, str]) -> None:
        if not self._authorized(self.server.owner.google_token):
            return
        spreadsheet_id, _, tail = rest.partition("/values/")
        sheets = self.server.owner.store.spreadsheets.get(spreadsheet_id)
        if sheets is None or not tail:
            self._send(404, {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}})
            return
        a1_range = unquote(tail)
        sheet = a1_range.split("!", 1)[0].strip("'")
        if sheet not in sheets:
            message = f"Unable to parse range: {a1_range}"
            self._send(400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})
            return
        body: dict[str, object] = {"range": a1_range, "majorDimension": "ROWS"}
        if sheets[sheet]:
            formatted = query.get("dateTimeRenderOption") == "FORMATTED_STRING"
            body["values"] = [[_rendered(cell, formatted) for cell in row] for row in sheets[sheet]]
        self._send(200, body)

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: SampleServer


class SampleServer:
    """The sample server; use `running()` or `start()`/`stop()`."""

    def __init__(self, store: SampleStore | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = store or SampleStore.load()
        self.requests: list[str] = []
        self.tokens = dict(SAMPLE_TOKENS)  # path prefix -> the token it takes
        self.google_token = SAMPLE_GOOGLE_TOKEN
        self.faults: list[Fault] = Fault.from_env()
        self._fault_lock = threading.Lock()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def api_token(self) -> str | None:
        """The token of the shop's API (a test rotates it)."""
        return self.tokens.get(API_PREFIX)

    @api_token.setter
    def api_token(self, token: str) -> None:
        self.tokens[API_PREFIX] = token

    def token_for(self, path: str) -> str | None:
        """The token the longest path prefix of `path` takes (None: no token opens it)."""
        matching = [prefix for prefix in self.tokens if path.startswith(prefix)]
        return self.tokens[max(matching, key=len)] if matching else None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def record(self, path: str) -> None:
        self.requests.append(path)

    def inject(self, *faults: Fault) -> None:
        with self._fault_lock:
            self.faults.extend(faults)

    def take_fault(self, path: str) -> Fault | None:
        with self._fault_lock:
            for fault in self.faults:
                if path.startswith(fault.path) and fault.times != 0:
                    fault.times -= 1 if fault.times > 0 else 0
                    return fault
        return None

    def start(self) -> SampleServer:
        # A short poll interval: stopping the server waits for one poll (0.5 s by default; every
        # local run and many tests stop one). Waking up 100 times a second costs next to nothing.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), name="sample-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join()


@contextmanager
def running(store: SampleStore | None = None) -> Iterator[SampleServer]:
    server = SampleServer(store).start()
    try:
        yield server
    finally:
        server.stop()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Serve the sample shop API and spreadsheet.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    server = SampleServer(SampleStore.load(args.data), port=args.port)
    print(f"serving {args.data} on {server.url}", flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
