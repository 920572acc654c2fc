"""`toltek run`: load each pipeline with a progress display, then transfer and transform.

The transform (`transform`): ``auto`` runs it unless no pipeline loaded rows and the last local
build is up to date (see `last_build`); ``always`` runs it; ``never`` skips it.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Literal

from rich.console import Console
from rich.table import Table

from pipelines import reporters
from pipelines.base import Pipeline
from pipelines.environments import Environment
from pipelines.errors import PipelineFailed
from pipelines.loading import LoadResult, load
from pipelines.registry import REGISTRY

TransformMode = Literal["auto", "always", "never"]



def needs_sample_server(selected: list[type[Pipeline]]) -> bool:
    """Locally the sample server stands in for the REST and Sheets APIs. Pipelines of landed files
    (a `landing_prefix`) read the sample folder's files/ directly: a run of only those neither
    starts the server nor reads the API sample into memory."""
    return any(pipeline.landing_prefix is None for pipeline in selected)


def run_all(env: Environment, selected: list[type[Pipeline]], *, transform: TransformMode, out: Console, err: Console) -> bool:
    """Run `selected` in `env`; report progress and the summary through a `Reporter` (the terminal's on
    `out` and `err`, or structured records in a Cloud Run job); True if all passed."""
    results: list[LoadResult] = []
    failures: list[tuple[str, str]] = []
    reporter = reporters.choose(out, err)
    out, err = reporter.out, reporter.err
    with ExitStack() as stack:
        if env.is_local and needs_sample_server(selected):
            from pipelines.samples.server import SampleStore, running

            server = stack.enter_context(running(SampleStore.load(env.require_samples())))
            env = env.with_sample_url(server.url)
        stack.enter_context(reporter.running())
        for pipeline in selected:
            on_stage = reporter.started(pipeline)
            try:
                result = load(pipeline, env, on_stage=on_stage)
            except PipelineFailed as exc:
                failures.append((pipeline.name, str(exc)))
                reporter.failed(pipeline, str(exc))
                continue
            results.append(result)
            reporter.loaded(pipeline, result)

    reporter.finished(env, results, failures)
    if failures or transform == "never":
        if failures and transform != "never":
            err.print("transfer and dbt skipped: a pipeline failed", highlight=False)
        return not failures
    from pipelines import last_build

    every = [p for p in REGISTRY.all() if env.name in p.environments]
    loads, project = last_build.datalake_loads(env, every), last_build.project_digest()
    loaded = any(n for r in results for n in r.rows.values())
    if transform == "auto" and not loaded and last_build.up_to_date(env, loads, project):
        out.print("no new rows: transfer and dbt skipped (the warehouse is up to date; --force-transform runs them)", highlight=False)
        return True
    full_refresh = last_build.needs_full_refresh(env, project)
    last_build.started(env)
    ok = _transfer_and_transform(env, every, out, err, full_refresh=full_refresh)
    last_build.finished(env, ok, loads, project)
    return ok


def _transfer_and_transform(env: Environment, every: list[type[Pipeline]], out: Console, err: Console, *, full_refresh: bool) -> bool:
    from pipelines import transform as dbt
    from pipelines.transfer import transfer

    try:
        if env.is_local:
            with err.status("transfer: warehouse attaches the datalake read-only"):
                transferred = transfer(env, every)
            out.print(
                "transfer: " + ", ".join(f"{t.dataset} {t.mode} ({t.tables} tables, {t.rows} rows)" for t in transferred),
                highlight=False,
            )
        with err.status(f"dbt build --target {env.name}" + (" --full-refresh" if full_refresh else "")):
            result = dbt.build(env, full_refresh=full_refresh)
    except PipelineFailed as exc:
        err.print(f"[bold red]failed:[/] {exc}", highlight=False, soft_wrap=True)
        return False
    table = Table(title=f"dbt build ({env.name})", title_justify="left")
    table.add_column("resource")
    table.add_column("passed", justify="right")
    for kind, count in sorted(result.passed.items()):
        table.add_row(kind, str(count))
    table.add_row("[red]failed[/]" if result.failed else "failed", str(len(result.failed)))
    out.print(table)
    for failure in result.failed:
        err.print(f"[bold red]dbt:[/] {failure}", highlight=False, soft_wrap=True)
    if result.skipped:
        err.print(f"dbt: {len(result.skipped)} node(s) skipped because a node they depend on failed", highlight=False)
    return result.ok
