"""Cloud Logging's structured format: what `toltek` writes in a Cloud Run job.

When `CLOUD_RUN_JOB` is set (Cloud Run sets it in every job's container), `toltek run` writes one
JSON object per line to stdout and nothing else there: no progress bars, no tables. Cloud Run's
logging agent turns each line into a log entry, reading these fields specially (Google Cloud docs,
"Structured logging"):

- `severity`: a `LogSeverity` name (INFO, WARNING, ERROR, ...);
- `message`: the line shown in the Logs Explorer;
- `time`: when it happened, RFC 3339 in UTC;
- `logging.googleapis.com/labels`: the entry's labels, strings only: `stage` (extract, normalize,
  load, transfer, dbt or summary), `pipeline` when the record is about one, and the job's
  `execution` (`CLOUD_RUN_EXECUTION`) and `task` (`CLOUD_RUN_TASK_INDEX`).

Every other field lands in the entry's `jsonPayload`; toltek's own are under `toltek`, e.g. the
summary each loaded pipeline ends with, which the log-based metric of rows loaded reads
(`jsonPayload.toltek.event="summary"`, value `jsonPayload.toltek.rows`):

    {"severity": "INFO", "message": "shop_sheets: 36 rows into 1 table(s), 0 discarded, 1.2 s",
     "time": "2026-11-26T06:00:03.120000Z",
     "logging.googleapis.com/labels": {"stage": "summary", "pipeline": "shop_sheets", "execution": "...", "task": "0"},
     "toltek": {"event": "summary", "pipeline": "shop_sheets", "rows": 36, "tables": {"sales_targets": 36},
                "discarded": 0, "seconds": 1.2}}
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from typing import IO, Any

from rich.console import Console
from rich.errors import MarkupError, StyleSyntaxError
from rich.style import Style
from rich.table import Table
from rich.text import Text

LABELS = "logging.googleapis.com/labels"
STAGES = ("extract", "normalize", "load", "transfer", "dbt", "summary")
# The loader's finer steps, as the stage they belong to: restoring state precedes extracting;
# resuming finishes an earlier run's load.
STEP_STAGES = {"restore": "extract", "resume": "load", "reload": "extract"}
SUMMARY = "summary"


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this process runs in a Cloud Run job (and so logs structured records)."""
    return bool(environ.get("CLOUD_RUN_JOB"))


def stage_of(step: str) -> str:
    """The stage label of a loader step (`restore`, `reload` -> extract, `resume` -> load)."""
    return STEP_STAGES.get(step, step)


def rfc3339(when: datetime | None = None) -> str:
    """`when` (default: now) in UTC as RFC 3339 with microseconds and a `Z`."""
    moment = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(
    severity: str,
    message: str,
    *,
    stage: str,
    pipeline: str | None = None,
    payload: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] = os.environ,
    when: datetime | None = None,
) -> dict[str, Any]:
    """One structured log entry (a dict to write as one JSON line)."""
    labels = {"stage": stage}
    if pipeline:
        labels["pipeline"] = pipeline
    for label, variable in (("execution", "CLOUD_RUN_EXECUTION"), ("task", "CLOUD_RUN_TASK_INDEX")):
        if environ.get(variable):
            labels[label] = str(environ[variable])
    entry: dict[str, Any] = {"severity": severity, "message": message, "time": rfc3339(when), LABELS: labels}
    if payload is not None:
        entry["toltek"] = dict(payload)
    return entry


def summary_payload(pipeline: str, rows: Mapping[str, int], *, discarded: int, seconds: float) -> dict[str, Any]:
    """The `toltek` object of a pipeline's summary record (`rows`: per table, discarded rows aside)."""
    tables = {table: int(n) for table, n in sorted(rows.items())}
    return {
        "event": "summary",
        "pipeline": pipeline,
        "rows": sum(tables.values()),
        "tables": tables,
        "discarded": int(discarded),
        "seconds": round(float(seconds), 3),
    }


