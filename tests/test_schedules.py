"""A schedule's shortest gap: computed once per cron and time zone, and for crons that fire every
day by the wall clock plus samples around daylight-saving changes, which must agree with the full
sampling on the time zones with the oddest rules."""

from __future__ import annotations

import itertools

import pytest

from pipelines.declarations import Schedule, _daily_minutes, _firing_instants, _gap, _shortest_gap

CRONS = ["30 2 * * *", "*/15 * * * *", "30 1,2,3 * * *", "0 */6 * * *", "59 23 * * *", "0,30 0-5 * * *"]
# DST of an hour forwards and back (north and south), of half an hour (Lord Howe), at 02:45
# (Chatham), none (Tokyo), and UTC.
ZONES = ["Europe/Amsterdam", "America/Santiago", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Tokyo", "Etc/UTC"]


@pytest.mark.parametrize(("cron", "zone"), list(itertools.product(CRONS, ZONES)))
def test_the_daily_shortcut_agrees_with_sampling_every_firing(cron, zone):
    assert _daily_minutes(cron) is not None
    assert _shortest_gap(cron, zone) == _gap(_firing_instants(cron, zone))


def test_crons_restricted_by_day_month_or_weekday_take_the_sampling_path():
    for cron in ("0 3 * * 1-5", "0 0 1,15 * *", "0 0 29 2 *", "0 6 * 1-3 *"):
        assert _daily_minutes(cron) is None
    # Feb 29 fires once every four years.
    assert Schedule("0 0 29 2 *").shortest_gap_seconds() == pytest.approx(4 * 365.25 * 86400, rel=0.01)


def test_a_schedule_is_computed_once_per_cron_and_zone():
    _shortest_gap.cache_clear()
    for _ in range(50):
        Schedule("17 4 * * *", "Europe/Amsterdam").shortest_gap_seconds()
    info = _shortest_gap.cache_info()
    assert (info.misses, info.hits) == (1, 49)


def test_a_wall_clock_time_skipped_by_daylight_saving_does_not_fire():
    # Cloud Scheduler runs on the wall clock: 02:30 does not exist in Amsterdam on 2026-03-29, so
    # that day's run is not made (croniter would move it to 03:00, half an hour before 03:30).
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    local = ZoneInfo("Europe/Amsterdam")
    day = [t for t in _firing_instants("30 1,2,3 * * *", "Europe/Amsterdam") if datetime.fromtimestamp(t, local).date().isoformat() == "2026-03-29"]
    assert [datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M") for t in day] == ["00:30", "01:30"]
    assert _shortest_gap("30 1,2,3 * * *", "Europe/Amsterdam") == 3600
    # Twice the same wall-clock time when the clocks go back: both count, an hour apart.
    assert _shortest_gap("30 2 * * *", "Europe/Amsterdam") == 3600
