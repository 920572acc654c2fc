"""Value types a pipeline declares: its schedule and the compute it needs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

# How far ahead schedules are inspected for their shortest gap between two runs: enough runs to
# cover both daylight-saving shifts of a frequent schedule, and years enough for a rare one.
_GAP_SAMPLES = 2000
_HORIZON_YEARS = 8
_START = datetime(2026, 1, 1)


@dataclass(frozen=True)
class Schedule:
    """When the pipeline runs: a five-field unix cron (as Cloud Scheduler reads it) in a time zone."""

    cron: str
    time_zone: str = "Etc/UTC"

    def problems(self) -> list[str]:
        problems = []
        fields = self.cron.split()
        if len(fields) != 5 or not croniter.is_valid(self.cron):
            problems.append(f"invalid cron expression '{self.cron}' (expected 5 unix-cron fields)")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"unknown time zone '{self.time_zone}'")
        if not problems and not self.upcoming_runs():
            problems.append(f"cron expression '{self.cron}' never fires (no such date)")
        return problems

    def upcoming_runs(self) -> list[datetime]:
        """Upcoming run times, up to `_GAP_SAMPLES` of them within `_HORIZON_YEARS`."""
        zone = ZoneInfo(self.time_zone)
        start = _START.replace(tzinfo=zone)
        end = start.replace(year=start.year + _HORIZON_YEARS)
        runs = croniter(self.cron, start)
        found: list[datetime] = []
        try:
            while len(found) < _GAP_SAMPLES:
                current = runs.get_next(datetime)
                if current > end:
                    break
                found.append(current)
        except CroniterBadDateError:  # no further date matches, e.g. "0 0 30 2 *"
            pass
        return found

    def shortest_gap_seconds(self) -> float:
        """The shortest time between two consecutive runs (daylight-saving shifts included);
        infinite when the schedule fires at most once within the inspected horizon."""
        runs = self.upcoming_runs()
        return min(((b - a).total_seconds() for a, b in zip(runs, runs[1:])), default=float("inf"))


_CPU = ("1", "2", "4", "8")
_MEMORY = re.compile(r"^(?P<n>[1-9][0-9]*)(?P<unit>Mi|Gi)$")


@dataclass(frozen=True)
class Resources:
    """What the pipeline's Cloud Run job gets: cpu, memory, task timeout and retries."""

    cpu: str = "1"
    memory: str = "1Gi"
    timeout_seconds: int = 1200  # with one retry, fits an hourly schedule
    max_retries: int = 1

    def problems(self) -> list[str]:
        problems = []
        if self.cpu not in _CPU:
            problems.append(f"cpu '{self.cpu}' must be one of {', '.join(_CPU)}")
        match = _MEMORY.match(self.memory)
        if not match:
            problems.append(f"memory '{self.memory}' must look like 512Mi or 2Gi")
        else:
            mib = int(match["n"]) * (1024 if match["unit"] == "Gi" else 1)
            if not 512 <= mib <= 32 * 1024:
                problems.append(f"memory '{self.memory}' must be between 512Mi and 32Gi")
        if not 60 <= self.timeout_seconds <= 24 * 3600:
            problems.append(f"timeout_seconds {self.timeout_seconds} must be 60..86400")
        if not 0 <= self.max_retries <= 10:
            problems.append(f"max_retries {self.max_retries} must be 0..10")
        return problems

    @property
    def longest_execution_seconds(self) -> int:
        """A Cloud Run execution may take every attempt: timeout x (1 + retries)."""
        return self.timeout_seconds * (1 + self.max_retries)

    @property
    def timeout(self) -> str:
        """The timeout as Cloud Run spells it."""
        return f"{self.timeout_seconds}s"
