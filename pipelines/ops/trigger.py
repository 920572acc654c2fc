"""`toltek trigger`: start an execution of a job now, optionally follow it to the end.

Two one-off runs override this one execution's container arguments with the deployed job's own
(read from the job) plus a flag; the job itself and its schedule stay unchanged:

- a backfill of dbt models (`--full-refresh MODEL`): `transform --env prd` plus `--full-refresh
  --select MODEL ...`, which rebuilds those incremental models whole and runs their tests;
- a pipeline loaded from scratch (`--refresh`): `run NAME --env ENV --skip-transform` plus
  `--refresh`, which drops the pipeline's tables, schema and saved state once the new rows are
  ready and loads everything its source gives now (`toltek run --refresh`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from pipelines.environments import REPO_ROOT
from pipelines.errors import UserError
from pipelines.ops import runs
from pipelines.ops.clients import RunClients
from pipelines.ops.display import STATE_STYLES, duration
from pipelines.ops.errors import READ_EXECUTIONS, RUN_JOB, RUN_WITH_OVERRIDES, Call, explained
from pipelines.ops.runs import Execution
from pipelines.ops.targets import Target

POLL_VARIABLE = "TOLTEK_POLL_SECONDS"
DEFAULT_POLL_SECONDS = 5.0
# How long --wait follows beyond the longest an execution may take (timeout x (1 + retries)):
# time to be scheduled and to start.
WAIT_MARGIN_SECONDS = 600
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def poll_seconds() -> float:
    """Seconds between two reads of a followed execution: `$TOLTEK_POLL_SECONDS`, default 5."""
    raw = os.environ.get(POLL_VARIABLE)
    if not raw:
        return DEFAULT_POLL_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 300:
        raise UserError(f"{POLL_VARIABLE}={raw!r}: expected seconds between 0 and 300")
    return value


def dbt_nodes(project_dir: os.PathLike[str] | str = REPO_ROOT / "transform") -> set[str]:
    """Names of the models, seeds and snapshots of the dbt project (what `--select NAME` matches)."""
    from pathlib import Path

    root = Path(project_dir)
    found = {p.stem for folder in ("models", "snapshots") for p in (root / folder).rglob("*.sql")}
    return found | {p.stem for p in (root / "seeds").rglob("*.csv")}


def refresh_args(target: Target, resources: Sequence[str], deployed: tuple[str, list[str], list[str]]) -> list[str]:
    """The container arguments of a dbt execution that rebuilds `resources` whole: the deployed
    job's arguments plus `--full-refresh --select ...`. The job runs `toltek transform ...` (its
    upstream checks still apply; the selection is one space-separated value, as dbt reads it) or,
    deployed before that, `dbt build ...`."""
    _, command, args = deployed
    transform = command in ([], ["toltek"]) and args[:1] == ["transform"]
    if not transform and (command not in ([], ["dbt"]) or args[:1] != ["build"]):
        shown = " ".join(command + args) or "the image's default command"
        raise UserError(f"job {target.job} runs `{shown}`, not `toltek transform ...` or `dbt build ...`: cannot add --full-refresh to it")
    if {"--full-refresh", "--select", "-s"} & set(args):
        raise UserError(f"job {target.job} already runs `{' '.join(args)}`: cannot add --full-refresh --select to it")
    return [*args, "--full-refresh", "--select", " ".join(resources)] if transform else [*args, "--full-refresh", "--select", *resources]


def reload_args(target: Target, deployed: tuple[str, list[str], list[str]]) -> list[str]:
    """The container arguments of a pipeline execution that loads it from scratch: the deployed
    job's own (`run NAME --env ENV --skip-transform`) plus `--refresh`."""
    _, command, args = deployed
    if command not in ([], ["toltek"]) or args[:2] != ["run", target.name]:
        shown = " ".join(command + args) or "the image's default command"
        raise UserError(f"job {target.job} runs `{shown}`, not `toltek run {target.name} ...`: cannot add --refresh to it")
    if "--refresh" in args:
        raise UserError(f"job {target.job} already runs `{' '.join(args)}`: every execution reloads it from scratch")
    return [*args, "--refresh"]


