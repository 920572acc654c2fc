"""One API entity of the sample data set, read from its JSONL file on demand.

Only an index stays in memory (each record's id, `updated_at` and offset in the file) plus the
records a test changed, so a large sample (`generate --scale 50`) costs the server little memory;
the listing sorted by `(updated_at, id)` is built once per change, not once per page. Times are
compared as the instants they name, as an API's database compares them: `2026-06-01T10:00:00+02:00`
comes before `2026-06-01T09:30:00Z` (a time without an offset is UTC).
"""

from __future__ import annotations

import bisect
import json
import threading
from collections.abc import Iterator, MutableMapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

_DELETED = object()


def instant(text: str) -> datetime:
    """The moment an ISO 8601 time names (UTC when it gives no offset)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


class Records(MutableMapping[Any, dict]):
    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._offsets: dict[Any, int] = {}
        self._cursor: dict[Any, str] = {}
        self._changed: dict[Any, Any] = {}  # key -> record, or _DELETED
        self._listing: list[tuple[datetime, Any]] | None = None
        self._lock = threading.RLock()
        self._file = None
        if path is not None:
            with open(path, "rb") as f:
                offset = 0
                for line in f:
                    if line.strip():
                        record = json.loads(line)
                        self._offsets[record["id"]] = offset
                        self._cursor[record["id"]] = record["updated_at"]
                    offset += len(line)

    def _read(self, key: Any) -> dict:
        with self._lock:
            if self._file is None:
                self._file = open(self._path, "rb")  # noqa: SIM115 - kept open for the server's life
            self._file.seek(self._offsets[key])
            return json.loads(self._file.readline())

    def __getitem__(self, key: Any) -> dict:
        changed = self._changed.get(key)
        if changed is _DELETED:
            raise KeyError(key)
        if changed is not None:
            return changed
        if key not in self._offsets:
            raise KeyError(key)
        return self._read(key)

    def __setitem__(self, key: Any, record: dict) -> None:
        with self._lock:
            self._changed[key] = record
            self._listing = None

    def __delitem__(self, key: Any) -> None:
        with self._lock:
            self[key]  # KeyError when absent
            self._changed[key] = _DELETED
            self._listing = None

    def __iter__(self) -> Iterator[Any]:
        for key in self._offsets:
            if self._changed.get(key) is not _DELETED:
                yield key
        for key, value in list(self._changed.items()):
            if key not in self._offsets and value is not _DELETED:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def listing(self) -> list[tuple[datetime, Any]]:
        """(updated_at as an instant, key) of every record, sorted: what the API pages through."""
        with self._lock:
            if self._listing is None:
                cursor = dict(self._cursor)
                for key, value in self._changed.items():
                    if value is _DELETED:
                        cursor.pop(key, None)
                    else:
                        cursor[key] = value["updated_at"]
                self._listing = sorted((instant(at), key) for key, at in cursor.items())
            return self._listing

    def page(self, updated_since: str | None, page: int, size: int) -> tuple[list[dict], bool]:
        """Page `page` (from 1) of `size` records with `updated_at >= updated_since`, in order."""
        listing = self.listing()
        first = bisect.bisect_left(listing, (instant(updated_since),)) if updated_since else 0
        start = first + (page - 1) * size
        return [self[key] for _, key in listing[start : start + size]], start + size < len(listing)
