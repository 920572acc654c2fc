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
    """Fits 80 columns: identifiers never break; the schedule takes two lines (cron, time zone);
    secrets and environments wrap between words."""
    from rich import box

    table = Table(title="Registered pipelines", title_justify="left", caption="--json for the full declarations", box=box.SIMPLE_HEAD)
    table.add_column("name", no_wrap=True)
    table.add_column("schedule", no_wrap=True)
    table.add_column("dataset", no_wrap=True)
    table.add_column("secrets", no_wrap=True)
    table.add_column("runs in")
    header, *rows = pipeline_rows(pipelines)
    for name, cron, zone, dataset, secrets, envs in rows:
        table.add_row(name, f"{cron}\n[dim]{zone}[/]", dataset, secrets.replace(", ", "\n"), envs)
    return table
