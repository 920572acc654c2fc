"""How the ops commands show times, durations and states."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

STATE_STYLES = {
    "succeeded": "green",
    "failed": "bold red",
    "running": "cyan",
    "cancelled": "magenta",
}
VERDICT_STYLES = {"pass": "green", "warn": "yellow", "error": "bold red"}
SEVERITY_STYLES = {
    "DEFAULT": "",
    "DEBUG": "dim",
    "INFO": "blue",
    "NOTICE": "cyan",
    "WARNING": "yellow",
    "ERROR": "red",
    "CRITICAL": "bold red",
    "ALERT": "bold red",
    "EMERGENCY": "bold white on red",
}


def in_zone(moment: datetime, time_zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(time_zone))


def short_time(moment: datetime, time_zone: str) -> str:
    """Month-day, hour:minute and the zone's abbreviation: `11-26 14:15 CET`."""
    return in_zone(moment, time_zone).strftime("%m-%d %H:%M %Z")


def long_time(moment: datetime, time_zone: str) -> str:
    """`2026-11-26 14:15:02 CET`."""
    return in_zone(moment, time_zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def duration(seconds: float) -> str:
    """`42s`, `3m 5s`, `1h 20m`, `2d 3h`."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    hours, mins = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    days, hrs = divmod(hours, 24)
    return f"{days}d {hrs}h" if hrs else f"{days}d"
