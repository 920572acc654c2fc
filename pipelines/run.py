"""`toltek run`: load each pipeline with a progress display, then transfer and transform.

The transform (`transform`): ``auto`` runs it unless no pipeline loaded rows and the last local
build is up to date (see `last_build`); ``always`` runs it; ``never`` skips it.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from rich.console import Console
from rich.table import Table

from pipelines import reporters
from pipelines.base import Pipeline
from pipelines.console_text import labelled, plain
from pipelines.environments import Environment
from pipelines.errors import PipelineFailed
from pipelines.loading import LoadResult, load
from pipelines.registry import REGISTRY

if TYPE_CHECKING:
    from pipelines.orchestration import RunCheck

TransformMode = Literal["auto", "always", "never"]


@dataclass
class RunSummary:
    """What a run did, as data (`toltek run --json`, `toltek transform --json`)."""

    environment: str = ""
    pipelines: list[dict[str, object]] = field(default_factory=list)
    transform: dict[str, object] = field(default_factory=lambda: {"ran": False, "reason": "not requested"})
    ok: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"environment": self.environment, "ok": self.ok, "pipelines": self.pipelines, "transform": self.transform}



def needs_sample_server(selected: list[type[Pipeline]]) -> bool:
    """Locally the sample server stands in for the REST and Sheets APIs. Pipelines of landed files
    (a `landing_prefix`) read the sample folder's files/ directly: a run of only those neither
    starts the server nor reads the API sample into memory."""
    return any(pipeline.landing_prefix is None for pipeline in selected)


def run_all(
    env: Environment,
    selected: list[type[Pipeline]],
    *,
    transform: TransformMode,
    out: Console,
    err: Console,
    summary: RunSummary | None = None,
    refresh: bool = False,
) -> bool:
    """Run `selected` in `env`; report progress and the summary through a `Reporter` (the terminal's on
    `out` and `err`, or structured records in a Cloud Run job), and into `summary` as data; True if
    all passed. `refresh`: load each from scratch (`loading.load`); the next local build then
    rebuilds the marts whole (`last_build.reloaded`), since rows the sources no longer give are
    gone from the raw tables."""
    summary = summary if summary is not None else RunSummary()
    summary.environment = env.name
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
                result = load(pipeline, env, on_stage=on_stage, refresh=refresh)
            except PipelineFailed as exc:
                failures.append((pipeline.name, str(exc)))
                reporter.failed(pipeline, str(exc))
                continue
            results.append(result)
            reporter.loaded(pipeline, result)
            if result.refreshed:
                from pipelines import last_build

                last_build.reloaded(env)

    reporter.finished(env, results, failures)
    summary.pipelines = [
        {"name": r.pipeline, "status": "loaded", "rows": r.total_rows, "tables": {t: n for t, n in r.rows.items() if t != "discarded_rows"},
         "discarded": r.discarded, "refreshed": r.refreshed, "seconds": round(r.seconds, 3)}
        for r in results
    ] + [{"name": name, "status": "failed", "error": message} for name, message in failures]
    summary.ok = not failures
    if transform == "never":
        summary.transform = {"ran": False, "reason": "--skip-transform"}
        return not failures
    from pipelines import last_build

    every = [p for p in REGISTRY.all() if env.name in p.environments]
    loads, project = last_build.datalake_loads(env, every), last_build.project_digest()
    loaded = any(n for r in results for n in r.rows.values())
    if transform == "auto" and not failures and not loaded and last_build.up_to_date(env, loads, project):
        out.print("no new rows: transfer and dbt skipped (the warehouse is up to date; --force-transform runs them)", highlight=False)
        summary.transform = {"ran": False, "reason": "no new rows; the warehouse is up to date"}
        return True
    # Locally the record also knows a refresh since the last build; in dev/prd only this run does.
    full_refresh = any(r.refreshed for r in results) or last_build.needs_full_refresh(env, project)
    last_build.started(env)
    ok = _transfer_and_transform(env, every, out, err, full_refresh=full_refresh, failed_now=[name for name, _ in failures], summary=summary)
    last_build.finished(env, ok, loads, project)
    summary.ok = ok and not failures
    return summary.ok


def transform_only(
    env: Environment,
    every: list[type[Pipeline]],
    *,
    out: Console,
    err: Console,
    full_refresh: bool = False,
    run_check: RunCheck | None = None,
    select: list[str] | None = None,
    summary: RunSummary | None = None,
) -> bool:
    """`toltek transform`: the transfer (locally), the upstream checks, then `dbt build`, over
    `every` pipeline of the environment."""
    summary = summary if summary is not None else RunSummary()
    summary.environment = env.name
    if not env.is_local:
        summary.ok = _transfer_and_transform(
            env, every, out, err, full_refresh=full_refresh, failed_now=[], run_check=run_check, select=select, summary=summary
        )
        return summary.ok
    from pipelines import last_build

    loads, project = last_build.datalake_loads(env, every), last_build.project_digest()
    full_refresh = full_refresh or last_build.needs_full_refresh(env, project)
    last_build.started(env)
    ok = _transfer_and_transform(env, every, out, err, full_refresh=full_refresh, failed_now=[], run_check=run_check, select=select, summary=summary)
    last_build.finished(env, ok and not select, loads, project)  # a partial build is not the warehouse built
    summary.ok = ok
    return ok


def _transfer_and_transform(
    env: Environment,
    every: list[type[Pipeline]],
    out: Console,
    err: Console,
    *,
    full_refresh: bool,
    failed_now: list[str],
    run_check: RunCheck | None = None,
    select: list[str] | None = None,
    summary: RunSummary | None = None,
) -> bool:
    """The transfer, the upstream checks (runs and freshness), then `dbt build` of everything that
    stands on healthy sources; False if a source was left out or a dbt node failed."""
    from pipelines import orchestration
    from pipelines import transform as dbt
    from pipelines.dbt_sources import feeding_the_warehouse
    from pipelines.transfer import transfer

    sources = feeding_the_warehouse(every)
    try:
        missing: list[str] = []
        if env.is_local:
            with err.status("transfer: warehouse attaches the datalake read-only"):
                transferred = transfer(env, [p for p in every if p.name not in failed_now])
            missing = [p.name for p in every if any(t.dataset == p.dataset and not t.loaded for t in transferred)]
            out.print(
                "transfer: " + ", ".join(f"{t.dataset} {t.mode} ({t.tables} tables, {t.rows} rows)" for t in transferred if t.loaded),
                highlight=False,
            )
        with err.status("dbt source freshness: checking every upstream pipeline"):
            checked, manifest = orchestration.plan(env, sources, run_check=run_check, failed_now=failed_now, missing=missing)
        for health, line in orchestration.report_lines(checked):
            colour = "yellow" if health == "warn" else "red"
            err.print(plain(f"source {line}", colour), soft_wrap=True)
        with err.status(f"dbt build --target {env.name}" + (" --full-refresh" if full_refresh else "")):
            result = dbt.build(env, full_refresh=full_refresh, exclude=checked.exclude, manifest=manifest, select=select)
    except PipelineFailed as exc:
        err.print(labelled("failed:", str(exc)), soft_wrap=True)
        if summary is not None:
            summary.transform = {"ran": False, "reason": str(exc)}
        return False
    if summary is not None:
        summary.transform = {
            "ran": True,
            "passed": dict(sorted(result.passed.items())),
            "failed": result.failed,
            "skipped_after_failure": result.skipped,
            "sources": [
                {"pipeline": c.pipeline, "health": c.health, "reason": c.reason, "skipped_models": checked.skipped_models.get(c.pipeline, [])}
                for c in checked.checks
            ],
        }
    table = Table(title=f"dbt build ({env.name})", title_justify="left")
    table.add_column("resource")
    table.add_column("passed", justify="right")
    for kind, count in sorted(result.passed.items()):
        table.add_row(kind, str(count))
    table.add_row("[red]failed[/]" if result.failed else "failed", str(len(result.failed)))
    out.print(table)
    for failure in result.failed:
        err.print(labelled("dbt:", failure), soft_wrap=True)
    if result.skipped:
        err.print(f"dbt: {len(result.skipped)} node(s) skipped because a node they depend on failed", highlight=False)
    if checked.unhealthy:
        skipped = len(set().union(*checked.skipped_models.values()))
        names = ", ".join(c.pipeline for c in checked.unhealthy)
        err.print(labelled("failed:", f"{skipped} model(s) not built: source(s) {names} unhealthy (see above)"), soft_wrap=True)
    return result.ok and not checked.unhealthy
