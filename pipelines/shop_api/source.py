"""The shop's REST API: customers, orders (with their items) and products.

Built on dlt's `rest_api` source: pages linked through `next`, an `updated_at` cursor sent as
`updated_since`, `merge` on `id` so a re-delivered record replaces its earlier version, and each
order's `items` list landing in the child table `orders__items`.

Records change while they are being paged. The same record twice in one load: the newest
`updated_at` wins (dlt's `dedup_sort`). A record seen twice moved pages during the run, so others
may have shifted into pages already read: the next run starts again from that record's earlier
version (`rewind_on_move`). And each run looks back `lag` seconds (one schedule interval) for
records committed late with an earlier `updated_at`; `merge` keeps the re-reads idempotent, and a
re-read record exactly as already loaded is dropped (`skip_unchanged`), so a run that found nothing
new loads nothing. (With `lag` 0, dlt's incremental drops the boundary records itself.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import dlt
from dlt.common.time import ensure_pendulum_datetime
from dlt.common.utils import digest128
from dlt.sources import DltResource
from dlt.sources.rest_api import RESTAPIConfig, rest_api_resources
from requests import Response

from pipelines.errors import SourceDataError
from pipelines.shop_api.settings import ENTITIES, INITIAL_UPDATED_SINCE, PAGE_SIZE


def require_key(key: str) -> Callable[..., Response]:
    """A response check: the body must hold the data selector's key, or the run fails.

    Without it a changed API answering `{"items": [...]}` would load nothing, silently.
    """

    def check(response: Response, *args: object, **kwargs: object) -> Response:
        if not response.ok:
            return response  # HTTP errors are retried or reported as such
        endpoint = response.url.split("?", 1)[0]
        try:
            body = response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            start = " ".join(response.text[:60].split())
            raise SourceDataError(f"response from GET {endpoint} is not JSON ({kind}, starting {start!r})") from None
        if not isinstance(body, dict) or key not in body:
            found = ", ".join(sorted(body)) if isinstance(body, dict) else type(body).__name__
            raise SourceDataError(f"response from GET {endpoint} has no '{key}' (it has: {found or 'nothing'})")
        response.json = lambda *args, **kwargs: body  # the paginator and data selector read it again
        return response

    return check


CURSOR = "updated_at"


def rewind_on_move(resource: str, cursor: str = CURSOR) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A map step (after the incremental): when a record comes back in the same run with another
    cursor value, it moved while the listing was paged, and records behind its old position may
    have moved into pages already read. Hold the resource's saved cursor at the earliest such old
    value, so the next run reads everything from there again."""
    seen: dict[Any, Any] = {}
    rewind: list[Any] = []  # the earliest old cursor value of a record that moved, this run
    run_state: list[dict[str, Any]] = []  # this run's resource state, looked up once

    def step(record: dict[str, Any]) -> dict[str, Any]:
        key, value = record.get("id"), record.get(cursor)
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
        if value not in parsed:
            try:  # ISO 8601 as the API writes it, parsed in C; anything else as dlt reads it
                parsed[value] = datetime.fromisoformat(value) if isinstance(value, str) else ensure_pendulum_datetime(value)
            except ValueError:
                parsed[value] = ensure_pendulum_datetime(value)
            if parsed[value].tzinfo is None:
                parsed[value] = ensure_pendulum_datetime(value)
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


@dlt.source(name="shop_api", section="shop_api", max_table_nesting=1)
def shop_api(
    base_url: str = dlt.config.value,
    access_token: str = dlt.secrets.value,
    initial_updated_since: str = INITIAL_UPDATED_SINCE,
    lag_seconds: float = 0,
) -> Iterable[DltResource]:
    config: RESTAPIConfig = {
        "client": {
            "base_url": base_url,
            "auth": {"type": "bearer", "token": access_token},
            "paginator": {"type": "json_link", "next_url_path": "next"},
        },
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "merge",
            "columns": {CURSOR: {"dedup_sort": "desc"}},
            "endpoint": {
                "data_selector": "data",
                "params": {"page_size": PAGE_SIZE},
                "response_actions": [require_key("data")],
            },
        },
        "resources": [
            {
                "name": entity,
                "endpoint": {
                    "path": entity,
                    "incremental": {
                        "start_param": "updated_since",
                        "cursor_path": CURSOR,
                        "initial_value": initial_updated_since,
                        "lag": lag_seconds,
                    },
                },
            }
            for entity in ENTITIES
        ],
    }
    for resource in rest_api_resources(config):
        if resource.name in ENTITIES:
            # After the incremental step (dlt adds new maps before it), so the held cursor is the
            # one saved; dlt is pinned, and tests/test_source_api.py checks the order holds.
            rewind = rewind_on_move(resource.name)
            resource.add_map(rewind, insert_at=len(resource._pipe))
            if lag_seconds:  # right before the incremental step (tests/test_source_api.py checks)
                steps = [type(step).__name__ for step in resource._pipe.steps]
                skip = skip_unchanged(resource.name, lag_seconds, on_skip=rewind)
                resource.add_filter(skip, insert_at=steps.index("IncrementalResourceWrapper"))
        yield resource
