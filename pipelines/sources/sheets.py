"""The Google Sheets API v4 `values` endpoint: one `replace` table per sheet range.

Shared by every Sheets source (see `pipelines/shop_sheets/source.py`). dlt ships no Sheets
source; this one is small. The first row of a range is the header and becomes the column names
(dlt normalizes them to snake case); shorter rows are padded with nulls. Numbers arrive unformatted;
date, time and duration cells arrive as the text the sheet shows them in (their number format:
format a date column as yyyy-mm-dd for ISO dates), not as the API's default serial numbers. In the cloud the bearer
token comes from the job's service account (application-default credentials) — share the
spreadsheet with that account; locally a sample token is passed in.

A sheet has no stable key, so each load replaces its table. A sheet exactly as last loaded (same
digest of its values, kept in the resource's state) is not extracted at all: the run loads no
rows for it and leaves its table alone. The ranges are therefore read when the source is built.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

import dlt
import requests
from dlt.common.exceptions import PipelineStateNotAvailable, SourceSectionNotAvailable
from dlt.common.utils import digest128
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator

from pipelines.errors import SourceDataError

SHEETS_API_URL = "https://sheets.googleapis.com/v4/"
SCOPES = ("https://www.googleapis.com/auth/spreadsheets.readonly",)


def google_access_token() -> str:
    """A token of the application-default credentials (the Cloud Run job's service account)."""
    import google.auth
    import google.auth.transport.requests

    credentials, _ = google.auth.default(scopes=list(SCOPES))
    credentials.refresh(google.auth.transport.requests.Request())
    return credentials.token


def _column(index: int) -> str:
    """A sheet's column letter: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def check_header(sheet: str, values: Sequence[Sequence[Any]], column_name: Callable[[str], str] | None = None) -> None:
    """The contract of a sheet: it has rows, and its first row is a header of distinct names.

    An empty sheet fails rather than replacing the table with nothing (a cleared sheet is far more
    often an accident than a decision; one cleared down to its header is refused at load). A
    duplicate name, two names that become the same column (`column_name`: the schema's naming,
    dlt's snake case by default: "Owner" and "owner"), a blank name above values, or values right
    of the header (the API leaves out a row's trailing empty cells, so a blank header at the end
    is a short header row) are named with their columns: loading would drop or overwrite them.
    """
    if not values:
        raise SourceDataError(f"sheet '{sheet}' is empty; refusing to replace its table with nothing")
    header = [h for h in values[0] if h not in ("", None)]
    if not header or any(not isinstance(h, str) for h in header):
        raise SourceDataError(f"sheet '{sheet}' has no header row: its first row is {list(values[0])[:6]!r}")
    column_name = column_name or _column_naming()
    seen: dict[str, int] = {}
    columns: dict[str, int] = {}
    for i, cell in enumerate(values[0]):
        name = str(cell).strip() if cell is not None else ""
        if not name:
            if any(len(row) > i and row[i] not in ("", None) for row in values[1:]):
                raise SourceDataError(f"sheet '{sheet}' has values under a blank header in column {_column(i)}")
            continue
        if name in seen:
            raise SourceDataError(f"sheet '{sheet}' has header '{name}' twice (columns {_column(seen[name])} and {_column(i)})")
        column = column_name(name)
        if column in columns:
            first = columns[column]
            raise SourceDataError(
                f"sheet '{sheet}' has headers '{str(values[0][first]).strip()}' (column {_column(first)}) and '{name}' "
                f"(column {_column(i)}) that both become column '{column}'"
            )
        seen[name], columns[column] = i, i
    width = len(values[0])
    beyond = [i for row in values[1:] for i in range(width, len(row)) if row[i] not in ("", None)]
    if beyond:
        raise SourceDataError(f"sheet '{sheet}' has values in column {_column(min(beyond))}, right of its header (give the column a header)")


def _column_naming() -> Callable[[str], str]:
    """The naming of the source's schema (dlt's snake case unless configured otherwise)."""
    from dlt.extract.exceptions import CurrentSourceSchemaNotAvailable

    try:
        return dlt.current.source_schema().naming.normalize_identifier
    except CurrentSourceSchemaNotAvailable:  # called outside a source: dlt's default
        from dlt.common.normalizers.naming.snake_case import NamingConvention

        return NamingConvention().normalize_identifier


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


FINGERPRINT_STATE = "fingerprint"


def fingerprint(values: Sequence[Sequence[Any]]) -> str:
    return digest128(json.dumps(values, separators=(",", ":"), default=str))


def loaded_fingerprint(table: str) -> str | None:
    """The fingerprint of the sheet values last extracted into `table` (None outside a pipeline,
    and in a run that reloads from scratch: dlt resets the state only as it extracts, after the
    source decided what to select)."""
    try:
        if dlt.current.pipeline().refresh is not None:
            return None
        return dlt.current.resource_state(table).get(FINGERPRINT_STATE)
    except (PipelineStateNotAvailable, SourceSectionNotAvailable):  # built outside a pipeline run
        return None


def _records(values: Sequence[Sequence[Any]], digest: str) -> Iterator[dict[str, Any]]:
    dlt.current.resource_state()[FINGERPRINT_STATE] = digest
    yield from rows_to_records(values)


def sheet_resources(
    spreadsheet_id: str, ranges: Sequence[str], api_url: str = SHEETS_API_URL, access_token: str | None = None
) -> Iterator[DltResource]:
    """One `replace` resource per range of the spreadsheet, named after its sheet (called from a
    `@dlt.source`, which gives the resources their state)."""
    client = RESTClient(
        base_url=api_url,
        auth=BearerTokenAuth(access_token or google_access_token()),
        paginator=SinglePagePaginator(),
    )

    def read(a1_range: str) -> Sequence[Sequence[Any]]:
        try:
            response = client.get(
                f"spreadsheets/{spreadsheet_id}/values/{quote(a1_range, safe='')}",
                # Dates as the text the sheet shows: by default the API sends a date cell as a
                # serial number (days since 1899-12-30), indistinguishable from any other number.
                params={"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "FORMATTED_STRING", "majorDimension": "ROWS"},
            )
            response.raise_for_status()
        except requests.HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 400 and "Unable to parse range" in exc.response.text:
                raise SourceDataError(
                    f"sheet '{a1_range}' is not in spreadsheet {spreadsheet_id} (a renamed or deleted tab?)"
                ) from None
            raise
        values = response.json().get("values", [])
        check_header(a1_range, values)
        return values

    for a1_range in ranges:
        table = a1_range.split("!", 1)[0].strip("'")
        values = read(a1_range)
        digest = fingerprint(values)

        # A sheet has no stable key: each load replaces the table with the sheet as it is now. An
        # unchanged sheet is not selected (a selected `replace` resource yielding nothing would
        # empty its table).
        # (The function, not a generator object: dlt finds a generator's module by scanning every
        # loaded module's file, about 40 ms a process.)
        resource = dlt.resource(_records, name=table, write_disposition="replace", selected=loaded_fingerprint(table) != digest)
        yield resource(values, digest)
