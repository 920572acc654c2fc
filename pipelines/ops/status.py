"""`toltek status`: per scheduled job of a stack, its next run, its last execution, and an
execution-based freshness verdict.

The verdict measures the age of the job's data by its executions: now minus the completion time of
the latest *succeeded* execution, against the thresholds `pipelines.freshness` derives from the
schedule. It sees a job that stopped running or keeps failing; it cannot see a run that succeeded
while loading nothing. The data-based verdict is dbt's source freshness (`_dlt_loads`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rich import box
from rich.table import Table
from rich.text import Text

from pipelines.freshness import Verdict
from pipelines.freshness import describe as describe_age
from pipelines.ops import runs
from pipelines.ops.display import STATE_STYLES, VERDICT_STYLES, duration, short_time
from pipelines.ops.errors import READ_EXECUTIONS, Call, explained
from pipelines.ops.runs import Execution
from pipelines.ops.targets import Target

if TYPE_CHECKING:
    from google.cloud.run_v2 import ExecutionsClient

# Jobs read at once: each is one or a few list calls, and the calls wait on the network.
_WORKERS = 8


@dataclass(frozen=True)
class JobStatus:
    target: Target
    deployed: bool
    next_run: datetime | None  # in the schedule's time zone
    latest: Execution | None
    latest_success: Execution | None
    age_seconds: float | None  # since the latest succeeded execution completed
    verdict: Verdict

    def as_dict(self) -> dict[str, object]:
        t = self.target
        return {
            "name": t.name,
            "kind": t.kind,
            "job": t.job,
            "project": t.project,
            "region": t.region,
            "deployed": self.deployed,
            "schedule": {
                "cron": t.schedule.cron,
                "time_zone": t.schedule.time_zone,
                "next_run": self.next_run.isoformat() if self.next_run else None,
            },
            "last_execution": self.latest.as_dict() if self.latest else None,
            "last_success": self.latest_success.as_dict() if self.latest_success else None,
            "freshness": {
                "verdict": self.verdict,
                "age_seconds": self.age_seconds,
                "warn_after_seconds": t.freshness.warn_after_seconds,
                "error_after_seconds": t.freshness.error_after_seconds,
                "basis": "executions: now minus the completion of the latest succeeded execution",
            },
        }


def next_run(target: Target, now: datetime) -> datetime | None:
    """The schedule's next firing after `now`, in the schedule's time zone."""
    wall = now.astimezone(ZoneInfo(target.schedule.time_zone)).replace(tzinfo=None)
    upcoming = target.schedule.upcoming_runs(wall, limit=1)
    return upcoming[0] if upcoming else None


def job_status(client: ExecutionsClient, target: Target, now: datetime) -> JobStatus:
    """Read one job's executions; a job Cloud Run does not know is reported as not deployed."""
    from google.api_core import exceptions as api

    call = Call(f"reading executions of {target.job}", target.stack, target.project, target.region, target.job, READ_EXECUTIONS)
    deployed, latest, success = True, None, None
    with explained(call):
        try:
            latest, success = runs.latest_and_succeeded(client, target.path)
        except api.NotFound:
            deployed = False
    age = (now - success.completion).total_seconds() if success and success.completion else None
    return JobStatus(target, deployed, next_run(target, now), latest, success, age, target.freshness.verdict(age))


def collect(client: ExecutionsClient, targets: list[Target], now: datetime | None = None) -> list[JobStatus]:
    """Every target's status, read concurrently, in the targets' order."""
    now = now or datetime.now(timezone.utc)
    if len(targets) <= 1:
        return [job_status(client, t, now) for t in targets]
    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(targets))) as pool:
        return list(pool.map(lambda t: job_status(client, t, now), targets))


def as_json(stack: str, statuses: list[JobStatus], now: datetime) -> dict[str, object]:
    return {"stack": stack, "now": now.isoformat(), "jobs": [s.as_dict() for s in statuses]}


def table(stack: str, statuses: list[JobStatus], now: datetime) -> Table:
    """Four columns, two lines a job: fits 80 columns."""
    grid = Table(
        title=f"Stack {stack}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_lines=True,
        caption="fresh: age of the last succeeded execution against the schedule's thresholds "
        "(the data itself: dbt source freshness)",
        caption_justify="left",
    )
    grid.add_column("job", no_wrap=True)
    grid.add_column("next run")
    grid.add_column("last execution")
    grid.add_column("fresh", no_wrap=True)
    for s in statuses:
        zone = s.target.schedule.time_zone
        when = Text(short_time(s.next_run, zone) if s.next_run else "never")
        when.append(f"\n{s.target.schedule.cron}", style="dim")
        grid.add_row(Text(s.target.name, style="bold"), when, _last(s, now), _fresh(s))
    return grid


def _last(s: JobStatus, now: datetime) -> Text:
    zone = s.target.schedule.time_zone
    if not s.deployed:
        return Text("not deployed", style="bold red")
    e = s.latest
    if e is None:
        return Text("never ran", style="dim")
    text = Text(e.state, style=STATE_STYLES[e.state])
    if e.failed:
        text.append(f", {e.failed} of {e.tasks} task{'s' if e.tasks != 1 else ''} failed")
    elif e.state == "running" and e.tasks:
        text.append(f", {e.succeeded}/{e.tasks} done")
    if e.start is None:
        text.append("\nnot started yet", style="dim")
    else:
        took = duration(e.duration_seconds(now) or 0)
        text.append(f"\n{short_time(e.start, zone)}, {took}{' so far' if not e.done else ''}", style="dim")
    return text


def _fresh(s: JobStatus) -> Text:
    text = Text(s.verdict, style=VERDICT_STYLES[s.verdict])
    text.append("\n" + (f"{describe_age(s.age_seconds)} ago" if s.age_seconds is not None else "no success"), style="dim")
    return text
