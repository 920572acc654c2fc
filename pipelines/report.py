"""Rich tables the CLI prints."""

from __future__ import annotations

from rich.table import Table

from pipelines.base import Pipeline


def pipelines_table(pipelines: list[type[Pipeline]]) -> Table:
    table = Table(title="Registered pipelines", title_justify="left", caption="--json for the full declarations")
    for column in ("name", "cron", "time zone", "dataset", "secrets", "environments"):
        table.add_column(column, overflow="fold")
    for cls in pipelines:
        table.add_row(
            cls.name,
            cls.schedule.cron,
            cls.schedule.time_zone,
            cls.dataset,
            ", ".join(sorted(cls.secrets)) or "-",
            " ".join(cls.environments),
        )
    return table
