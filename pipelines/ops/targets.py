"""The scheduled jobs of a stack: each pipeline's Cloud Run job in the datalake project and, in
prd, the dbt job in the warehouse project. Projects and region come from `Pulumi.<stack>.yaml`
(or the `TOLTEK_*` variables), as everywhere else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipelines import dbt_job, environments, freshness, naming
from pipelines.declarations import Resources, Schedule
from pipelines.errors import UserError
from pipelines.freshness import Freshness
from pipelines.ops.runs import job_path

STACKS = ("dev", "prd")


@dataclass(frozen=True)
class Target:
    """One deployed job: which, where, when it runs and how stale its last success may get."""

    name: str  # the pipeline's name, or "dbt"
    kind: Literal["pipeline", "dbt"]
    stack: str
    project: str
    region: str
    job: str  # the Cloud Run job's name
    schedule: Schedule
    resources: Resources
    freshness: Freshness

    @property
    def path(self) -> str:
        return job_path(self.project, self.region, self.job)

    def where(self) -> str:
        return f"project {self.project} (region {self.region})"


def _region(stack: str) -> str:
    region = environments.stack_config(stack).get("region")
    if not isinstance(region, str) or not region:
        raise UserError(f"Pulumi.{stack}.yaml: 'toltek:region' is missing")
    return region


def _check_stack(stack: str | None) -> str:
    if stack is None:
        raise UserError("choose a stack with -s dev or -s prd")
    if stack not in STACKS:
        raise UserError(f"unknown stack '{stack}' (choose from: {', '.join(STACKS)})")
    return stack


def stack_targets(stack: str | None) -> list[Target]:
    """Every scheduled job of the stack: its pipelines by name, then dbt (prd only)."""
    from pipelines.registry import discover

    stack = _check_stack(stack)
    env, region = environments.get(stack), _region(stack)
    targets = [
        Target(
            name=p.name,
            kind="pipeline",
            stack=stack,
            project=env.datalake.project,  # type: ignore[union-attr]
            region=region,
            job=naming.job_name(p.name, stack),
            schedule=p.schedule,
            resources=p.resources,
            freshness=freshness.of(p),
        )
        for p in discover().select(None, stack)
    ]
    if stack in dbt_job.ENVIRONMENTS:
        targets.append(
            Target(
                name=dbt_job.NAME,
                kind="dbt",
                stack=stack,
                project=env.warehouse.project,  # type: ignore[union-attr]
                region=region,
                job=dbt_job.job_name(stack),
                schedule=dbt_job.SCHEDULE,
                resources=dbt_job.RESOURCES,
                # The same thresholds a pipeline's schedule would give (freshness.of reads only these two).
                freshness=freshness.of(_DbtDeclaration),  # type: ignore[arg-type]
            )
        )
    return targets


class _DbtDeclaration:
    schedule = dbt_job.SCHEDULE
    stale_after_runs = dbt_job.STALE_AFTER_RUNS


def target(stack: str | None, name: str) -> Target:
    """The job called `name` (a pipeline, or `dbt`) in the stack; an unknown name is a user error."""
    from pipelines.registry import discover

    stack = _check_stack(stack)
    if name == dbt_job.NAME and stack not in dbt_job.ENVIRONMENTS:
        raise UserError(f"the dbt job runs in {', '.join(dbt_job.ENVIRONMENTS)} only; stack '{stack}' has none")
    if name != dbt_job.NAME:
        registry = discover()
        if name not in registry.names():
            choices = registry.names() + ([dbt_job.NAME] if stack in dbt_job.ENVIRONMENTS else [])
            raise UserError(f"unknown pipeline '{name}' (choose from: {', '.join(choices)})")
        registry.select([name], stack)  # does it run in this stack?
    return next(t for t in stack_targets(stack) if t.name == name)
