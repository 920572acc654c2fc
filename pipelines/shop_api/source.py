"""The shop's REST API: customers, orders (with their items) and products.

Built on dlt's `rest_api` source: pages linked through `next` (never to another origin, nor back
to a page already read: `NextLink`), an `updated_at` cursor sent as `updated_since`, `merge` on
`id` so a re-delivered record replaces its earlier version, and each order's `items` list landing
in the child table `orders__items`.

Records change while they are being paged. The same record twice in one load: the newest
`updated_at` wins (dlt's `dedup_sort`). A record seen twice moved pages during the run, so others
may have shifted into pages already read: the next run starts again from that record's earlier
version (`rewind_on_move`). And each run looks back `lag` seconds (one schedule interval) for
records committed late with an earlier `updated_at`; `merge` keeps the re-reads idempotent, and a
re-read record exactly as already loaded is dropped (`skip_unchanged`), so a run that found nothing
new loads nothing. (With `lag` 0, dlt's incremental drops the boundary records itself.) Those
steps are shared with every REST source: `pipelines/sources/incremental.py` (paging and response
checks: `pipelines/sources/rest.py`).
"""

from __future__ import annotations

from collections.abc import Iterable

import dlt
from dlt.sources import DltResource
from dlt.sources.rest_api import RESTAPIConfig, rest_api_resources

from pipelines.shop_api.settings import ENTITIES, INITIAL_UPDATED_SINCE, PAGE_SIZE
from pipelines.sources.incremental import CURSOR, api_time, guard_incremental, utc_text
from pipelines.sources.rest import NextLink, require_key


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
            "paginator": NextLink("next"),  # json_link, refusing links to another origin or back
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
                        "initial_value": utc_text(initial_updated_since),  # compared with cursors in that form
                        "lag": lag_seconds,
                        "convert": api_time,  # the parameter written as the API writes its times
                    },
                },
            }
            for entity in ENTITIES
        ],
    }
    for resource in rest_api_resources(config):
        if resource.name in ENTITIES:
            guard_incremental(resource, lag_seconds)  # rewind on move; skip unchanged re-reads
        yield resource
