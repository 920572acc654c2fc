"""Freshness thresholds come from each pipeline's schedule: its longest real gap between firings
(checked here against an independent walk of the wall clock, and against known calendars), times
the declared number of intervals."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from pipelines import freshness
from pipelines.declarations import Schedule, _daily_minutes, _longest_gap

ZONES = ["Europe/Amsterdam", "America/Santiago", "Australia/Lord_Howe"]
DAILY = ["30 2 * * *", "0 6 * * *", "0 */6 * * *", "0,30 0-5 * * *"]


def _offset_changes(zone: str) -> list[datetime]:
    """UTC hours of 2026 at which the zone's offset changes, found by asking every hour."""
    tz, hour = ZoneInfo(zone), datetime(2026, 1, 1, tzinfo=timezone.utc)
    changes = []
    for _ in range(366 * 24):
        if hour.astimezone(tz).utcoffset() != (hour + timedelta(hours=1)).astimezone(tz).utcoffset():
            changes.append(hour)
        hour += timedelta(hours=1)
    return changes


def _longest_by_minute_walk(cron: str, zone: str) -> float:
    """Every real minute of three days around each offset change and of three ordinary days, kept
    when its wall-clock time is one the cron names: an independent picture of when Cloud Scheduler
    fires (a skipped wall time never occurs; a repeated one occurs twice)."""
    minutes, hours = (set(range(n)) if f == ["*"] else set(f) for f, n in zip(croniter.expand(cron)[0][:2], (60, 24)))
    tz, longest = ZoneInfo(zone), 0.0
    for centre in [datetime(2026, 7, 1, tzinfo=timezone.utc), *_offset_changes(zone)]:
        instant, fired = centre - timedelta(days=3), []
        for _ in range(6 * 1440):
            wall = instant.astimezone(tz)
            if wall.minute in minutes and wall.hour in hours:
                fired.append(instant.timestamp())
            instant += timedelta(minutes=1)
        longest = max(longest, max(b - a for a, b in zip(fired, fired[1:])))
    return longest


@pytest.mark.parametrize(("cron", "zone"), list(itertools.product(DAILY, ZONES)))
def test_the_longest_gap_of_a_daily_cron_agrees_with_walking_every_minute_around_each_change(cron, zone):
    assert _daily_minutes(cron) is not None
    assert _longest_gap(cron, zone) == _longest_by_minute_walk(cron, zone)


def test_known_calendars():
    assert Schedule("0 6 * * 1-5", "Europe/Amsterdam").longest_gap_seconds() == 73 * 3600  # weekend + autumn hour
    assert Schedule("0 6 * * *", "Etc/UTC").longest_gap_seconds() == 24 * 3600
    assert Schedule("0 6 * * *", "Europe/Amsterdam").longest_gap_seconds() == 25 * 3600
    # 02:30 does not exist on the spring-forward day in Amsterdam: two days pass without a run.
    assert Schedule("30 2 * * *", "Europe/Amsterdam").longest_gap_seconds() == 47 * 3600


def test_thresholds_are_the_declared_intervals_in_whole_dbt_periods():
    class Hourly:
        schedule = Schedule("15 * * * *", "Etc/UTC")
        stale_after_runs = (2, 4)

    class Weekdays:
        schedule = Schedule("0 6 * * 1-5", "Europe/Amsterdam")
        stale_after_runs = (1, 3)

    hourly = freshness.of(Hourly)
    assert hourly.as_dbt() == {"warn_after": {"count": 2, "period": "hour"}, "error_after": {"count": 4, "period": "hour"}}
    weekdays = freshness.of(Weekdays)
    assert weekdays.as_dbt() == {"warn_after": {"count": 73, "period": "hour"}, "error_after": {"count": 219, "period": "hour"}}

    class Odd:
        schedule = Schedule("*/7 * * * *", "Etc/UTC")  # minute 56 -> 0: a 4-minute gap, the longest 7
        stale_after_runs = (2, 4)

    assert freshness.of(Odd).as_dbt()["warn_after"] == {"count": 14, "period": "minute"}


def test_verdicts():
    f = freshness.Freshness(3600, 7200)
    assert [f.verdict(a) for a in (0, 3600, 3601, 7200, 7201, None)] == ["pass", "pass", "warn", "warn", "error", "error"]
    assert freshness.describe(90 * 60) == "1h 30m" and freshness.describe(2 * 86400) == "2d"


def test_a_copied_source_allows_for_the_daily_copy():
    from infra.components.warehouse import COPY_SCHEDULE

    assert COPY_SCHEDULE.startswith("every day ")  # what COPY_INTERVAL_SECONDS assumes
    assert freshness.COPY_INTERVAL_SECONDS == 86400

    class Read:
        schedule = Schedule("15 * * * *", "Etc/UTC")
        stale_after_runs = (2, 4)
        transfer = "read"

    class Copied(Read):
        transfer = "copy"

    assert freshness.of(Copied).warn_after_seconds == freshness.of(Read).warn_after_seconds + 86400
    assert freshness.of(Copied).as_dbt()["error_after"] == {"count": 28, "period": "hour"}
