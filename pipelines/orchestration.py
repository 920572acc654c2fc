"""Data-aware dbt: build what stands on healthy sources, skip what does not, and say why.

Before `dbt build`, every upstream pipeline is checked:

- its **run**: locally, whether it failed in this `toltek run`; in the cloud, its Cloud Run job's
  latest execution (failed or cancelled: unhealthy; still running: waited for, up to
  `UPSTREAM_WAIT_SECONDS`, then judged by its data);
- its **data**: `dbt source freshness` on the source's `_dlt_loads` ledger, with thresholds
  derived from the pipeline's schedule (`pipelines.freshness`, written into the dbt sources by
  `toltek dbt-sources`). `warn` builds and reports; `error` (or no completed load at all) skips.

An unhealthy source does not stop the warehouse: dbt builds everything except that source's
descendants (`--exclude source:<name>+`), the report lists the skipped models with the reason, and
the command fails (exit 1) so the job's failure alert fires.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pipelines import freshness as thresholds
from pipelines.base import Pipeline
from pipelines.environments import Environment

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest

# How long the dbt job waits for an upstream execution that is still running before judging the
# source by its data alone. The dbt job's timeout leaves room for it (infra/components/warehouse.py).
UPSTREAM_WAIT_SECONDS = 1800

Health = Literal["pass", "warn", "error"]


@dataclass(frozen=True)
class SourceCheck:
    """One upstream pipeline's verdict and the reason for it."""

    pipeline: str
    health: Health
    reason: str

    @property
    def skips(self) -> bool:
        return self.health == "error"


@dataclass
class Plan:
    """The sources checked, and the models the build leaves out because of them."""

    checks: list[SourceCheck]
    skipped_models: dict[str, list[str]] = field(default_factory=dict)  # pipeline -> model names

    @property
    def unhealthy(self) -> list[SourceCheck]:
        return [c for c in self.checks if c.skips]

    @property
    def exclude(self) -> list[str]:
        """dbt selectors for the descendants of every unhealthy source."""
        return [f"source:{c.pipeline}+" for c in self.unhealthy]


RunCheck = Callable[[type[Pipeline]], SourceCheck | None]


def cloud_run_check(
    project: str, region: str, env_name: str, *, wait_seconds: int = UPSTREAM_WAIT_SECONDS, poll_seconds: float = 15.0, endpoint: str | None = None
) -> RunCheck:
    """The cloud's run check: each pipeline job's latest execution (in `project`/`region`).
    Failed or cancelled: unhealthy. Still running: waited for, up to `wait_seconds` shared by every
    pipeline, then judged by its data. Succeeded, or never run: judged by its data. A job that
    cannot be read (not deployed, no permission) is unhealthy, with the reason."""
    import time

    from pipelines import naming
    from pipelines.ops import runs
    from pipelines.ops.clients import run_clients

    clients = run_clients(endpoint)
    deadline = time.monotonic() + wait_seconds

    def check(pipeline: type[Pipeline]) -> SourceCheck | None:
        from google.api_core import exceptions as api

        job = naming.job_name(pipeline.name, env_name)
        path = runs.job_path(project, region, job)
        try:
            latest = runs.latest_execution(clients.executions, path)
            if latest is not None and not latest.done:
                left = max(0.0, deadline - time.monotonic())
                try:
                    latest = runs.wait_for(clients.executions, latest.name, timeout_seconds=left, poll_seconds=poll_seconds)
                except runs.WaitTimeout:
                    return None  # still running: its data decides
        except api.NotFound:
            return SourceCheck(pipeline.name, "error", f"job {job} not found in {project} ({region}): not deployed? run `pulumi up -s {env_name}`")
        except api.PermissionDenied:
            return SourceCheck(pipeline.name, "error", f"cannot read the executions of job {job}: the dbt account needs roles/run.viewer on it")
        except api.GoogleAPIError as exc:
            return SourceCheck(pipeline.name, "error", f"cannot read the executions of job {job}: {' '.join(str(exc).split())[:160]}")
        if latest is None or latest.state == "succeeded":
            return None
        when = f" at {latest.completion:%Y-%m-%d %H:%M} UTC" if latest.completion else ""
        tasks = f", {latest.failed} task(s) failed" if latest.failed else ""
        return SourceCheck(pipeline.name, "error", f"latest execution {latest.id} {latest.state}{when}{tasks}")

    return check


