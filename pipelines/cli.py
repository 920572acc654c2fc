"""`toltek`: the command line of the Toltek Data Stack.

Exit codes: 0 success, 1 a pipeline, the transfer or a dbt node failed, 2 a user mistake (unknown
pipeline or environment, an invalid declaration or config), reported as one line.

Other layers add command groups through the `toltek.commands` entry point group (the
infrastructure adds `plan`), and a stack's cost estimate through `toltek.costs` (for `toltek
pipelines --cost`), so this package never imports them.
"""

from __future__ import annotations

import atexit
import gc
import json
import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from pipelines import cloud_log, environments, signals
from pipelines.cli_help import TidyGroup
from pipelines.console_text import labelled, plain
from pipelines.errors import Terminated, UserError
from pipelines.registry import discover

app = typer.Typer(
    name="toltek",
    help=(
        "Toltek Data Stack: dlt pipelines into a datalake, dbt in the warehouse.\n\n"
        "Start with `toltek run` (every pipeline, locally, on the sample data), `toltek pipelines` and "
        "`toltek plan -s prd`; `toltek COMMAND --help` for each command."
    ),
    no_args_is_help=True,
    cls=TidyGroup,
    pretty_exceptions_enable=False,
)
# In a Cloud Run job everything the CLI says is a structured log record on stdout (`cloud_log`).
# No emoji codes: `:x:` in a message stays `:x:`. Text from outside (messages, names, paths) is
# printed as `Text` (`console_text`), never parsed as markup, so a `[` in it stays a `[`.
out, err = cloud_log.consoles() if cloud_log.enabled() else (Console(emoji=False), Console(stderr=True, emoji=False))


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"toltek {version('toltek')}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True)] = False,
) -> None:
    """Toltek Data Stack."""


def fail_user(message: str) -> NoReturn:
    err.print(labelled("error:", message), soft_wrap=True)
    raise typer.Exit(2)


@app.command("pipelines")
def list_pipelines(
    as_json: Annotated[bool, typer.Option("--json", help="Print the registry as JSON.")] = False,
    cost: Annotated[
        bool, typer.Option("--cost", help="Add each pipeline's estimated monthly cost in a stack (from the stack's evaluated plan and infra/prices.yaml).")
    ] = False,
    stack: Annotated[str | None, typer.Option("--stack", "-s", help="The stack of --cost: dev or prd (default prd; implies --cost).", show_default=False)] = None,
) -> None:
    """List the registered pipelines: name, schedule, dataset, secrets and environments.

    In a terminal, a table; piped or redirected, tab-separated lines under a header row (for `cut`,
    `awk` or a spreadsheet); --json for every declared field. With --cost [-s prd], each
    pipeline's monthly cost estimate in that stack and its upper bound (every run its full
    timeout, on every retry), then the stack's total and what the estimate leaves out.

    Examples:

    toltek pipelines

    toltek pipelines --json

    toltek pipelines --cost -s prd
    """
    try:
        registry = discover()
        costs = _stack_costs(stack or "prd") if cost or stack else None
    except UserError as exc:
        fail_user(str(exc))
    from pipelines.report import pipeline_cost, pipeline_rows, pipelines_table

    if as_json:
        records = [cls.as_dict() for cls in registry.all()]
        for record in records if costs else []:
            record["cost"] = pipeline_cost(costs, str(record["name"]))
        text = json.dumps(records, indent=2)
        out.print_json(text) if out.is_terminal else print(text)
        return
    if out.is_terminal:
        out.print(pipelines_table(registry.all(), costs))
    else:
        print("\n".join("\t".join(row) for row in pipeline_rows(registry.all(), costs)))
    for line in costs["summary"] if costs else []:
        # Piped, the rows stay plain tab-separated lines: the totals go to stderr.
        (out if out.is_terminal else err).print(plain(line), soft_wrap=True)


def _stack_costs(stack: str) -> dict:
    """A stack's cost estimate, from the infrastructure's `toltek.costs` entry point (it evaluates
    the stack's plan, which this package cannot import)."""
    from importlib.metadata import entry_points

    found = list(entry_points(group="toltek.costs"))
    if not found:
        raise UserError("--cost needs the infrastructure package (entry point group toltek.costs), which is not installed here")
    return found[0].load()(stack)


