"""Steps that keep an incremental listing of a REST API exact while records change under it
(shared by every REST source; `guard_incremental` adds them to a `rest_api` resource):

- `rewind_on_move`, after dlt's incremental step: a record seen twice in one run moved while the
  listing was paged; the next run starts again from its earlier position;
- `skip_unchanged`, before it (only with a look-back): a record read again exactly as loaded is
  dropped, so a run that found nothing new loads nothing;
- `utc_cursor`, right before it: every cursor time written in one form (UTC, six fraction
  digits), so that dlt's text comparison is time order, and `api_time`, rest_api's `convert`,
  which sends the start of the listing back the way the API writes its times.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import dlt
from dlt.common.exceptions import (
    PipelineStateNotAvailable,
    ResourceNameNotAvailable,
    SourceSectionNotAvailable,
)
from dlt.common.time import ensure_pendulum_datetime
from dlt.common.utils import digest128
from dlt.extract.items_transform import MapItem
from dlt.sources import DltResource

CURSOR = "updated_at"
FORM_STATE = "cursor_form"  # in the resource state: how the API writes its cursor times
_ISO_TIME = re.compile(  # RFC 3339 allows `t` and `z` in lower case
    r"(?P<date>\d{4}-\d\d-\d\d)(?P<sep>[Tt ])(?P<clock>\d\d:\d\d(?::\d\d)?)(?:[.,](?P<fraction>\d+))?(?P<offset>[Zz]|[+-]\d\d(?::?\d\d)?)?"
)


def utc_text(value: Any) -> Any:
    """An ISO 8601 date and time as UTC with six fraction digits (`2026-06-01T08:00:00.000000Z`),
    the same instant (to the microsecond the destination keeps; a time without an offset is UTC,
    as dlt loads it). Anything else (a date alone, a number, `None`, text) as it is."""
    moment = _moment(value)
    return value if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    match = _ISO_TIME.fullmatch(value.strip())
    if match is None:
        return None
    fraction = (match["fraction"] or "")[:6]  # past microseconds: what the destination keeps
    clock = match["clock"]
    if clock.endswith(":60"):  # a leap second: the last microsecond of the minute before
        clock, fraction = f"{clock[:-3]}:59", "999999"
    offset = (match["offset"] or "").upper()
    if len(offset) == 5:  # +0200
        offset = f"{offset[:3]}:{offset[3:]}"
    elif len(offset) == 3:  # +02
        offset += ":00"
    text = f"{match['date']}T{clock}{'.' + fraction if fraction else ''}{offset}"
    try:
        moment = datetime.fromisoformat(text)
        return (moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError):  # not a real date, or out of range once in UTC
        return None


def _form(value: str) -> dict[str, Any] | None:
    """How `value` writes a time: its separator, fraction digits and offset (`Z`, `+02:00`, none)."""
    match = _ISO_TIME.fullmatch(value.strip())
    if match is None:
        return None
    return {"sep": match["sep"], "fraction": len(match["fraction"] or ""), "offset": match["offset"] or ""}


def utc_cursor(resource: str, cursor: str = CURSOR) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A map step (right before the incremental): the record's cursor written as `utc_text`, and
    how the API writes it kept in the resource state (`api_time` answers in that form).

    dlt's incremental compares text cursors as text: `2026-06-01T10:00:00+02:00` (08:00 UTC)
    sorts after `2026-06-01T09:45:00Z`, and `…:00Z` after `…:00.5Z`. An API writing local times
    (whose offset changes twice a year) or fractions only when not zero made a later record look
    older than the saved cursor, and it was dropped with exit 0. In one form, text order is time
    order; the destination stores the same timestamp."""
    written: dict[str, str] = {}
    run_state: list[dict[str, Any]] = []
    newest: list[str] = []  # the newest cursor this run, as written here

    def step(record: dict[str, Any]) -> dict[str, Any]:
        value = record.get(cursor)
        if not isinstance(value, str):
            return record
        if value not in written:
            written[value] = utc_text(value)
            # The form of the newest time: the one the next run's start is written in (in a
            # listing mixing forms, the form of the record the cursor comes from).
            if written[value] is not value and (not newest or written[value] > newest[0]):
                if not run_state:
                    run_state.append(dlt.current.resource_state(resource))
                newest[:] = [written[value]]
                run_state[0][FORM_STATE] = _form(value)
        record[cursor] = written[value]
        return record

    return step


