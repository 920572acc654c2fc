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
    """The registry as a table; with costs, the schedule, dataset and the two amounts only (the
    piped and --json forms keep every column)."""
    if costs is None:
        table = Table(title="Registered pipelines", title_justify="left", caption="--json for the full declarations")
    else:
        table = Table(title=f"Registered pipelines, estimated monthly cost in stack {costs['stack']}", title_justify="left")
    header, *rows = pipeline_rows(pipelines, costs)
    shown = [i for i, column in enumerate(header) if costs is None or column not in ("secrets", "environments")]
    for i in shown:
        table.add_column(header[i], overflow="fold", justify="right" if i >= len(COLUMNS) else "left")
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table
