"""Layers point down only: the pipeline runtime never imports Pulumi."""

from __future__ import annotations

import ast
import subprocess
import sys

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


def test_the_registry_and_cli_with_its_plugins_load_no_pulumi_module():
    code = (
        "import sys; from pipelines.registry import discover; import pipelines.cli, pipelines.run; "
        "pipelines.cli._add_plugins(); discover(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert out.stdout.strip() == "[]"


def test_listing_and_planning_pipelines_load_no_source_library():
    # Discovery imports each package's pipeline.py only; a source loads when its pipeline runs.
    code = (
        "import sys; from pipelines.registry import discover; import pipelines.cli; "
        "names = discover().names(); from pipelines.report import pipelines_table; pipelines_table(discover().all()); "
        "print(names, sorted({m.split('.')[0] for m in sys.modules} & {'dlt', 'pyarrow', 'pandas', 'duckdb', 'requests', 'dbt'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert out.stdout.strip() == "['shop_api', 'shop_files', 'shop_sheets'] []"