def api_time(value: Any) -> Any:
    """The incremental's start value as the `updated_since`-style parameter sends it (rest_api's
    `convert`): the instant written the way the API writes its own times (as `utc_cursor` last saw
    them: separator, offset, fraction digits; a time without an offset as the wall time it
    wrote), to the second, floored: the API answers a few records more, which dlt's incremental
    then drops as already read. Before the API's form is known, RFC 3339 in UTC. A value that is
    not a time goes as it is."""
    moment = _moment(value)
    if moment is None:
        return value
    try:
        form = dlt.current.resource_state().get(FORM_STATE) or {}
    except (PipelineStateNotAvailable, SourceSectionNotAvailable, ResourceNameNotAvailable):
        form = {}
    offset = form.get("offset", "Z")
    if offset in ("", "Z", "z"):
        local, suffix = moment, offset
    else:
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[-2:]) if len(offset) > 3 else 0
        try:
            local = moment.astimezone(timezone(sign * timedelta(hours=hours, minutes=minutes)))
        except OverflowError:
            local, offset = moment, "Z"
        suffix = offset
    text = local.strftime(f"%Y-%m-%d{form.get('sep', 'T')}%H:%M:%S")
    digits = min(int(form.get("fraction", 0)), 9)
    return f"{text}{'.' + '0' * digits if digits else ''}{suffix}"


