"""Value types a pipeline declares: its schedule and the compute it needs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

# How far ahead schedules are inspected for their shortest gap between two runs: enough runs for
# a frequent schedule, years enough for a rare one, plus every run in the days around each
# daylight-saving change of the time zone's next year.
_GAP_SAMPLES = 500
_HORIZON_YEARS = 8
_START = datetime(2026, 1, 1)
# Runs per month are averaged over the four years from `_START`: a whole leap-year cycle, so a
# month is 365.25 / 12 days, and every daylight-saving change of those years counts.
_AVERAGED_MONTHS = 48
DAYS_PER_MONTH = 365.25 / 12

# Unix cron as Cloud Scheduler reads it: numbers, `*`, ranges, steps, lists, and English month and
# weekday names; not the `L`, `W`, `#` or `?` of other cron dialects.
_NAMES = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
_NAMES |= {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}


_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))


def _cron_problem(cron: str) -> str:
    """What is wrong with a cron Cloud Scheduler would refuse, field by field."""
    fields = cron.split()
    if len(fields) != 5:
        return f"invalid cron expression '{cron}': {len(fields)} field(s), expected 5 (minute hour day-of-month month day-of-week)"
    for text, (what, low, high) in zip(fields, _FIELDS):
        for part in text.split(","):
            base, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                return f"invalid cron expression '{cron}': {what} step '{step}' must be a positive number"
            for token in base.split("-") if base != "*" else []:
                if token.isdigit():
                    if not low <= int(token) <= high:
                        return f"invalid cron expression '{cron}': {what} {token} is out of range {low}-{high}"
                elif token.upper() not in _NAMES:
                    return f"invalid cron expression '{cron}': {what} '{token}' is not a number" + (
                        " (L, W, # and ? are not unix cron)" if token.strip("0123456789").upper() in {"L", "W", "#", "?", "LW"} or "#" in token else ""
                    )
    return f"invalid cron expression '{cron}' (Cloud Scheduler reads unix cron: minute hour day-of-month month day-of-week)"


def _unix_cron(cron: str) -> bool:
    fields = cron.split()
    tokens = [t for f in fields for t in re.split(r"[,/-]", f)]
    return (
        len(fields) == 5
        and all(t == "*" or t.isdigit() or t.upper() in _NAMES for t in tokens)
        and croniter.is_valid(cron)
    )


def _exists(moment: datetime) -> bool:
    """False for a wall-clock time skipped when daylight saving starts."""
    back = moment.astimezone(timezone.utc).astimezone(moment.tzinfo)
    return back.replace(tzinfo=None, fold=0) == moment.replace(tzinfo=None, fold=0)


@dataclass(frozen=True)
class Schedule:
    """When the pipeline runs: a five-field unix cron (as Cloud Scheduler reads it) in a time zone.

    Cloud Scheduler runs on wall-clock time: a time repeated when daylight saving ends may fire
    twice, an hour apart, and the gap between runs around a change is an hour longer or shorter.
    """

    cron: str
    time_zone: str = "Etc/UTC"

    def problems(self) -> list[str]:
        if not isinstance(self.cron, str) or not isinstance(self.time_zone, str):
            return [f"cron {self.cron!r} and time zone {self.time_zone!r} must be strings"]
        return list(_problems(self.cron, self.time_zone))

    def upcoming_runs(self, start: datetime = _START, end: datetime | None = None, limit: int = _GAP_SAMPLES) -> list[datetime]:
        """Run times from `start` (wall clock in the schedule's zone), at most `limit`, before `end`
        (default: `_HORIZON_YEARS` later)."""
        zone = ZoneInfo(self.time_zone)
        start = start.replace(tzinfo=zone)
        end = end.replace(tzinfo=zone) if end else start.replace(year=start.year + _HORIZON_YEARS)
        runs = croniter(self.cron, start)
        found: list[datetime] = []
        try:
            while len(found) < limit:
                current = runs.get_next(datetime)
                if current > end:
                    break
                found.append(current)
        except CroniterBadDateError:  # no further date matches, e.g. "0 0 30 2 *"
            pass
        return found

    def firing_instants(self) -> list[float]:
        """Instants (UTC timestamps) the schedule fires at in the inspected runs, counting both
        occurrences of a wall-clock time repeated when daylight saving ends."""
        return list(_firing_instants(self.cron, self.time_zone))

    def shortest_gap_seconds(self) -> float:
        """The shortest real time between two consecutive firings (daylight-saving changes
        included); infinite when the schedule fires at most once within the inspected horizon.
        Computed once per cron and time zone in a process: every class sharing a schedule, and
        every later check of it, costs a dictionary lookup."""
        return _shortest_gap(self.cron, self.time_zone)

    def firings(self, first: date, days: int) -> int:
        """How many times the schedule fires on `days` calendar days from `first` in its time zone:
        a wall-clock time skipped when daylight saving starts does not fire, one repeated when it
        ends fires twice (as in `firing_instants`). Counted day by day, not run by run, so an
        every-minute schedule costs no more than a daily one."""
        return _firings(self.cron, self.time_zone, first, days)

    def runs_per_month(self) -> float:
        """The average number of runs in a month (365.25 / 12 days), over the four years from
        2026: weekends, month lengths, the leap day and every daylight-saving change included.
        Cached per cron and time zone."""
        return _runs_per_month(self.cron, self.time_zone)

    def longest_gap_seconds(self) -> float:
        """The longest real time between two consecutive firings (a weekday schedule's weekend, an
        hour more across the autumn daylight-saving change): how long a source may rightly go
        without a run. Cached like `shortest_gap_seconds`."""
        return _longest_gap(self.cron, self.time_zone)


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """The tz database's zone names, as Cloud Scheduler's `timeZone` takes them ("a time zone name
    from the tz database"): the `tzdata` package's list, the same on every machine. `ZoneInfo`
    alone also opens any file of the machine's zoneinfo folder: `localtime` (this machine's zone),
    `posix/…` and `right/…` copies. `Factory` (a placeholder zone of the database) is left out."""
    from importlib.resources import files

    return frozenset(files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()) - {"Factory"}


@lru_cache(maxsize=None)
def _problems(cron: str, time_zone: str) -> tuple[str, ...]:
    problems = []
    if not _unix_cron(cron):
        problems.append(_cron_problem(cron))
    try:
        if time_zone not in zone_names():
            raise ZoneInfoNotFoundError(time_zone)
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"unknown time zone '{time_zone}'")
    # A cron that fires every day fires; any other is asked for its first run.
    if not problems and _daily_minutes(cron) is None and not Schedule(cron, time_zone).upcoming_runs(limit=1):
        problems.append(f"cron expression '{cron}' never fires (no such date)")
    return tuple(problems)


@lru_cache(maxsize=None)
def _changes(time_zone: str) -> tuple[datetime, ...]:
    """Days of `_START`'s year on which the zone's UTC offset changes."""
    zone = ZoneInfo(time_zone)
    days = [(_START + timedelta(days=n)).replace(tzinfo=zone) for n in range(367)]
    return tuple(a.replace(tzinfo=None) for a, b in zip(days, days[1:]) if a.utcoffset() != b.utcoffset())


@lru_cache(maxsize=None)
def _firing_instants(cron: str, time_zone: str) -> tuple[float, ...]:
    schedule = Schedule(cron, time_zone)
    runs = schedule.upcoming_runs()
    for day in _changes(time_zone):
        runs += schedule.upcoming_runs(day - timedelta(days=1), day + timedelta(days=2), limit=10_000)
    # croniter moves some runs that fall in a skipped hour to the end of the jump (03:00 for a
    # skipped 02:30); such a wall-clock time is not in the cron, and does not happen.
    minutes, hours = (set(range(n)) if f == ["*"] else set(f) for f, n in zip(croniter.expand(cron)[0][:2], (60, 24)))
    return tuple(_instants([r for r in runs if r.minute in minutes and r.hour in hours]))


def _gap(instants: tuple[float, ...] | list[float]) -> float:
    return min((b - a for a, b in zip(instants, instants[1:])), default=float("inf"))


def _daily_minutes(cron: str) -> list[int] | None:
    """Minutes of the day a cron fires at when it fires every day (day, month and weekday all
    `*`), else None."""
    fields = croniter.expand(cron)[0]
    if any(f != ["*"] for f in fields[2:]):
        return None
    minutes = range(60) if fields[0] == ["*"] else fields[0]
    hours = range(24) if fields[1] == ["*"] else fields[1]
    return sorted(h * 60 + m for h in hours for m in minutes)


@lru_cache(maxsize=None)
def _shortest_gap(cron: str, time_zone: str) -> float:
    daily = _daily_minutes(cron)
    if daily is None:
        return _gap(_firing_instants(cron, time_zone))
    # Every day alike: away from daylight-saving changes real gaps are the wall-clock ones (the
    # day's, and from its last run to the next day's first); around each change, sample.
    wall = min([b - a for a, b in zip(daily, daily[1:])] + [daily[0] + 1440 - daily[-1]]) * 60.0
    gaps = [wall]
    for day in _changes(time_zone):
        runs = [day + timedelta(days=d, minutes=m) for d in (-1, 0, 1) for m in daily]
        gaps.append(_gap(_instants([run.replace(tzinfo=ZoneInfo(time_zone)) for run in runs])))
    return min(gaps)


@lru_cache(maxsize=None)
def _longest_gap(cron: str, time_zone: str) -> float:
    daily = _daily_minutes(cron)
    if daily is None:
        instants = _firing_instants(cron, time_zone)
        return max((b - a for a, b in zip(instants, instants[1:])), default=float("inf"))
    wall = max([b - a for a, b in zip(daily, daily[1:])] + [daily[0] + 1440 - daily[-1]]) * 60.0
    gaps = [wall]
    for day in _changes(time_zone):
        runs = [day + timedelta(days=d, minutes=m) for d in (-1, 0, 1) for m in daily]
        instants = _instants([run.replace(tzinfo=ZoneInfo(time_zone)) for run in runs])
        gaps.append(max(b - a for a, b in zip(instants, instants[1:])))
    return max(gaps)


def _day_matches(days: tuple[tuple, tuple, tuple], day: date) -> bool:
    """Whether a cron's day-of-month, month and day-of-week fields (as `croniter.expand` gives
    them, as tuples) select `day`. As croniter reads cron: when both day fields are restricted,
    either selects the day; otherwise both must."""
    doms, months, dows = days
    if months != ("*",) and day.month not in months:
        return False
    dom = doms == ("*",) or day.day in doms
    dow = dows == ("*",) or day.isoweekday() % 7 in dows
    return dom or dow if doms != ("*",) and dows != ("*",) else dom and dow


@lru_cache(maxsize=None)
def _matching_days(days: tuple[tuple, tuple, tuple], first: date, count: int) -> int:
    """How many of `count` days from `first` a cron's day fields select (shared by every cron with
    the same day fields: a registry of daily schedules counts its days once)."""
    return sum(1 for n in range(count) if _day_matches(days, first + timedelta(days=n)))


@lru_cache(maxsize=None)
def _unsteady_days(time_zone: str, first: date, count: int) -> tuple[date, ...]:
    """The days among `count` from `first` on which the zone's UTC offset changes (a wall-clock
    time is skipped or repeated): once per zone."""
    zone = ZoneInfo(time_zone)

    def offsets(day: date) -> set:
        midnight = datetime(day.year, day.month, day.day)
        return {midnight.replace(tzinfo=zone, fold=fold).utcoffset() for fold in (0, 1)}

    days = [first + timedelta(days=n) for n in range(count + 1)]
    at = [offsets(day) for day in days]
    return tuple(day for day, start, end in zip(days, at, at[1:]) if len(start | end) > 1)


@lru_cache(maxsize=None)
def _firings(cron: str, time_zone: str, first: date, days: int) -> int:
    fields = croniter.expand(cron)[0]
    minutes = range(60) if fields[0] == ["*"] else fields[0]
    hours = range(24) if fields[1] == ["*"] else fields[1]
    per_day = len(minutes) * len(hours)
    day_fields = tuple(tuple(f) for f in fields[2:])
    count = _matching_days(day_fields, first, days) * per_day
    # On a day the clocks change, a time may be skipped or come twice: count that day's instants.
    zone = ZoneInfo(time_zone)
    for day in _unsteady_days(time_zone, first, days):
        if _day_matches(day_fields, day):
            runs = [datetime(day.year, day.month, day.day, h, m, tzinfo=zone) for h in hours for m in minutes]
            count += len(_instants(runs)) - per_day
    return count


@lru_cache(maxsize=None)
def _runs_per_month(cron: str, time_zone: str) -> float:
    first = _START.date()
    days = (first.replace(year=first.year + _AVERAGED_MONTHS // 12) - first).days
    return _firings(cron, time_zone, first, days) / _AVERAGED_MONTHS


def _instants(runs: list[datetime]) -> list[float]:
    """UTC timestamps of wall-clock runs: both occurrences of a time repeated when daylight saving
    ends; none for a time skipped when it starts (Cloud Scheduler runs on the wall clock: such a
    run does not happen)."""
    instants = set()
    for run in runs:
        instants.update(m.timestamp() for m in (run.replace(fold=0), run.replace(fold=1)) if _exists(m))
    return sorted(instants)


_CPU = ("1", "2", "4", "8")
# Without a declared typical duration, a run is taken to last this fraction of its timeout.
TYPICAL_FRACTION = 4
_MEMORY = re.compile(r"^(?P<n>[1-9][0-9]*)(?P<unit>Mi|Gi)$")


@dataclass(frozen=True)
class Resources:
    """What the pipeline's Cloud Run job gets: cpu, memory, task timeout and retries; and how long
    a run typically takes (`typical_seconds`, at most the timeout; default a quarter of it), which
    only the cost estimate reads."""

    cpu: str = "1"
    memory: str = "1Gi"
    timeout_seconds: int = 1200  # with one retry, fits an hourly schedule
    max_retries: int = 1
    typical_seconds: int | None = None

    def problems(self) -> list[str]:
        problems = []
        if self.cpu not in _CPU:
            problems.append(f"cpu {self.cpu!r} must be one of {', '.join(_CPU)}")
        match = _MEMORY.match(self.memory) if isinstance(self.memory, str) else None
        if not match:
            problems.append(f"memory {self.memory!r} must look like 512Mi or 2Gi")
        else:
            mib = int(match["n"]) * (1024 if match["unit"] == "Gi" else 1)
            if not 512 <= mib <= 32 * 1024:
                problems.append(f"memory '{self.memory}' must be between 512Mi and 32Gi")
        for name, low, high in (("timeout_seconds", 60, 24 * 3600), ("max_retries", 0, 10)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                problems.append(f"{name} {value!r} must be an integer")
            elif not low <= value <= high:
                problems.append(f"{name} {value} must be {low}..{high}")
        typical = self.typical_seconds
        if typical is not None:
            if not isinstance(typical, int) or isinstance(typical, bool):
                problems.append(f"typical_seconds {typical!r} must be an integer (or None)")
            elif isinstance(self.timeout_seconds, int) and not 1 <= typical <= self.timeout_seconds:
                problems.append(f"typical_seconds {typical} must be 1..timeout_seconds ({self.timeout_seconds})")
        return problems

    @property
    def typical_execution_seconds(self) -> int:
        """How long a run typically takes: `typical_seconds`, or a quarter of the timeout."""
        return self.typical_seconds if self.typical_seconds is not None else max(1, self.timeout_seconds // TYPICAL_FRACTION)

    @property
    def longest_execution_seconds(self) -> int:
        """A Cloud Run execution may take every attempt: timeout x (1 + retries)."""
        return self.timeout_seconds * (1 + self.max_retries)

    @property
    def timeout(self) -> str:
        """The timeout as Cloud Run spells it."""
        return f"{self.timeout_seconds}s"
