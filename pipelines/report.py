"""Rich tables the CLI prints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from pipelines.base import Pipeline


COLUMNS = ("name", "cron", "time zone", "dataset", "secrets", "environments")


def pipeline_rows(pipelines: list[type[Pipeline]], costs: Mapping[str, Any] | None = None) -> list[tuple[str, ...]]:
    """The header and one row per pipeline; with a stack's cost estimate (`toltek pipelines
    --cost`), each pipeline's monthly estimate and upper bound ("-" for one not in that stack)."""
    rows = [
        (cls.name, cls.schedule.cron, cls.schedule.time_zone, cls.dataset, ", ".join(sorted(cls.secrets)) or "-", " ".join(cls.environments))
        for cls in pipelines
    ]
    if costs is None:
        return [COLUMNS, *rows]
    currency, typical, upper = costs["currency"], costs["pipelines"], costs["upper_pipelines"]
    header = (*COLUMNS, f"monthly {currency}", f"upper {currency}")
    money = lambda amounts, name: f"{amounts[name]:,.2f}" if name in amounts else "-"  # noqa: E731
    return [header, *((*row, money(typical, row[0]), money(upper, row[0])) for row in rows)]


def pipeline_cost(costs: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One pipeline's part of a stack's estimate, for `toltek pipelines --cost --json`."""
    return {
        "estimate": True,
        "stack": costs["stack"],
        "currency": costs["currency"],
        "monthly": costs["pipelines"].get(name),
        "upper_monthly": costs["upper_pipelines"].get(name),
        "prices_date": costs["prices_date"],
        "excludes": costs["excludes"],
    }


def pipelines_table(pipelines: list[type[Pipeline]], costs: Mapping[str, Any] | None = None) -> Table:
    """Fits 80 columns: identifiers never break; the schedule takes two lines (cron, time zone);
    environments wrap between words. With costs: the monthly estimate and its upper bound in
    place of the secrets and environments (the piped and --json forms keep every column)."""
    from rich import box

    title = "Registered pipelines" if costs is None else f"Registered pipelines, estimated monthly cost in stack {costs['stack']}"
    caption = "--json for the full declarations" if costs is None else None
    table = Table(title=title, title_justify="left", caption=caption, box=box.SIMPLE_HEAD)
    table.add_column("name", no_wrap=True)
    table.add_column("schedule", no_wrap=True)
    table.add_column("dataset", no_wrap=True)
    header, *rows = pipeline_rows(pipelines, costs)
    if costs is None:
        table.add_column("secrets", no_wrap=True)
        table.add_column("runs in")
    else:
        table.add_column(header[-2], justify="right", no_wrap=True)
        table.add_column(header[-1], justify="right", no_wrap=True)
    for row in rows:
        name, cron, zone, dataset, secrets, envs = row[:6]
        extra = [secrets.replace(", ", "\n"), envs] if costs is None else list(row[6:8])
        table.add_row(name, f"{cron}\n[dim]{zone}[/]", dataset, *extra)
    return table