def rewind_on_move(resource: str, cursor: str = CURSOR) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A map step (after the incremental): when a record comes back in the same run with another
    cursor value, it moved while the listing was paged, and records behind its old position may
    have moved into pages already read. Hold the resource's saved cursor at the earliest such old
    value, so the next run reads everything from there again."""
    seen: dict[Any, Any] = {}
    written: dict[Any, Any] = {}  # cursor values as `utc_text` writes them, once per value
    rewind: list[Any] = []  # the earliest old cursor value of a record that moved, this run
    run_state: list[dict[str, Any]] = []  # this run's resource state, looked up once

    def step(record: dict[str, Any]) -> dict[str, Any]:
        # As `utc_cursor` writes it: a record `skip_unchanged` dropped comes as the API wrote it.
        value = record.get(cursor)
        if isinstance(value, str):
            value = written[value] if value in written else written.setdefault(value, utc_text(value))
        key = record.get("id")
        earlier = seen.setdefault(key, value)
        if earlier is not None and value is not None and earlier != value:
            rewind[:] = [min([*rewind, earlier, value])]
        if not rewind:
            return record
        if not run_state:
            run_state.append(dlt.current.resource_state(resource))
        state = run_state[0].get("incremental", {}).get(cursor)
        if rewind and state is not None and state.get("last_value") is not None:
            state["last_value"] = min(state["last_value"], rewind[0])
        return record

    return step


LOOK_BACK_STATE = "look_back"
_PRUNE_AT = 256  # digests kept before the first pruning of a run (then twice what pruning left)


def skip_unchanged(
    resource: str, lag_seconds: float, on_skip: Callable[[dict[str, Any]], object], cursor: str = CURSOR
) -> Callable[[dict[str, Any]], bool]:
    """A filter step (before the incremental): drop a record read again by the look-back that is
    exactly as already loaded. The resource state keeps a digest of each record loaded within
    `lag_seconds` of the newest cursor value (older ones are not read again: each run starts `lag`
    before it); a late-committed or changed record has a digest not seen yet and is loaded.

    Dropped before the incremental, a run that finds nothing new leaves the incremental's state
    (and so the pipeline's) as it was: there is nothing to load at all. `on_skip` (the rewind step)
    still sees each dropped record, so a record that moves while paged is noticed."""
    lag = timedelta(seconds=lag_seconds)
    prune_at = [_PRUNE_AT]
    run_state: list[dict[str, Any]] = []  # this run's resource state, looked up once
    parsed: dict[Any, Any] = {}  # cursor values parsed once per run

    def moment(value: Any) -> Any:
        if value not in parsed:  # an ISO 8601 time as `utc_text` reads it; anything else as dlt does
            parsed[value] = _moment(value) or ensure_pendulum_datetime(value)
        return parsed[value]

    def keep(record: dict[str, Any]) -> bool:
        if not run_state:
            run_state.append(dlt.current.resource_state(resource))
        state = run_state[0]
        seen: dict[str, Any] = state.setdefault(LOOK_BACK_STATE, {})
        digest = digest128(json.dumps(record, sort_keys=True, separators=(",", ":"), default=str))
        if digest in seen:
            on_skip(record)
            return False
        seen[digest] = record.get(cursor)
        if len(seen) > prune_at[0]:
            newest = state.get("incremental", {}).get(cursor, {}).get("last_value")
            if newest is not None:
                oldest_read_again = moment(newest) - lag
                for old in [d for d, value in seen.items() if value is None or moment(value) < oldest_read_again]:
                    del seen[old]
            prune_at[0] = max(_PRUNE_AT, 2 * len(seen))
        return True

    return keep


def guard_incremental(resource: DltResource, lag_seconds: float, cursor: str = CURSOR) -> DltResource:
    """Add the rewind step after `resource`'s incremental step and, with a look-back (`lag_seconds`),
    the filter of unchanged re-reads right before it; a resource without an incremental step is
    returned as it is. dlt is pinned, and tests/test_source_api.py checks the order holds (dlt puts
    a new map before its incremental step unless told where)."""
    steps = [type(step).__name__ for step in resource._pipe.steps]
    if "IncrementalResourceWrapper" not in steps:
        return resource
    rewind = rewind_on_move(resource.name, cursor)
    resource.add_map(rewind, insert_at=len(resource._pipe))
    resource._pipe.insert_step(_UtcCursorStep(resource.name, cursor), steps.index("IncrementalResourceWrapper"))
    if lag_seconds:
        # Before the cursor is rewritten: digests of records as the API sent them.
        skip = skip_unchanged(resource.name, lag_seconds, on_skip=rewind, cursor=cursor)
        resource.add_filter(skip, insert_at=steps.index("IncrementalResourceWrapper"))
    return resource


class _UtcCursorStep(MapItem):
    """`utc_cursor`'s step. Bound by the pipe just before dlt's incremental step reads the saved
    cursor, it first rewrites a cursor saved before cursors were written as `utc_text` (the API's
    own text, say `…10:19:00+02:00`): as text, every new value would sort below it and be dropped.
    The saved cursor's form is kept for `api_time` when none is known yet."""

    def __init__(self, resource: str, cursor: str) -> None:
        super().__init__(utc_cursor(resource, cursor))
        self._cursor = cursor

    def bind(self, pipe: Any) -> _UtcCursorStep:
        _saved_cursor_in_utc(pipe.name, self._cursor)
        return self


def _saved_cursor_in_utc(resource: str, cursor: str) -> None:
    try:
        state = dlt.current.resource_state(resource)
    except (PipelineStateNotAvailable, SourceSectionNotAvailable):  # evaluated outside a pipeline run
        return
    saved = state.get("incremental", {}).get(cursor) or {}
    value = saved.get("last_value")
    if isinstance(value, str) and utc_text(value) != value:
        state.setdefault(FORM_STATE, _form(value))
        saved["last_value"] = utc_text(value)