@app.command("run")
def run(
    names: Annotated[list[str] | None, typer.Argument(help="Pipelines to run (default: all in the environment).", show_default=False)] = None,
    env: Annotated[str, typer.Option("--env", "-e", help="Environment: local, dev or prd.")] = "local",
    skip_transform: Annotated[bool, typer.Option("--skip-transform", help="Only extract and load; skip transfer and dbt.")] = False,
    force_transform: Annotated[
        bool,
        typer.Option("--force-transform", help="Run transfer and dbt even when no pipeline loaded new rows and the warehouse is up to date."),
    ] = False,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="Load the named pipelines from scratch: drop their tables, schema and saved state (cursors, files read) and load "
            "everything their sources give now; the marts are then rebuilt whole.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout (progress and errors stay on stderr).")] = False,
) -> None:
    """Run pipelines, then the transfer and `dbt build`, and print a summary.

    Locally everything comes from the sample folder ($TOLTEK_SAMPLES, default pipelines/samples/data): a server on 127.0.0.1 serves its api/ and sheets/ as the REST and Sheets sources, and files/ stands in for the landing bucket. The data lands in $TOLTEK_HOME (default .toltek/): datalake.duckdb, then warehouse.duckdb.

    When no pipeline loaded new rows and the last local build succeeded on the datalake as it is (and the same dbt project), the transfer and dbt are skipped; after a change to the dbt project the incremental marts are rebuilt whole (--full-refresh). A failed or stale source leaves out its own models; the rest is built and the run exits 1.

    Examples:

    toltek run  —  every pipeline on the sample data, then the transfer and dbt

    toltek run shop_api --skip-transform  —  one pipeline, extract and load only

    toltek run shop_files --env dev  —  into the dev datalake (application-default credentials)

    toltek run shop_sheets --refresh  —  reload one pipeline whole (a column's type changed on purpose, a source re-issued its history)

    --refresh drops a table only once its new rows are ready, and refuses to empty one the source now gives no rows for; rows the source no longer serves (an API's history past its retention, files a lifecycle rule deleted) are gone from the raw tables afterwards.
    """
    from pipelines import preflight

    if skip_transform and force_transform:
        fail_user("--skip-transform and --force-transform exclude each other")
    if refresh and not names:
        fail_user("--refresh reloads the pipelines it names from scratch: name them (e.g. `toltek run shop_sheets --refresh`)")
    try:
        settings = environments.get(env)
        selected = discover().select(names, settings.name)
        preflight.check(settings, selected)
        settings.prepare()
    except UserError as exc:
        fail_user(str(exc))
    from pipelines.locks import Busy, home_lock
    from pipelines.run import RunSummary, run_all  # dlt and the sources: only once the run is sure to start

    signals.install()
    try:
        with home_lock(settings.work_dir):
            transform = "never" if skip_transform else "always" if force_transform else "auto"
            summary = RunSummary()
            ok = run_all(
                settings, selected, transform=transform, out=_quiet() if as_json else out, err=err, summary=summary, refresh=refresh
            )
    except Busy as exc:
        err.print(labelled("failed:", str(exc)), soft_wrap=True)
        raise typer.Exit(1) from None
    except UserError as exc:
        fail_user(str(exc))
    except (Terminated, KeyboardInterrupt) as exc:
        _stopped(exc, "completed loads are kept, the next run picks up the rest")
    if as_json:
        print(json.dumps(summary.as_dict(), indent=2))
    raise typer.Exit(0 if ok else 1)


def _stopped(exc: BaseException, kept: str) -> NoReturn:
    """A stop signal: one line saying what was kept, exit 128 + the signal."""
    code, line = signals.stopped_line(exc, kept)
    err.print(labelled("interrupted", line), soft_wrap=True)
    raise typer.Exit(code) from None


def _quiet() -> Console:
    """Where the human summary goes when stdout carries JSON."""
    import io

    return Console(file=io.StringIO(), width=200, emoji=False)


