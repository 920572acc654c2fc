"""`dbt build` of the `transform/` project, in-process through dbt's programmatic runner."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.environments import REPO_ROOT, Environment, toltek_home
from pipelines.errors import PipelineFailed
from pipelines.signals import inside_dbt

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest

# The dbt project: `transform/` of the repository, or where an image put it (`DBT_PROJECT_DIR`, as dbt reads it).
PROJECT_DIR = Path(os.environ.get("DBT_PROJECT_DIR") or REPO_ROOT / "transform")
_PASSED = {"success", "pass"}


@dataclass
class TransformResult:
    """Counts by dbt resource type (model, seed, test, unit_test) and outcome."""

    passed: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # not run because something upstream failed

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped


def dbt_env(env: Environment) -> dict[str, str]:
    """Variables the dbt profile reads for `env`."""
    if env.is_local:
        return {"TOLTEK_HOME": str(toltek_home())}
    return {
        "TOLTEK_DATALAKE_PROJECT": env.datalake.project,
        "TOLTEK_WAREHOUSE_PROJECT": env.warehouse.project,
        "TOLTEK_BQ_LOCATION": env.warehouse.location,
    }


def dbt_args(env: Environment, command: str = "build", *, full_refresh: bool = False) -> list[str]:
    home = toltek_home()
    return [
        command,
        "--project-dir", str(PROJECT_DIR),
        "--profiles-dir", str(PROJECT_DIR),
        "--target", env.name,
        "--target-path", str(home / "dbt" / "target"),
        "--log-path", str(home / "dbt" / "logs"),
        "--quiet",
        *lookback_vars(env),
        *(["--full-refresh"] if full_refresh else []),
    ]


CLOUD_LOOKBACK_HOURS = 2  # `incremental_lookback_hours()`'s default on BigQuery (transform/macros/incremental.sql)


def lookback_vars(env: Environment) -> list[str]:
    """In the cloud, a `copy` pipeline's loads reach the warehouse up to a day after they complete
    (the daily Data Transfer copy) under their completion time: when one feeds the warehouse, the
    incremental marts look back that day as well, or a copy landing after a build that took another
    pipeline's newer load would be passed over for good. Nothing to add locally (the transfer runs
    before every build)."""
    from pipelines.freshness import COPY_INTERVAL_SECONDS
    from pipelines.registry import REGISTRY

    if env.is_local or not any(p.transfer == "copy" and env.name in p.environments for p in REGISTRY.all()):
        return []
    hours = CLOUD_LOOKBACK_HOURS + COPY_INTERVAL_SECONDS // 3600
    return ["--vars", f"{{incremental_lookback_hours: {hours}}}"]


def _reason(outcome: object, what: str) -> PipelineFailed:
    reason = getattr(outcome, "exception", None) or "dbt did not produce results"
    return PipelineFailed(f"{what} failed: {' '.join(str(reason).split())[:400]}")


def parse(env: Environment) -> Manifest:
    """The dbt project's manifest for `env` (parsed once; the freshness check and the build reuse it)."""
    from dbt.cli.main import dbtRunner

    os.environ.update(dbt_env(env))
    with inside_dbt():
        outcome = dbtRunner().invoke(dbt_args(env, "parse"))
    if outcome.result is None or not outcome.success:
        raise _reason(outcome, "dbt parse")
    return outcome.result


def source_freshness(env: Environment, manifest: Manifest, sources: list[str]) -> list[object]:
    """`dbt source freshness` of `sources`: one result per table with a freshness block."""
    from dbt.cli.main import dbtRunner

    os.environ.update(dbt_env(env))
    options = dbt_args(env)[1:]  # `source freshness` is a two-word command, then the options
    # dbt's own console lines are silenced: the caller reports each source's verdict itself.
    args = ["source", "freshness", *options, "--log-level", "none", "--select", *(f"source:{s}" for s in sources)]
    with inside_dbt():
        outcome = dbtRunner(manifest=manifest).invoke(args)
    results = getattr(outcome.result, "results", None)
    if results is None:
        raise _reason(outcome, "dbt source freshness")
    return list(results)


def build(
    env: Environment,
    *,
    full_refresh: bool = False,
    exclude: list[str] | None = None,
    manifest: Manifest | None = None,
    select: list[str] | None = None,
) -> TransformResult:
    """Run `dbt build` for `env` (incremental models rebuilt whole with `full_refresh`), leaving out
    the `exclude` selectors; raise `PipelineFailed` if dbt cannot run at all."""
    from dbt.cli.main import dbtRunner

    os.environ.update(dbt_env(env))
    args = dbt_args(env, full_refresh=full_refresh) + (["--select", *select] if select else []) + (["--exclude", *exclude] if exclude else [])
    with inside_dbt():
        outcome = dbtRunner(manifest=manifest).invoke(args)
    result = TransformResult()
    run_results = getattr(outcome.result, "results", None)
    if run_results is None:
        reason = outcome.exception or "dbt did not produce results"
        raise PipelineFailed(f"dbt build failed: {' '.join(str(reason).split())[:400]}")
    for node_result in run_results:
        kind = str(node_result.node.resource_type)
        if str(node_result.status) in _PASSED:
            result.passed[kind] += 1
        elif str(node_result.status) == "skipped":
            result.skipped.append(f"{kind} {node_result.node.name}")
        else:
            why = " ".join(str(node_result.message or "").split())[:300]
            result.failed.append(f"{kind} {node_result.node.name}: {node_result.status}" + (f": {why}" if why else ""))
    return result
