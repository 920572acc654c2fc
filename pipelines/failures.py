"""What went wrong inside a failed dlt step, said for a person in one line: the exception that
tells (a contract refusal, an HTTP status, a signal), HTTP failures naming their endpoint without
its query, dlt's schema contract in its own terms, secret values never shown."""

from __future__ import annotations

from dlt.common.destination.exceptions import DestinationTerminalException
from dlt.common.exceptions import SignalReceivedException
from dlt.common.schema.exceptions import DataValidationError, SchemaException

from pipelines.errors import SourceDataError


def root_cause(exc: BaseException) -> BaseException:
    """The exception that says what went wrong inside a dlt step failure.

    Follows explicit causes first; an implicit context counts only when it is not the
    StopIteration of a generator that was being resumed.
    """
    import requests

    telling = (SourceDataError, SignalReceivedException, DataValidationError, SchemaException, DestinationTerminalException, requests.RequestException)
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, telling):
            return exc
        inner = exc.__cause__
        if inner is None and not isinstance(exc.__context__, StopIteration | GeneratorExit):
            inner = exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def describe(cause: BaseException, pipeline: str = "NAME") -> str:
    """What went wrong, for a person: HTTP failures name the endpoint (without its query); a
    frozen type says how `pipeline` reloads whole if the change is meant."""
    import requests

    if isinstance(cause, SourceDataError):
        return str(cause)
    if isinstance(cause, DataValidationError):  # dlt's schema contract said no
        return contract_message(cause, pipeline)
    if isinstance(cause, requests.HTTPError) and cause.response is not None:
        response = cause.response
        endpoint = response.url.split("?", 1)[0]
        return f"HTTP {response.status_code} {response.reason} from {response.request.method} {endpoint}"
    if isinstance(cause, requests.Timeout | requests.ConnectionError) and cause.request is not None:
        what = "no answer in time" if isinstance(cause, requests.Timeout) else "connection failed"
        return f"{what} from {cause.request.method} {cause.request.url.split('?', 1)[0]} (after retries)"
    return f"{type(cause).__name__}: {cause}"


def contract_message(error: BaseException, pipeline: str = "NAME") -> str:
    table, column = getattr(error, "table_name", "?"), getattr(error, "column_name", None) or ""
    entity, mode = getattr(error, "schema_entity", ""), getattr(error, "contract_mode", "")
    item = getattr(error, "data_item", None) or {}
    where = f" (row id {item['id']})" if isinstance(item, dict) and "id" in item else ""
    if entity == "data_type":
        base, _, variant = column.partition("__v_")
        return (
            f"schema contract: {table}.{base} received a {variant or 'different'} value{where}; its data type is frozen "
            f"(if the change is meant, `toltek run {pipeline} --refresh` reloads the pipeline's tables whole)"
        )
    if entity == "columns":
        return f"schema contract: {table} received new column {column}{where}; columns are {mode}"
    return f"schema contract: new table {table}; tables are {mode}"


def one_line(text: str, secrets: list[str]) -> str:
    """`text` on one line of at most 400 characters, each secret value replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[secret]")
    return " ".join(text.split())[:400]