class CloudLog:
    """Writes records to stdout and remembers which pipeline and stage the run is at, so lines
    printed by code that knows neither (a dbt failure, the CLI's own errors) carry them too."""

    def __init__(self, stream: IO[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
        self._stream = stream
        self._environ = environ
        self.pipeline: str | None = None
        self.stage = SUMMARY

    def emit(self, severity: str, message: str, *, stage: str | None = None, pipeline: str | None = None, payload: Mapping[str, Any] | None = None) -> None:
        entry = record(
            severity,
            message,
            stage=stage or self.stage,
            pipeline=pipeline if pipeline is not None else self.pipeline,
            payload=payload,
            environ=os.environ if self._environ is None else self._environ,
        )
        stream = self._stream or sys.stdout  # looked up per write: tests swap sys.stdout
        stream.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str) + "\n")
        stream.flush()

    def printed(self, obj: object) -> None:
        """What a Rich `print` of `obj` would have shown, as one record."""
        severity, message, payload = describe(obj)
        stage = _stage_in(message)
        pipeline = None if stage in ("transfer", "dbt") else self.pipeline
        self.emit(severity, message, stage=stage, pipeline=pipeline or "", payload=payload)

    @contextmanager
    def at(self, pipeline: str | None, stage: str) -> Iterator[None]:
        """Records in this block default to `pipeline` and `stage`."""
        before = self.pipeline, self.stage
        self.pipeline, self.stage = pipeline, stage
        try:
            yield
        finally:
            self.pipeline, self.stage = before


def _stage_in(message: str) -> str | None:
    """The stage a line printed outside the loader is about, read from its words."""
    lowered = message.lower()
    if lowered.startswith("transfer"):
        return "transfer"
    if "dbt" in lowered or lowered.startswith("source "):
        return "dbt"
    return None


def _severity_of(text: Text) -> str:
    """WARNING for text Rich would show in yellow, ERROR for red, else INFO."""
    styles = " ".join(str(span.style) for span in text.spans) + " " + str(text.style)
    if "red" in styles:
        return "ERROR"
    if "yellow" in styles:
        return "WARNING"
    return "INFO"


_TAG = re.compile(r"(?<!\\)\[([^\[\]]*)\]")


def _markup_only(text: str) -> str:
    """`text` with bracketed words that are no Rich style (`[secret]`, `[unknown]`) escaped, so
    they stay text as they would in a message, while `[bold red]`, `[/]` stay markup."""

    def keep(match: re.Match[str]) -> str:
        tag = match.group(1).strip()
        if tag.startswith("/"):
            return match.group(0)
        try:
            Style.parse(tag)
        except StyleSyntaxError:
            return "\\" + match.group(0)
        return match.group(0)

    return _TAG.sub(keep, text)


def _text(obj: object) -> Text:
    if isinstance(obj, Text):
        return obj
    try:
        return Text.from_markup(_markup_only(str(obj)), emoji=False)  # `:x:` in a message stays `:x:`
    except MarkupError:
        return Text(str(obj))


def describe(obj: object) -> tuple[str, str, dict[str, Any] | None]:
    """(severity, message, payload) of something printed through Rich: markup becomes plain text
    and a severity; a table becomes its title and rows, structured."""
    if isinstance(obj, Table):
        title = _text(obj.title or "").plain
        columns = [_text(c.header).plain for c in obj.columns]
        cells = [[_text(cell) for cell in column._cells] for column in obj.columns]
        rows = [list(row) for row in zip(*cells)] if cells else []
        order = ("INFO", "WARNING", "ERROR")
        severity = max((_severity_of(cell) for row in rows for cell in row), key=order.index, default="INFO")
        plain = [[cell.plain for cell in row] for row in rows]
        message = f"{title}: " + "; ".join(" ".join(row) for row in plain)
        return severity, message, {"event": "table", "title": title, "columns": columns, "rows": plain}
    text = _text(obj)
    return _severity_of(text), " ".join(text.plain.split()), None


class CloudLogConsole(Console):
    """A Rich console whose output is structured records: each `print` is one record, a `status`
    spinner is one record when it starts, and nothing is ever rendered."""

    def __init__(self, log: CloudLog) -> None:
        super().__init__(file=io.StringIO(), force_terminal=False, color_system=None, width=200)
        self.log_to = log

    def print(self, *objects: Any, **kwargs: Any) -> None:  # noqa: A003 - Console's API
        for obj in objects:
            self.log_to.printed(obj)

    def log(self, *objects: Any, **kwargs: Any) -> None:
        self.print(*objects)

    def print_json(self, json: str | None = None, *, data: Any = None, **kwargs: Any) -> None:  # noqa: A002
        self.log_to.emit("INFO", json if json is not None else _dumps(data))

    def rule(self, *args: Any, **kwargs: Any) -> None:
        return None

    def status(self, status: Any, **kwargs: Any) -> Any:
        self.log_to.printed(status)
        return nullcontext()


def _dumps(data: Any) -> str:
    return json.dumps(data, default=str)


def consoles(log: CloudLog | None = None) -> tuple[CloudLogConsole, CloudLogConsole]:
    """(out, err) consoles writing structured records through one `CloudLog`."""
    log = log or CloudLog()
    return CloudLogConsole(log), CloudLogConsole(log)