def _age_text(age: float | None) -> str:
    return "never completed a load" if age is None else f"last completed load {thresholds.describe(age)} ago"


def freshness_checks(results: Iterable[object], pipelines: list[type[Pipeline]]) -> dict[str, SourceCheck]:
    """Verdicts from `dbt source freshness` results (one per source's `_dlt_loads`)."""
    by_name = {p.name: p for p in pipelines}
    checks: dict[str, SourceCheck] = {}
    for result in results:
        node = result.node  # type: ignore[attr-defined]
        name = node.source_name
        if name not in by_name:
            continue
        limits = thresholds.of(by_name[name])
        status = str(result.status)  # type: ignore[attr-defined]
        age = getattr(result, "age", None)
        bounds = f"warn after {thresholds.describe(limits.warn_after_seconds)}, error after {thresholds.describe(limits.error_after_seconds)}"
        if status in ("pass", "warn", "error") and getattr(result, "max_loaded_at", None) is not None:
            checks[name] = SourceCheck(name, status, f"{_age_text(age)} ({bounds})")  # type: ignore[arg-type]
        elif status in ("pass", "warn", "error"):
            checks[name] = SourceCheck(name, "error", f"{_age_text(None)} ({bounds})")
        else:  # runtime error: the ledger cannot be read, e.g. the dataset was never loaded
            why = " ".join(str(getattr(result, "message", "") or "").split())[:200]
            checks[name] = SourceCheck(name, "error", f"freshness could not be read: {why or status}")
    return checks


def descendants(manifest: Manifest, source: str) -> list[str]:
    """Names of the models (and snapshots) downstream of any table of dbt source `source`."""
    children: dict[str, set[str]] = {}
    for unique_id, node in manifest.nodes.items():
        for parent in getattr(node.depends_on, "nodes", ()):
            children.setdefault(parent, set()).add(unique_id)
    frontier = [uid for uid, s in manifest.sources.items() if s.source_name == source]
    seen: set[str] = set()
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in seen:
                seen.add(child)
                frontier.append(child)
    return sorted(manifest.nodes[uid].name for uid in seen if manifest.nodes[uid].resource_type in ("model", "snapshot"))


def plan(
    env: Environment,
    pipelines: list[type[Pipeline]],
    *,
    run_check: RunCheck | None = None,
    failed_now: Iterable[str] = (),
    missing: Iterable[str] = (),
) -> tuple[Plan, Manifest]:
    """Check every pipeline feeding the warehouse: its run (`failed_now` locally, `run_check` in
    the cloud), then `dbt source freshness` for the rest. `missing`: raw datasets that do not
    exist yet (never loaded)."""
    from pipelines import transform as dbt

    manifest = dbt.parse(env)
    checks: dict[str, SourceCheck] = {}
    failed_now, missing = set(failed_now), set(missing)
    for pipeline in pipelines:
        if pipeline.name in failed_now:
            checks[pipeline.name] = SourceCheck(pipeline.name, "error", "failed in this run")
        elif pipeline.name in missing:
            checks[pipeline.name] = SourceCheck(pipeline.name, "error", f"raw dataset '{pipeline.dataset}' has never been loaded")
        elif run_check is not None and (verdict := run_check(pipeline)) is not None and verdict.skips:
            checks[pipeline.name] = verdict
    rest = [p for p in pipelines if p.name not in checks]
    if rest:
        fresh = freshness_checks(dbt.source_freshness(env, manifest, [p.name for p in rest]), rest)
        for pipeline in rest:
            checks[pipeline.name] = fresh.get(
                pipeline.name, SourceCheck(pipeline.name, "error", "dbt reported no freshness for its source")
            )
    result = Plan([checks[p.name] for p in pipelines])
    for check in result.unhealthy:
        result.skipped_models[check.pipeline] = descendants(manifest, check.pipeline)
    return result, manifest


def report_lines(result: Plan) -> list[tuple[Health, str]]:
    """(health, line) per source that is not plainly healthy: what was skipped and why."""
    lines: list[tuple[Health, str]] = []
    for check in result.checks:
        if check.health == "warn":
            lines.append(("warn", f"{check.pipeline}: stale, {check.reason}; built anyway"))
        elif check.skips:
            models = result.skipped_models.get(check.pipeline) or []
            shown = ", ".join(models) if models else "no models"
            lines.append(("error", f"{check.pipeline}: {check.reason}; skipped {len(models)} model(s): {shown}"))
    return lines

