"""Rich tables the CLI prints."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from pipelines.base import Pipeline


COLUMNS = ("name", "cron", "time zone", "dataset", "secrets", "environments")


def pipeline_rows(pipelines: list[type[Pipeline]]) -> list[tuple[str, ...]]:
    """The header and one row per pipeline."""
    rows = [
        (cls.name, cls.schedule.cron, cls.schedule.time_zone, cls.dataset, ", ".join(sorted(cls.secrets)) or "-", " ".join(cls.environments))
        for cls in pipelines
    ]
    return [COLUMNS, *rows]


def pipelines_table(pipelines: list[type[Pipeline]]) -> Table:
    table = Table(title="Registered pipelines", title_justify="left", caption="--json for the full declarations")
    header, *rows = pipeline_rows(pipelines)
    for column in header:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table
