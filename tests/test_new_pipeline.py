"""Adding one pipeline package (its `pipeline.py` with one `Pipeline` subclass) adds exactly that pipeline's infrastructure."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, copy_repository, pipeline_module

NEW_PIPELINE = pipeline_module("Payments", "payments", "5 * * * *")
PLAN = "import sys; from infra.plan import run_plan; print(run_plan(sys.argv[1]).to_json())"
DIGEST = re.compile(r"(:[0-9a-f]{16})?@sha256:[0-9a-f]{64}|:[0-9a-f]{16}\b")


def plan_of(tree, stack):
    """The plan of a copy of the repository (its own `pipelines/` and `infra/` shadow the installed ones)."""
    done = subprocess.run(
        [sys.executable, "-c", PLAN, stack], cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # The pipeline image holds the pipelines' code, so its content tag moves with any new file.
    return {json.dumps(r, sort_keys=True) for r in json.loads(DIGEST.sub("@IMAGE", done.stdout))}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return copy_repository(tmp_path_factory.mktemp("repo"))


@pytest.mark.parametrize("stack", ["dev", "prd"])
def test_one_new_file_adds_exactly_that_pipelines_resources(tree, stack):
    before = plan_of(tree, stack)
    package = tree / "pipelines" / "payments"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "pipeline.py").write_text(NEW_PIPELINE)
    try:
        after = plan_of(tree, stack)
    finally:
        shutil.rmtree(package)

    # The stack's dashboard gains the pipeline's row of tiles; nothing else existing changes.
    changed = [json.loads(r) for r in before - after]
    assert [(r["type"], r["name"]) for r in changed] == [("gcp:monitoring/dashboard:Dashboard", f"toltek-datalake-{stack}-pipelines")]
    added = [json.loads(r) for r in after - before if json.loads(r)["type"] != "gcp:monitoring/dashboard:Dashboard"]
    [dashboard] = [json.loads(r) for r in after - before if json.loads(r)["type"] == "gcp:monitoring/dashboard:Dashboard"]
    assert "payments: executions" in dashboard["inputs"]["dashboardJson"]
    names = sorted((r["type"], r["name"]) for r in added)
    job = f"toltek-payments-{stack}"
    lake = f"toltek-datalake-{stack}"
    expected = {
        ("toltek:pipelines:PipelineJob", job),
        ("gcp:serviceaccount/account:Account", f"{job}-sa"),
        ("gcp:cloudrunv2/job:Job", job),
        ("gcp:cloudscheduler/job:Job", job),
        ("gcp:monitoring/alertPolicy:AlertPolicy", f"{job}-failed"),
        ("gcp:monitoring/alertPolicy:AlertPolicy", f"{job}-stale"),
        ("gcp:logging/metric:Metric", f"{job}-rows"),
        ("gcp:bigquery/dataset:Dataset", f"{lake}-raw_payments"),
        ("gcp:bigquery/dataset:Dataset", f"{lake}-raw_payments_staging"),
        ("gcp:secretmanager/secret:Secret", f"{lake}-secret-payments-api-key"),
        ("gcp:bigquery/datasetIamMember:DatasetIamMember", f"pl-payments-bigquery.dataEditor-dataset-raw_payments-{lake}"),
        ("gcp:bigquery/datasetIamMember:DatasetIamMember", f"pl-payments-bigquery.dataEditor-dataset-raw_payments_staging-{lake}"),
        ("gcp:projects/iAMMember:IAMMember", f"pl-payments-bigquery.jobUser-project-{lake}-{lake}"),
        ("gcp:secretmanager/secretIamMember:SecretIamMember", f"pl-payments-secretmanager.secretAccessor-secret-payments-api-key-{lake}"),
        ("gcp:cloudrunv2/jobIamMember:JobIamMember", f"toltek-scheduler-run.invoker-job-{job}-{lake}"),
    }
    if stack == "prd":
        expected.add(("gcp:bigquery/datasetIamMember:DatasetIamMember", f"toltek-dbt-bigquery.dataViewer-dataset-raw_payments-{lake}"))
        expected.add(("gcp:cloudrunv2/jobIamMember:JobIamMember", f"toltek-dbt-run.viewer-job-{job}-{lake}"))
    assert set(names) == expected
    assert not (REPO_ROOT / "infra").joinpath("payments.py").exists()
