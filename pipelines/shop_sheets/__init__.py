"""Google Sheets through the Sheets API v4 `values` endpoint: one table per sheet range.

dlt ships no Sheets source; this one is small. The first row of a range is the header and becomes
the column names (dlt normalizes them to snake case); shorter rows are padded with nulls. In the
cloud the bearer token comes from the job's service account (application-default credentials) —
share the spreadsheet with that account; locally a sample token is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

import dlt
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator

from pipelines.shop_sheets.settings import SCOPES, SHEETS_API_URL


def google_access_token() -> str:
    """A token of the application-default credentials (the Cloud Run job's service account)."""
    import google.auth
    import google.auth.transport.requests

    credentials, _ = google.auth.default(scopes=list(SCOPES))
    credentials.refresh(google.auth.transport.requests.Request())
    return credentials.token


def rows_to_records(values: Sequence[Sequence[Any]]) -> Iterator[dict[str, Any]]:
    """Header row -> column names; every following non-empty row -> one record."""
    if not values:
        return
    header = [str(h).strip() for h in values[0]]
    for row in values[1:]:
        if not any(cell not in ("", None) for cell in row):
            continue
        padded = list(row) + [None] * (len(header) - len(row))
        yield {column: (None if value == "" else value) for column, value in zip(header, padded) if column}


@dlt.source(name="shop_sheets", section="shop_sheets")
def google_sheets(
    spreadsheet_id: str = dlt.config.value,
    ranges: Sequence[str] = dlt.config.value,
    api_url: str = SHEETS_API_URL,
    access_token: str | None = None,
) -> Iterable[DltResource]:
    client = RESTClient(
        base_url=api_url,
        auth=BearerTokenAuth(access_token or google_access_token()),
        paginator=SinglePagePaginator(),
    )

    for a1_range in ranges:
        table = a1_range.split("!", 1)[0].strip("'")

        def read_range(a1_range: str = a1_range) -> Iterator[dict[str, Any]]:
            response = client.get(
                f"spreadsheets/{spreadsheet_id}/values/{quote(a1_range, safe='')}",
                params={"valueRenderOption": "UNFORMATTED_VALUE", "majorDimension": "ROWS"},
            )
            response.raise_for_status()
            yield from rows_to_records(response.json().get("values", []))

        # A sheet has no stable key: each run replaces the table with the sheet as it is now.
        yield dlt.resource(read_range, name=table, write_disposition="replace")
