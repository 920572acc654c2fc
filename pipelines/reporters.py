"""What `toltek run` shows while pipelines load, and the summary after: in a terminal, Rich's
progress display and a table; in a Cloud Run job, structured log records (`pipelines.cloud_log`).

`run_all` talks to a `Reporter` only; `choose` picks one for the consoles it was handed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Protocol

from rich.console import Console
from rich.table import Table

from pipelines import cloud_log
from pipelines.console_text import labelled, plain
from pipelines.loading import DISCARDED_TABLE

if TYPE_CHECKING:
    from pipelines.base import Pipeline
    from pipelines.environments import Environment
    from pipelines.loading import LoadResult


class Reporter(Protocol):
    """How a run tells what happens. `out` and `err` are where the transfer and dbt print."""

    out: Console
    err: Console

    def running(self) -> AbstractContextManager[None]:
        """Around the loop over pipelines."""

    def started(self, pipeline: type[Pipeline]) -> Callable[[str], None]:
        """A pipeline starts; returns what the loader calls with each step it enters."""

    def loaded(self, pipeline: type[Pipeline], result: LoadResult) -> None: ...

    def failed(self, pipeline: type[Pipeline], message: str) -> None: ...

    def finished(self, env: Environment, results: list[LoadResult], failures: list[tuple[str, str]]) -> None:
        """Every pipeline has run: the summary."""


def choose(out: Console, err: Console) -> Reporter:
    """Structured records in a Cloud Run job (or when handed its consoles), else the terminal's."""
    if isinstance(err, cloud_log.CloudLogConsole):
        return JsonReporter(err.log_to)
    if cloud_log.enabled():
        return JsonReporter(cloud_log.CloudLog())
    return TerminalReporter(out, err)


class TerminalReporter:
    """A spinner line per pipeline on `err`, then failures and the loads table."""

    def __init__(self, out: Console, err: Console) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.out, self.err = out, err
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=False)
        self.tasks: dict[str, int] = {}

    @contextmanager
    def running(self) -> Iterator[None]:
        with self.progress:
            yield

    def started(self, pipeline: type[Pipeline]) -> Callable[[str], None]:
        task = self.tasks[pipeline.name] = self.progress.add_task(f"{pipeline.name}: starting", total=None)

        def on_stage(stage: str, task: int = task, name: str = pipeline.name) -> None:
            self.progress.update(task, description=f"{name}: {stage}")

        return on_stage

    def loaded(self, pipeline: type[Pipeline], result: LoadResult) -> None:
        if result.discarded:
            self.err.print(
                f"[yellow]{pipeline.name}: {result.discarded} row(s) broke the source contract; "
                f"kept with reasons in {pipeline.dataset}.discarded_rows[/]",
                highlight=False,
            )
        if result.refreshed:
            self.err.print(
                labelled(f"{pipeline.name}:", "loaded from scratch (its tables dropped and loaded again); the next build rebuilds the marts whole", "bold"),
                soft_wrap=True,
            )
        description = f"[green]{pipeline.name}: {result.total_rows} rows[/]"
        self.progress.update(self.tasks[pipeline.name], description=description, total=1, completed=1)

    def failed(self, pipeline: type[Pipeline], message: str) -> None:
        self.progress.update(self.tasks[pipeline.name], description=f"[red]{pipeline.name}: failed[/]", total=1, completed=1)

    def finished(self, env: Environment, results: list[LoadResult], failures: list[tuple[str, str]]) -> None:
        for _, message in failures:
            self.err.print(labelled("failed:", message), soft_wrap=True)
        self.out.print(loads_table(env, results, failures))


def loads_table(env: Environment, results: list[LoadResult], failures: list[tuple[str, str]]) -> Table:
    # Printed once every pipeline has run; a title that claims nothing the rows do not show.
    loaded = sum(r.total_rows for r in results)
    title = f"Pipelines → {env.datalake.describe()}: {loaded} row(s) loaded" + (f", {len(failures)} failed" if failures else "")
    table = Table(title=plain(title), title_justify="left")
    table.add_column("pipeline")
    table.add_column("tables", justify="right")
    table.add_column("rows loaded", justify="right")
    table.add_column("discarded", justify="right")
    table.add_column("seconds", justify="right")
    for r in results:
        discarded = f"[yellow]{r.discarded}[/]" if r.discarded else "0"
        table.add_row(r.pipeline, str(r.tables), str(r.total_rows), discarded, f"{r.seconds:.1f}")
    for name, _ in failures:
        table.add_row(f"[red]{name}[/]", "-", "-", "-", "failed")
    return table


class JsonReporter:
    """One record per step a pipeline enters (INFO), a WARNING for discarded rows, an ERROR for
    a failure, and a summary record per loaded pipeline (`jsonPayload.toltek.event="summary"`)."""

    def __init__(self, log: cloud_log.CloudLog) -> None:
        self.log = log
        self.out, self.err = cloud_log.consoles(log)

    @contextmanager
    def running(self) -> Iterator[None]:
        yield

    def started(self, pipeline: type[Pipeline]) -> Callable[[str], None]:
        self.log.pipeline, self.log.stage = pipeline.name, "extract"

        def on_stage(step: str, name: str = pipeline.name) -> None:
            self.log.stage = cloud_log.stage_of(step)
            self.log.emit("INFO", f"{name}: {step}", payload={"event": "stage", "pipeline": name, "step": step})

        return on_stage

    def loaded(self, pipeline: type[Pipeline], result: LoadResult) -> None:
        name = pipeline.name
        if result.discarded:
            self.log.emit(
                "WARNING",
                f"{name}: {result.discarded} row(s) broke the source contract; kept with reasons in {pipeline.dataset}.{DISCARDED_TABLE}",
                stage="load",
                payload={"event": "discarded", "pipeline": name, "discarded": result.discarded, "table": f"{pipeline.dataset}.{DISCARDED_TABLE}"},
            )
        rows = {t: n for t, n in result.rows.items() if t != DISCARDED_TABLE}
        payload = cloud_log.summary_payload(name, rows, discarded=result.discarded, seconds=result.seconds)
        message = f"{name}: {payload['rows']} rows into {len(rows)} table(s), {payload['discarded']} discarded, {result.seconds:.1f} s"
        self.log.emit("INFO", message, stage=cloud_log.SUMMARY, payload=payload)
        self.log.pipeline, self.log.stage = None, cloud_log.SUMMARY

    def failed(self, pipeline: type[Pipeline], message: str) -> None:
        self.log.emit("ERROR", message, payload={"event": "failed", "pipeline": pipeline.name, "stage": self.log.stage, "error": message})
        self.log.pipeline, self.log.stage = None, cloud_log.SUMMARY

    def finished(self, env: Environment, results: list[LoadResult], failures: list[tuple[str, str]]) -> None:
        return None  # each pipeline's summary or failure is already written
