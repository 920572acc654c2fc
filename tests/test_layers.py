"""Layers point down only: the pipeline runtime never imports Pulumi."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from conftest import REPO_ROOT


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_no_module_under_pipelines_imports_pulumi_or_infra():
    offenders = [
        f"{path.relative_to(REPO_ROOT)}: {module}"
        for path in sorted((REPO_ROOT / "pipelines").rglob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] in ("pulumi", "pulumi_gcp", "pulumi_docker", "pulumi_policy", "infra")
    ]
    assert offenders == []


def modules_after(code: str) -> set[str]:
    """Every module loaded by a fresh interpreter running `code`."""
    code += "; import sys; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    return set(out.stdout.split())


def top_level_modules_after(code: str) -> set[str]:
    """Top-level packages loaded by a fresh interpreter running `code`."""
    return {m.split(".")[0] for m in modules_after(code)}


def test_the_registry_and_cli_with_its_plugins_load_no_pulumi_module():
    loaded = top_level_modules_after("from pipelines.registry import discover; import pipelines.cli, pipelines.run; pipelines.cli._add_plugins(['toltek']); discover()")
    assert {m for m in loaded if m.startswith("pulumi")} == set()


def test_listing_and_planning_pipelines_load_no_source_library():
    # Discovery imports each package's pipeline.py only; a source loads when its pipeline runs.
    loaded = top_level_modules_after(
        "from pipelines.registry import discover; import pipelines.cli; from pipelines.report import pipelines_table; "
        "assert discover().names() == ['shop_api', 'shop_files', 'shop_sheets']; pipelines_table(discover().all())"
    )
    assert "pipelines" in loaded
    assert loaded & {"dlt", "pyarrow", "pandas", "duckdb", "requests", "dbt"} == set()


OPS_MODULES = "pipelines.ops.cli, pipelines.ops.clients, pipelines.ops.errors, pipelines.ops.logs, pipelines.ops.runs, pipelines.ops.status, pipelines.ops.targets, pipelines.ops.trigger"


def test_the_operations_commands_load_no_google_api_library_until_they_run():
    # status, trigger and logs import google-cloud-run, google-cloud-logging and gRPC when they call
    # the APIs: listing and running pipelines never pay for them, and nothing of Pulumi comes along.
    loaded = modules_after(f"import pipelines.cli, {OPS_MODULES}; pipelines.cli._add_plugins(['toltek'])")
    assert set(OPS_MODULES.split(", ")) <= loaded
    google_apis = ("google.cloud.run_v2", "google.cloud.logging_v2", "google.api_core", "google.auth", "google.longrunning")
    assert {m for m in loaded if m.split(".")[0] == "grpc" or m.startswith(google_apis)} == set()
    assert {m for m in loaded if m.startswith("pulumi")} == set()


def test_a_command_of_the_pipelines_package_loads_no_plugin():
    # `toltek run` does not read the installed packages' entry points nor import infra's commands;
    # any other word (plan, policy, a typo, none) loads them so they can run or be listed.
    run = modules_after("import pipelines.cli; pipelines.cli._add_plugins(['toltek', 'run'])")
    assert not {m for m in run if m == "infra" or m.startswith(("infra.", "importlib.metadata"))}
    plan = modules_after("import pipelines.cli; pipelines.cli._add_plugins(['toltek', 'plan'])")
    assert "infra.cli" in plan


@pytest.mark.parametrize(
    "args", [["run", "no_such_pipeline"], ["run", "--env", "qa"], ["transform", "--env", "qa"]], ids=["run: unknown pipeline", "run: unknown environment", "transform"]
)
def test_a_command_refused_for_its_input_answers_before_importing_dlt(args):
    # The one-line error comes back at once: validation needs none of dlt, pyarrow or the sources.
    loaded = top_level_modules_after(
        f"import contextlib, io, sys; sys.argv = ['toltek', *{args!r}]; from pipelines.cli import main; "
        "exec('with contextlib.redirect_stderr(io.StringIO()):\\n try: main()\\n except SystemExit: pass')"
    )
    assert "pipelines" in loaded
    assert loaded & {"dlt", "pyarrow", "duckdb", "requests"} == set()