@app.command("transform")
def transform(
    env: Annotated[str, typer.Option("--env", "-e", help="Environment: local, dev or prd.")] = "local",
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Rebuild the incremental marts whole.")] = False,
    select: Annotated[
        str | None,
        typer.Option("--select", metavar="MODELS", help="Only these dbt nodes (dbt selection syntax, space-separated), e.g. 'fct_orders+'.", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON on stdout (progress and errors stay on stderr).")] = False,
    wait: Annotated[
        int,
        typer.Option("--wait", metavar="SECONDS", help="In the cloud: how long to wait for an upstream execution still running.", show_default=True),
    ] = 1800,
) -> None:
    """Check every upstream pipeline, then `dbt build` what stands on healthy sources.

    The dbt job's command in the cloud (`toltek transform --env prd`). Each pipeline feeding the
    warehouse is checked first: in the cloud its Cloud Run job's latest execution (failed: its
    models are left out; still running: waited for, up to --wait seconds); everywhere its data's
    freshness (`dbt source freshness`, thresholds from its schedule). Models of a failed or stale
    source are left out, everything else is built, and the command exits 1 saying what it skipped.
    Locally the transfer runs first, as in `toltek run`.

    Examples: toltek transform;  toltek transform --env prd --wait 900
    """
    try:
        settings = environments.get(env)
        every = discover().select(None, settings.name)
        settings.prepare()
        run_check = None
        if settings.is_local and not settings.datalake.path.exists():
            raise UserError(
                f"nothing to transform yet: no pipeline has loaded the local datalake ({settings.datalake.path}); "
                "`toltek run` loads and transforms"
            )
        if not settings.is_local:
            from pipelines import orchestration, preflight

            preflight.require_credentials()
            run_check = orchestration.cloud_run_check(
                settings.datalake.project, environments.cloud_region(settings.name), settings.name, wait_seconds=wait
            )
    except UserError as exc:
        fail_user(str(exc))
    from pipelines.locks import Busy, home_lock
    from pipelines.run import RunSummary, transform_only  # dlt and dbt: only once it is sure to start

    signals.install()
    try:
        with home_lock(settings.work_dir):
            summary = RunSummary()
            ok = transform_only(
                settings, every, out=_quiet() if as_json else out, err=err, full_refresh=full_refresh, run_check=run_check,
                select=select.split() if select else None, summary=summary,
            )
    except Busy as exc:
        err.print(labelled("failed:", str(exc)), soft_wrap=True)
        raise typer.Exit(1) from None
    except (Terminated, KeyboardInterrupt) as exc:
        _stopped(exc, "models dbt had not finished keep their last build, the next run rebuilds them")
    if as_json:
        print(json.dumps(summary.as_dict(), indent=2))
    raise typer.Exit(0 if ok else 1)


@app.command("dbt-sources")
def dbt_sources(
    check: Annotated[bool, typer.Option("--check", help="Only report drift: exit 1 when a file differs from the registry.")] = False,
) -> None:
    """Write each dbt source's freshness from its pipeline's schedule (the `_dlt_loads` entry of
    transform/models/staging/<name>/_<name>__sources.yml).

    Run it after changing a schedule or `stale_after_runs`; a test fails while a file has drifted.

    Example: toltek dbt-sources --check
    """
    from pipelines import dbt_sources as generated

    try:
        pipelines = generated.feeding_the_warehouse(discover().all())
        if check:
            drifted = generated.drift(pipelines)
            for item in drifted:
                err.print(labelled("drift:", f"{item.path.relative_to(environments.REPO_ROOT)}: {item.problem}"), soft_wrap=True)
            if drifted:
                err.print("run `toltek dbt-sources` to rewrite them", highlight=False)
                raise typer.Exit(1)
            out.print(f"{len(pipelines)} dbt source(s) match their pipelines' schedules", highlight=False)
            return
        written = generated.write(pipelines)
    except UserError as exc:
        fail_user(str(exc))
    for path in written:
        out.print(plain(f"wrote {path.relative_to(environments.REPO_ROOT)}"))
    if not written:
        out.print("every dbt source already matches its pipeline's schedule", highlight=False)


@app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="The pipeline's name: lowercase snake case, at most 24 characters.", show_default=False)],
    kind: Annotated[str | None, typer.Option("--kind", "-k", metavar="KIND", help="rest, files or sheets.", show_default=False)] = None,
) -> None:
    """Write a new pipeline from the templates in pipelines/templates/: its package, sample data, dbt source, staging model and test.

    A rest pipeline reads an API with dlt's rest_api (bearer token, pages, updated_at cursor), files
    reads CSV and Parquet drops in the landing bucket, sheets reads a Google Sheet. Locally each runs
    on its own sample (pipelines/samples/data/; a rest pipeline's token in pipelines/samples/secrets.json).

    Nothing is written for an unknown kind, an invalid or taken name, or a file that exists.

    Examples:

    toltek new payments --kind rest

    toltek new returns --kind files

    toltek new budgets --kind sheets
    """
    from pipelines import scaffold

    try:
        created = scaffold.create(name, kind)
    except UserError as exc:
        fail_user(str(exc))
    for line in scaffold.report(created):
        out.print(plain(line), soft_wrap=True)


# status, trigger, logs: operations on a deployed stack (pipelines/ops/cli.py).
from pipelines.ops.cli import register as _register_ops  # noqa: E402

_register_ops(app)


def _add_plugins(argv: list[str]) -> None:
    """Commands other packages add (entry point group `toltek.commands`: `plan`, `policy`). Not
    loaded when the command asked for is one of this package's own: reading the installed packages'
    metadata and importing a plugin costs a short `toltek run` about 0.07 s."""
    own = {command.name or command.callback.__name__.replace("_", "-") for command in app.registered_commands}
    if len(argv) > 1 and argv[1] in own:
        return
    from importlib.metadata import entry_points

    for entry in entry_points(group="toltek.commands"):
        entry.load()(app)


# A command is a short process that imports dlt, pyarrow, dbt or Pulumi and keeps most of what it
# allocates until it ends: young collections every 50,000 allocations instead of 700 (as for plans,
# `infra/heap.py`): measured, a no-change `toltek run` takes a tenth less CPU and a first run 3-5%
# less, for 4-8% more peak memory (a million-row files load: 494 MB against 454 MB).
GC_THRESHOLDS = (50_000, 20, 100)


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    # At exit the interpreter's last garbage collections walk every object dlt, pyarrow and dbt
    # created (0.1-0.2 s of a short run), though nothing is left to collect: frozen, they are not.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    _add_plugins(sys.argv)
    app()


if __name__ == "__main__":
    sys.exit(main())
