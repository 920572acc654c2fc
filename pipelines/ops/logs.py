"""`toltek logs`: a job's log entries from Cloud Logging, listed and optionally followed.

Entries are selected by the job's monitored resource (`cloud_run_job` and its name), a start time,
and for one execution its label `run.googleapis.com/execution_name`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from rich.text import Text

from pipelines.console_text import printable
from pipelines.errors import UserError
from pipelines.ops.display import SEVERITY_STYLES, long_time
from pipelines.ops.errors import READ_LOGS, Call, explained
from pipelines.ops.targets import Target

_SINCE = re.compile(r"(?P<n>[1-9][0-9]*)(?P<unit>[smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
EXECUTION_LABEL = "run.googleapis.com/execution_name"
DEFAULT_SINCE = "1h"
# With --execution and no --since: as far back as Cloud Run lists executions.
DEFAULT_SINCE_FOR_EXECUTION = "7d"
DEFAULT_LIMIT = 1000


MAX_SINCE = timedelta(days=3650)  # the longest retention a log bucket can be given


def parse_since(text: str) -> timedelta:
    """`30m`, `1h`, `2d` (or `45s`) as a duration; anything else is a user error."""
    match = _SINCE.fullmatch(text.strip())
    if not match:
        raise UserError(f"--since '{text}': expected a number and a unit (s, m, h or d), e.g. 30m, 1h, 2d")
    unit = timedelta(**{_UNITS[match["unit"]]: 1})
    if int(match["n"]) > MAX_SINCE // unit:  # compared as numbers: a huge one is no `timedelta`
        raise UserError(f"--since '{text}': at most {MAX_SINCE.days}d (Cloud Logging keeps entries at most 10 years)")
    return int(match["n"]) * unit


def execution_id(text: str) -> str:
    """An execution's short name, from it or its full resource name."""
    return text.rstrip("/").rsplit("/", 1)[-1]


def log_filter(job: str, since: datetime, execution: str | None = None) -> str:
    """The Logging query for the job's entries from `since` on (of one execution when given)."""
    moment = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = ['resource.type="cloud_run_job"', f'resource.labels.job_name="{job}"', f'timestamp>="{moment}"']
    if execution:
        parts.append(f'labels."{EXECUTION_LABEL}"="{execution_id(execution)}"')
    return " AND ".join(parts)


@dataclass(frozen=True)
class Entry:
    """One log entry as the command shows it."""

    insert_id: str
    time: datetime
    severity: str
    message: str
    execution: str

    @classmethod
    def from_proto(cls, entry: Any) -> Entry:
        """From a `google.cloud.logging_v2.types.LogEntry`."""
        from google.logging.type import log_severity_pb2

        stamp = entry.timestamp if "timestamp" in entry else entry.receive_timestamp
        return cls(
            insert_id=entry.insert_id,
            time=datetime.fromtimestamp(stamp.timestamp(), timezone.utc),
            severity=log_severity_pb2.LogSeverity.Name(entry.severity),
            message=_message(entry),
            execution=entry.labels.get(EXECUTION_LABEL, ""),
        )

    def line(self, time_zone: str) -> Text:
        text = Text()
        text.append(f"{long_time(self.time, time_zone)}  ", style="dim")
        text.append(f"{self.severity:<8}", style=SEVERITY_STYLES.get(self.severity, ""))
        text.append(f"  {printable(self.message)}")  # a message's escape sequences are shown, not run
        return text


def _message(entry: Any) -> str:
    """`jsonPayload.message`, else `textPayload`, else the JSON payload itself."""
    if "json_payload" in entry:
        payload = dict(entry.json_payload)
        if isinstance(payload.get("message"), str):
            return payload["message"].rstrip("\n")
        return json.dumps(payload, default=str, sort_keys=True)
    if "text_payload" in entry:
        return entry.text_payload.rstrip("\n")
    if "proto_payload" in entry:
        return f"({entry.proto_payload.type_url.rsplit('/', 1)[-1]})"
    return ""


def recent(client: Any, target: Target, log_query: str, *, limit: int = DEFAULT_LIMIT) -> list[Entry]:
    """The newest `limit` entries matching `log_query`, oldest first."""
    call = Call(f"reading logs of {target.job}", target.stack, target.project, target.region, None, READ_LOGS)
    request = {
        "resource_names": [f"projects/{target.project}"],
        "filter": log_query,
        "order_by": "timestamp desc",
        "page_size": min(limit, 1000),
    }
    entries: list[Entry] = []
    with explained(call):
        for entry in client.list_log_entries(request=request):
            entries.append(Entry.from_proto(entry))
            if len(entries) >= limit:
                break
    return entries[::-1]


def tail(client: Any, target: Target, log_query: str, *, on_suppressed: Callable[[int], None] | None = None) -> Iterator[Entry]:
    """Entries matching `log_query` as Cloud Logging streams them, until the stream ends."""
    from google.cloud.logging_v2.types import TailLogEntriesRequest

    call = Call(f"following logs of {target.job}", target.stack, target.project, target.region, None, READ_LOGS)
    done = threading.Event()

    def requests() -> Iterable[Any]:
        yield TailLogEntriesRequest(resource_names=[f"projects/{target.project}"], filter=log_query)
        done.wait()  # keep the stream open until we stop reading

    try:
        with explained(call):
            # No deadline: follow until interrupted, or until Cloud Logging ends the stream.
            for response in client.tail_log_entries(requests=requests(), timeout=None):
                suppressed = sum(info.suppressed_count for info in response.suppression_info)
                if suppressed and on_suppressed is not None:
                    on_suppressed(suppressed)
                for entry in response.entries:
                    yield Entry.from_proto(entry)
    finally:
        done.set()
