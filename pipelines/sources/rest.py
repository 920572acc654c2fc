"""Steps shared by REST API sources built on dlt's `rest_api` (see `pipelines/shop_api/source.py`).

- `require_key`: a response check; the body must be JSON (strictly decoded) holding the data
  selector's key with a list, or the run fails.
- `NextLink`: dlt's `json_link` paginator, refusing a link to another origin (the token would go
  there) or back to a page already read (the listing would never end).

The steps that keep an incremental listing exact are in `pipelines/sources/incremental.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator
from requests import PreparedRequest, Request, Response

from pipelines.errors import SourceDataError


def require_key(key: str) -> Callable[..., Response]:
    """A response check: the body must be JSON holding the data selector's key with a list of
    records, or the run fails.

    Without it a changed API answering `{"items": [...]}`, or an error as `{"data": null,
    "errors": [...]}`, would load nothing, silently. The body is decoded strictly in the charset
    the response declares, else UTF-8 (RFC 8259): `requests` would put U+FFFD in place of bytes
    that are not, and load the damaged text.
    """

    def check(response: Response, *args: object, **kwargs: object) -> Response:
        if not response.ok or response.is_redirect:
            return response  # HTTP errors are retried or reported as such; redirects followed
        endpoint = response.url.split("?", 1)[0]
        body = _json_body(response, endpoint)
        if not isinstance(body, dict) or key not in body:
            found = ", ".join(sorted(body)) if isinstance(body, dict) else type(body).__name__
            raise SourceDataError(f"response from GET {endpoint} has no '{key}' (it has: {found or 'nothing'})")
        if not isinstance(body[key], list):
            what = _JSON_TYPES.get(type(body[key]), "a value")
            raise SourceDataError(f"response from GET {endpoint} has '{key}' as {what}, not a list (it has: {', '.join(sorted(body))})")
        response.json = lambda *args, **kwargs: body  # the paginator and data selector read it again
        return response

    return check


_JSON_TYPES = {type(None): "null", dict: "an object", str: "a string", bool: "a boolean", int: "a number", float: "a number"}


def _json_body(response: Response, endpoint: str) -> Any:
    """The parsed body, decoded in the charset the Content-Type declares, else UTF-8 (`requests`
    would guess one, and replace what does not decode)."""
    header = Message()
    header["Content-Type"] = response.headers.get("Content-Type", "")
    charset = header.get_content_charset() or "utf-8"
    codec = "utf-8-sig" if charset.replace("_", "-") in ("utf-8", "utf8") else charset  # a BOM is allowed
    undecodable = None
    try:
        text = response.content.decode(codec)
    except LookupError:
        raise SourceDataError(f"response from GET {endpoint} declares an unknown charset {charset!r}") from None
    except UnicodeDecodeError as exc:
        text, undecodable = response.content.decode(codec, errors="replace"), exc
    try:
        body = json.loads(text)
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        start = " ".join(text[:60].split())
        raise SourceDataError(f"response from GET {endpoint} is not JSON ({kind}, starting {start!r})") from None
    if undecodable is not None:  # JSON, but with bytes that are not text in its charset
        byte, at = undecodable.object[undecodable.start], undecodable.start
        raise SourceDataError(f"response from GET {endpoint} is not {charset.upper()} (byte 0x{byte:02x} at offset {at})")
    return body


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of `url` (RFC 6454): where a token may be sent."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


MAX_EMPTY_PAGES = 1000  # in a row, each linking onward: at 0.2 s a page, about 3 minutes


class NextLink(JSONLinkPaginator):
    """dlt's `json_link` paginator, careful with the link it follows (at `next_url_path`).

    - A link to another origin (scheme, host, port) than the listing's first page is refused:
      the client's auth would send the token there with the request.
    - A link back to a page already read in this listing is refused: it would page forever.
    - `max_empty_pages` (default `MAX_EMPTY_PAGES`) empty pages in a row that each link to yet
      another page stop the listing with an error: an API whose cursor moves without ever
      returning data would page forever on fresh URLs. Empty pages before data, which APIs that
      filter each page after paging return, are followed up to that many in a row; raise it for
      such an API.
    - `null`, a missing key, `""` and `false` all end the listing (dlt would request `""`).
    """

    def __init__(self, next_url_path: str = "next", max_empty_pages: int | None = None) -> None:
        super().__init__(next_url_path)
        self.max_empty_pages = max_empty_pages or MAX_EMPTY_PAGES
        self._origin: tuple[str, str, int | None] | None = None
        self._read: set[str] = set()  # URLs of the pages read in this listing
        self._pages = 0
        self._empty = 0  # empty pages in a row, each with a link onward
        self._endpoint = ""

    def init_request(self, request: Request) -> None:
        super().init_request(request)
        self._origin, self._read, self._pages, self._empty = _origin(request.url), set(), 0, 0

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        if not self._next_reference:
            self._next_reference = None
        elif not isinstance(self._next_reference, str):
            what = _JSON_TYPES.get(type(self._next_reference), "a list")
            raise SourceDataError(f"response from GET {response.url.split('?', 1)[0]} has its next link as {what}, not a URL")
        self._read.update(r.url for r in (*response.history, response))  # a redirect's URL too
        self._pages += 1
        self._endpoint = response.url.split("?", 1)[0]
        self._empty = self._empty + 1 if self._next_reference and not data else 0
        if self._empty >= self.max_empty_pages:
            raise SourceDataError(
                f"response from GET {self._endpoint}: {self._empty} empty pages in a row, each linking to another; "
                "stopped there: a listing of nothing but empty pages may never end"
            )

    def update_request(self, request: Request) -> None:
        super().update_request(request)  # resolves a relative link against the page's URL
        if self._next_reference is None:
            return
        prepared = PreparedRequest()
        prepared.prepare_url(request.url, None)
        scheme, host, port = _origin(prepared.url)
        if (scheme, host, port) != self._origin:
            raise SourceDataError(
                f"response from GET {self._endpoint} links its next page to another origin ({scheme}://{host}:{port}); "
                "not followed: the token would be sent there"
            )
        if prepared.url in self._read:
            raise SourceDataError(
                f"response from GET {self._endpoint} links its next page back to a page already read "
                f"(after {self._pages} pages); the listing would never end"
            )
