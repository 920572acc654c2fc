"""The shop's REST API: customers, orders (with their items) and products.

Built on dlt's `rest_api` source: pages linked through `next`, an `updated_at` cursor sent as
`updated_since`, `merge` on `id` so a re-delivered record replaces its earlier version, and each
order's `items` list landing in the child table `orders__items`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import dlt
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
        body = response.json()
        if not isinstance(body, dict) or key not in body:
            found = ", ".join(sorted(body)) if isinstance(body, dict) else type(body).__name__
            endpoint = response.url.split("?", 1)[0]
            raise SourceDataError(f"response from GET {endpoint} has no '{key}' (it has: {found or 'nothing'})")
        return response

    return check


@dlt.source(name="shop_api", section="shop_api", max_table_nesting=1)
def shop_api(
    base_url: str = dlt.config.value,
    access_token: str = dlt.secrets.value,
    initial_updated_since: str = INITIAL_UPDATED_SINCE,
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
                        "cursor_path": "updated_at",
                        "initial_value": initial_updated_since,
                    },
                },
            }
            for entity in ENTITIES
        ],
    }
    yield from rest_api_resources(config)