def check_refresh(target: Target, resources: Sequence[str], reload: bool = False) -> None:
    """`--full-refresh` is for dbt models, a plain name one the dbt project has; `--refresh` for
    pipelines."""
    if reload and target.kind == "dbt":
        raise UserError(
            "--refresh reloads a pipeline from scratch; dbt rebuilds models whole with `toltek trigger dbt -s prd --full-refresh MODEL`"
        )
    if not resources:
        return
    if target.kind != "dbt":
        raise UserError(
            f"--full-refresh rebuilds dbt models (`toltek trigger dbt -s prd --full-refresh MODEL`); a pipeline is loaded from "
            f"scratch with `toltek trigger {target.name} -s {target.stack} --refresh`"
        )
    known = dbt_nodes()
    unknown = [r for r in resources if _PLAIN_NAME.fullmatch(r) and r not in known]
    if known and unknown:
        raise UserError(f"no dbt model, seed or snapshot named {', '.join(repr(u) for u in unknown)} in transform/")


def start(clients: RunClients, target: Target, refresh: Sequence[str] = (), *, reload: bool = False) -> tuple[Execution, list[str] | None]:
    """Start an execution of the target's job now; return it and the container arguments it was
    given in place of the job's (None: the job's own). `refresh`: dbt models to rebuild whole;
    `reload`: load the pipeline from scratch."""
    check_refresh(target, refresh, reload)
    if refresh or reload:
        call = Call(f"starting {target.job} with overrides", target.stack, target.project, target.region, target.job, RUN_WITH_OVERRIDES)
        with explained(call):
            deployed = runs.job_container(clients.jobs, target.path)
            args = refresh_args(target, refresh, deployed) if refresh else reload_args(target, deployed)
            return runs.run_job(clients.jobs, target.path, args=args, container=deployed[0]), args
    call = Call(f"starting {target.job}", target.stack, target.project, target.region, target.job, RUN_JOB)
    with explained(call):
        return runs.run_job(clients.jobs, target.path), None


def _tasks(e: Execution) -> str:
    """`0 running, 1 succeeded, 0 failed of 1`."""
    counts = f"{e.running} running, {e.succeeded} succeeded, {e.failed} failed"
    return counts + (f", {e.cancelled} cancelled" if e.cancelled else "") + f" of {e.tasks}"


def follow(clients: RunClients, target: Target, execution: Execution, err: Console, *, poll: float | None = None) -> Execution:
    """Poll the execution until it is done, showing its tasks on `err`; return it as it ended.
    Raises `runs.WaitTimeout` when it outlasts the longest an execution of the job may take."""
    poll = poll_seconds() if poll is None else poll
    timeout = target.resources.longest_execution_seconds + WAIT_MARGIN_SECONDS
    call = Call(f"reading execution {execution.id}", target.stack, target.project, target.region, target.job, READ_EXECUTIONS)
    columns = (SpinnerColumn(finished_text="•"), TextColumn("{task.description}"), TextColumn("[dim]{task.fields[tasks]}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        bar = progress.add_task(execution.id, total=1, tasks=_tasks(execution))

        def show(e: Execution) -> None:
            progress.update(bar, tasks=_tasks(e), completed=1 if e.done else 0)

        with explained(call):
            return runs.wait_for(clients.executions, execution.name, timeout_seconds=timeout, poll_seconds=poll, on_poll=show)


def outcome(e: Execution) -> str:
    """One line for how the execution ended (Rich markup)."""
    took = f" in {duration(e.duration_seconds())}" if e.start else ""
    counted = {"succeeded": e.succeeded, "failed": e.failed, "cancelled": e.cancelled}.get(e.state, e.running)
    tasks = f"{counted} of {e.tasks} task{'s' if e.tasks != 1 else ''} {e.state}"
    return f"[{STATE_STYLES[e.state]}]{e.state}[/]: {e.id}{took}, {tasks}"
