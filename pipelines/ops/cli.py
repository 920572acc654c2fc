"""The operations commands, `toltek status`, `toltek trigger` and `toltek logs`, registered on
the `toltek` app by `pipelines.cli`. They work on a deployed stack (dev or prd), never locally."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from pipelines.console_text import labelled, plain
from pipelines.errors import UserError

out = Console(emoji=False)  # messages and names are printed as `Text` (`console_text`): shown as they are
err = Console(stderr=True, emoji=False)

Stack = Annotated[str | None, typer.Option("--stack", "-s", help="Stack: dev or prd (reads Pulumi.<stack>.yaml).", show_default=False)]
Name = Annotated[str, typer.Argument(help="A pipeline's name, or dbt (prd only).", show_default=False)]


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(labelled("error:", message), soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """User mistakes and API refusals as one line (exit 2); other API failures as one line (exit 1)."""
    from pipelines.ops.errors import CloudError

    try:
        yield
    except UserError as exc:
        _fail(str(exc))
    except CloudError as exc:
        _fail(str(exc), code=1)


def status(
    stack: Stack = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON (ISO 8601 times).")] = False,
) -> None:
    """Show each scheduled job of a stack: next run, last execution, and whether its data is fresh.

    One row per pipeline of the stack, and the dbt job in prd. Next run: the schedule's next firing, in the schedule's time zone. Last execution: succeeded, failed, running or cancelled, when it started and how long it took (or has taken so far), and how many tasks failed.

    Fresh is the execution-based verdict: the age of the job's latest succeeded execution (now minus its completion) against the thresholds derived from the schedule (pass, warn after `stale_after_runs[0]` intervals, error after `stale_after_runs[1]`, or when none succeeded). The data-based verdict is dbt's source freshness, from the loads themselves.

    Needs roles/run.viewer on the jobs (or their projects).

    Examples:

        toltek status -s prd

        toltek status -s dev --json
    """
    from pipelines.ops.clients import run_clients
    from pipelines.ops.status import as_json as status_json
    from pipelines.ops.status import collect, table
    from pipelines.ops.targets import stack_targets

    with _one_line_errors():
        targets = stack_targets(stack)
        now = datetime.now(timezone.utc)
        with run_clients() as clients:
            statuses = collect(clients.executions, targets, now)
    if as_json:
        print(json.dumps(status_json(str(stack), statuses, now), indent=2))
        return
    out.print(table(str(stack), statuses, now))
    for s in statuses:
        if not s.deployed:
            err.print(
                labelled("note:", f"job {s.target.job} not found in {s.target.where()}: not deployed yet? run `pulumi up -s {stack}`", "yellow"),
                soft_wrap=True,
            )


def trigger(
    name: Name,
    stack: Stack = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the execution to its end; exit 0 if it succeeded, 1 if it failed or was cancelled.")] = False,
    full_refresh: Annotated[
        list[str] | None,
        typer.Option(
            "--full-refresh",
            metavar="MODEL",
            help="dbt only, repeatable: rebuild this model whole (a dbt selector) in this execution.",
            show_default=False,
        ),
    ] = None,
    reload: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="Pipelines only: load it from scratch in this execution (its tables, schema and saved state dropped once the new rows are ready).",
        ),
    ] = False,
) -> None:
    """Start an execution of a job now, as its schedule would; print the execution's id.

    With --wait, follow it (tasks running, succeeded, failed, on stderr) until it ends. Seconds between two reads: $TOLTEK_POLL_SECONDS (default 5).

    --full-refresh MODEL (dbt only) runs this one execution with its container arguments overridden: the deployed job's own arguments (`transform --env prd`) plus `--full-refresh --select MODEL ...`, so dbt rebuilds those incremental models whole and runs their tests. --refresh (pipelines only) does the same with the pipeline job's arguments plus `--refresh`: it loads from scratch, as `toltek run NAME --refresh` does. The job and its schedule stay as they are. After a pipeline's refresh, rows its source no longer gives are gone from the raw tables but stay in incremental marts until those are rebuilt with --full-refresh.

    Needs roles/run.invoker on the job (roles/run.developer with --full-refresh or --refresh) and, for --wait, roles/run.viewer.

    Examples:

        toltek trigger shop_api -s prd --wait

        toltek trigger dbt -s prd --full-refresh fct_orders --full-refresh dim_customers

        toltek trigger shop_sheets -s prd --refresh --wait
    """
    from pipelines.ops import trigger as triggering
    from pipelines.ops.clients import run_clients
    from pipelines.ops.runs import WaitTimeout
    from pipelines.ops.targets import target

    with _one_line_errors():
        job = target(stack, name)
        with run_clients() as clients:
            execution, args = triggering.start(clients, job, full_refresh or (), reload=reload)
            print(execution.id, flush=True)
            how = f" with container arguments `{' '.join(args)}`" if args is not None else ""
            err.print(plain(f"started {execution.id} of job {job.job} in {job.where()}{how}"), soft_wrap=True)
            if not wait:
                err.print(plain(f"follow it: toltek logs {name} -s {job.stack} --execution {execution.id} --follow", "dim"), soft_wrap=True)
                return
            try:
                ended = triggering.follow(clients, job, execution, err)
            except WaitTimeout as exc:
                _fail(f"{exc}; it goes on: toltek status -s {job.stack}", code=1)
            except KeyboardInterrupt:
                err.print(f"stopped following; execution {execution.id} goes on (toltek status -s {job.stack})", highlight=False, soft_wrap=True)
                raise typer.Exit(128 + signal.SIGINT) from None
    err.print(triggering.outcome(ended), highlight=False, soft_wrap=True)
    raise typer.Exit(0 if ended.state == "succeeded" else 1)


def logs(
    name: Name,
    stack: Stack = None,
    execution: Annotated[str | None, typer.Option("--execution", "-x", help="Only this execution's entries (its id, as `toltek trigger` prints it).", show_default=False)] = None,
    since: Annotated[str | None, typer.Option("--since", help="How far back: 30m, 1h, 2d (default 1h; 7d with --execution).", show_default=False)] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Then keep streaming new entries until interrupted.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many of the newest entries before following.", min=1)] = 1000,
) -> None:
    """Print a job's log entries from Cloud Logging: time (in the schedule's time zone), severity, message.

    The entries of the job's Cloud Run executions (resource type cloud_run_job) from --since ago on, oldest first; the message is jsonPayload.message or textPayload.

    Needs roles/logging.viewer on the job's project.

    Examples:

        toltek logs shop_api -s prd --since 2d

        toltek logs dbt -s prd --execution toltek-dbt-prd-x7k2p --follow
    """
    from pipelines.ops import logs as logging_
    from pipelines.ops.clients import logging_client
    from pipelines.ops.targets import target

    with _one_line_errors():
        job = target(stack, name)
        window = logging_.parse_since(since or (logging_.DEFAULT_SINCE_FOR_EXECUTION if execution else logging_.DEFAULT_SINCE))
        start = datetime.now(timezone.utc) - window
        query = logging_.log_filter(job.job, start, execution)
        zone = job.schedule.time_zone
        client = logging_client()
        try:
            entries = logging_.recent(client, job, query, limit=limit)
            for entry in entries:
                out.print(entry.line(zone), highlight=False, soft_wrap=True)
            if not entries and not follow:
                err.print(plain(f"no log entries of {job.job} since {start:%Y-%m-%d %H:%M} UTC", "dim"))
            if follow:
                seen = {e.insert_id for e in entries if e.insert_id}

                def suppressed(count: int) -> None:
                    err.print(f"[yellow]{count} entries not streamed (Cloud Logging's rate limit)[/]", highlight=False)

                for entry in logging_.tail(client, job, query, on_suppressed=suppressed):
                    if entry.insert_id and entry.insert_id in seen:
                        continue
                    out.print(entry.line(zone), highlight=False, soft_wrap=True)
                err.print("[dim]the log stream ended[/]", highlight=False)
        except KeyboardInterrupt:
            raise typer.Exit(128 + signal.SIGINT) from None
        finally:
            client.transport.close()


def register(app: typer.Typer) -> None:
    """Add the operations commands to the `toltek` app."""
    app.command("status")(status)
    app.command("trigger")(trigger)
    app.command("logs")(logs)
