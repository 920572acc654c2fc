"""`toltek status` and `toltek trigger` end to end, and the operations commands' user mistakes and
missing credentials: the real CLI and the real google-cloud-run clients against the fake gRPC
servers of `fake_cloud` (`toltek logs`: `test_ops_logs.py`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import datetime, timedelta

import pytest
from conftest import TOLTEK
from fake_cloud import fake_cloud  # noqa: F401 - the module's fake server
from ops_cloud import (
    AMSTERDAM,
    API_JOB,
    DBT_JOB,
    DWH,
    FILES_JOB,
    LAKE,
    REGION,
    SHEETS_JOB,
    cloud,  # noqa: F401 - the fixture
    history,
    one_line_error,
    toltek,
)
from rich.console import Console

from pipelines.ops import cli as ops_cli

# ----- status ---------------------------------------------------------------------------------------


def test_status_json_has_each_jobs_last_execution_verdict_and_next_run_in_its_zone(cloud):
    history(cloud)
    result = toltek("status", "-s", "prd", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    now = datetime.fromisoformat(doc["now"])
    jobs = {j["name"]: j for j in doc["jobs"]}
    assert list(jobs) == ["shop_api", "shop_files", "shop_sheets", "dbt"]
    assert {n: j["freshness"]["verdict"] for n, j in jobs.items()} == {
        "shop_api": "pass", "shop_files": "warn", "shop_sheets": "error", "dbt": "pass"
    }
    assert {n: j["last_execution"]["state"] for n, j in jobs.items()} == {
        "shop_api": "succeeded", "shop_files": "failed", "shop_sheets": "running", "dbt": "cancelled"
    }
    files = jobs["shop_files"]
    assert files["last_execution"]["tasks"]["failed"] == 1
    assert files["last_success"]["id"] == "toltek-shop-files-prd-f1"
    assert files["freshness"]["age_seconds"] == pytest.approx(12 * 3600, abs=60)
    assert (files["freshness"]["warn_after_seconds"], files["freshness"]["error_after_seconds"]) == (10 * 3600, 20 * 3600)
    assert jobs["shop_sheets"]["last_execution"]["completion"] is None
    assert jobs["dbt"]["project"] == DWH and jobs["dbt"]["job"] == "toltek-dbt-prd"
    assert jobs["shop_api"]["last_execution"]["duration_seconds"] == pytest.approx(120, abs=1)
    # Next runs: the schedules' wall clock in Europe/Amsterdam, offset included.
    expected = {"shop_sheets": (6, 0), "dbt": (7, 0)}
    for name, job in jobs.items():
        assert job["schedule"]["time_zone"] == "Europe/Amsterdam"
        next_run = datetime.fromisoformat(job["schedule"]["next_run"])
        assert next_run.utcoffset() == AMSTERDAM.utcoffset(next_run.replace(tzinfo=None))
        assert now < next_run <= now + timedelta(days=1)
        if name in expected:
            assert (next_run.hour, next_run.minute) == expected[name]
    assert datetime.fromisoformat(jobs["shop_api"]["schedule"]["next_run"]).minute == 15
    assert datetime.fromisoformat(jobs["shop_api"]["last_execution"]["start"]).tzinfo is not None
    # One listing per job, read newest first.
    assert sorted(r.parent for r in cloud.received("ListExecutions")) == sorted([API_JOB, FILES_JOB, SHEETS_JOB, DBT_JOB])


def test_status_table_fits_80_columns_in_a_terminal(cloud, monkeypatch):
    history(cloud)
    screen = Console(force_terminal=True, width=80, record=True)
    monkeypatch.setattr(ops_cli, "out", screen)
    result = toltek("status", "-s", "prd")
    assert result.exit_code == 0, result.output
    text = screen.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text
    for expected in ("shop_api", "shop_files", "shop_sheets", "dbt", "succeeded", "failed, 1 of 1 task failed", "running", "cancelled"):
        assert expected in text
    assert re.search(r"\d\d-\d\d 06:00 CES?T", text)  # shop_sheets' next run, in its zone
    row = next(i for i, line in enumerate(lines) if line.strip().startswith("shop_files"))
    assert "warn" in lines[row] and "12h ago" in lines[row + 1]
    assert "no success" not in text


def test_status_marks_a_job_that_is_not_deployed(cloud):
    history(cloud)
    cloud.jobs.pop(DBT_JOB)
    result = toltek("status", "-s", "prd", "--json")
    assert result.exit_code == 0
    dbt = json.loads(result.stdout)["jobs"][-1]
    assert (dbt["deployed"], dbt["last_execution"], dbt["freshness"]["verdict"]) == (False, None, "error")
    table = toltek("status", "-s", "prd")
    assert "not deployed" in table.stdout
    assert table.stderr.strip() == (
        f"note: job toltek-dbt-prd not found in project {DWH} (region {REGION}): not deployed yet? run `pulumi up -s prd`"
    )


def test_status_of_dev_has_no_dbt_job_and_reads_the_dev_project(cloud):
    cloud.add_job("toltek-datalake-dev", REGION, "toltek-shop-api-dev")
    result = toltek("status", "-s", "dev", "--json")
    assert result.exit_code == 0, result.output
    jobs = json.loads(result.stdout)["jobs"]
    assert [j["name"] for j in jobs] == ["shop_api", "shop_files", "shop_sheets"]
    assert {j["project"] for j in jobs} == {"toltek-datalake-dev"}
    assert [j["deployed"] for j in jobs] == [True, False, False]
    assert jobs[0]["last_execution"] is None and jobs[0]["freshness"]["verdict"] == "error"


def test_status_without_the_viewer_role_names_it(cloud):
    cloud.deny("ListExecutions", f"projects/{LAKE}/")
    one_line_error(
        toltek("status", "-s", "prd"),
        f"permission denied reading executions of toltek-shop-api-prd in project {LAKE}: this needs roles/run.viewer "
        "(run.executions.list and run.executions.get) for your account",
    )


# ----- trigger --------------------------------------------------------------------------------------


def test_trigger_prints_the_execution_id_and_returns(cloud):
    result = toltek("trigger", "shop_api", "-s", "prd")
    assert result.exit_code == 0, result.output
    [created] = cloud.executions_of(API_JOB)
    assert result.stdout == created.name.rsplit("/", 1)[-1] + "\n"
    [request] = cloud.received("RunJob")
    assert request.name == API_JOB
    assert "overrides" not in request  # the job runs exactly as deployed
    assert cloud.received("GetExecution") == []
    assert f"--execution {created.name.rsplit('/', 1)[-1]} --follow" in result.stderr


def test_trigger_wait_follows_the_execution_until_it_succeeds(cloud):
    cloud.script_runs(API_JOB, "running", "running", "succeeded")
    result = toltek("trigger", "shop_api", "-s", "prd", "--wait")
    assert result.exit_code == 0, result.output
    execution_id = result.stdout.strip()
    assert execution_id.startswith("toltek-shop-api-prd-")
    polls = cloud.received("GetExecution")
    assert len(polls) == 3 and {p.name for p in polls} == {f"{API_JOB}/executions/{execution_id}"}
    assert "0 running, 1 succeeded, 0 failed of 1" in result.stderr  # the progress display's last state
    assert result.stderr.strip().splitlines()[-1].startswith(f"succeeded: {execution_id} in ")


@pytest.mark.parametrize("end", ["failed", "cancelled"])
def test_trigger_wait_exits_1_when_the_execution_does_not_succeed(cloud, end):
    cloud.script_runs(API_JOB, "running", end)
    result = toltek("trigger", "shop_api", "-s", "prd", "--wait")
    assert result.exit_code == 1, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{end}: {result.stdout.strip()} in ") and last.endswith(f"1 of 1 task {end}")


def test_trigger_dbt_full_refresh_overrides_the_container_arguments_for_one_execution(cloud):
    result = toltek("trigger", "dbt", "-s", "prd", "--full-refresh", "fct_orders", "--full-refresh", "dim_customers")
    assert result.exit_code == 0, result.output
    [request] = cloud.received("RunJob")
    assert request.name == DBT_JOB
    [override] = request.overrides.container_overrides
    assert list(override.args) == ["transform", "--env", "prd", "--full-refresh", "--select", "fct_orders dim_customers"]
    assert (override.name, override.clear_args, request.overrides.task_count) == ("", False, 0)
    assert [r.name for r in cloud.received("GetJob")] == [DBT_JOB]  # the deployed arguments, read back
    assert "with container arguments `transform --env prd --full-refresh --select fct_orders dim_customers`" in result.stderr


def test_trigger_full_refresh_of_a_pipeline_is_refused(cloud):
    one_line_error(
        toltek("trigger", "shop_api", "-s", "prd", "--full-refresh", "orders"),
        "--full-refresh rebuilds dbt models (`toltek trigger dbt -s prd --full-refresh MODEL`); a pipeline is loaded from "
        "scratch with `toltek trigger shop_api -s prd --refresh`",
    )
    assert cloud.received("RunJob") == []


def test_trigger_refresh_of_a_pipeline_runs_its_deployed_arguments_plus_refresh_once(cloud):
    result = toltek("trigger", "shop_sheets", "-s", "prd", "--refresh")
    assert result.exit_code == 0, result.output
    [request] = cloud.received("RunJob")
    assert request.name.endswith("/jobs/toltek-shop-sheets-prd")
    [override] = request.overrides.container_overrides
    assert list(override.args) == ["run", "shop_sheets", "--env", "prd", "--skip-transform", "--refresh"]
    assert (override.clear_args, request.overrides.task_count) == (False, 0)
    assert "with container arguments `run shop_sheets --env prd --skip-transform --refresh`" in result.stderr


def test_trigger_refresh_is_refused_for_dbt_and_for_a_job_running_something_else(cloud):
    one_line_error(
        toltek("trigger", "dbt", "-s", "prd", "--refresh"),
        "--refresh reloads a pipeline from scratch; dbt rebuilds models whole with `toltek trigger dbt -s prd --full-refresh MODEL`",
    )
    job = cloud.add_job(LAKE, REGION, "toltek-shop-api-prd", args=("pipelines",))  # edited by hand in the console
    one_line_error(
        toltek("trigger", "shop_api", "-s", "prd", "--refresh"),
        "job toltek-shop-api-prd runs `pipelines`, not `toltek run shop_api ...`: cannot add --refresh to it",
    )
    assert job and cloud.received("RunJob") == []


def test_trigger_full_refresh_of_an_unknown_model_is_refused(cloud):
    one_line_error(toltek("trigger", "dbt", "-s", "prd", "--full-refresh", "fct_ordres"), "no dbt model, seed or snapshot named 'fct_ordres' in transform/")
    assert cloud.received("RunJob") == []


def test_trigger_of_a_job_that_is_not_deployed(cloud):
    cloud.jobs.pop(API_JOB)
    one_line_error(
        toltek("trigger", "shop_api", "-s", "prd", "--wait"),
        f"job toltek-shop-api-prd not found in project {LAKE} (region {REGION}): not deployed yet? run `pulumi up -s prd`",
    )


@pytest.mark.parametrize(
    ("args", "role"),
    [
        ((), "roles/run.invoker (run.jobs.run)"),
        (("--full-refresh", "fct_orders"), "roles/run.developer (run.jobs.runWithOverrides and run.jobs.get)"),
    ],
)
def test_trigger_without_the_role_to_run_names_it(cloud, args, role):
    cloud.deny("RunJob", DBT_JOB)
    doing = "starting toltek-dbt-prd" + (" with overrides" if args else "")
    one_line_error(toltek("trigger", "dbt", "-s", "prd", *args), f"permission denied {doing} in project {DWH}: this needs {role} for your account")


def test_trigger_wait_without_the_viewer_role_names_it(cloud):
    cloud.deny("GetExecution", API_JOB)
    result = toltek("trigger", "shop_api", "-s", "prd", "--wait")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: permission denied reading execution {result.stdout.strip()} in project {LAKE}: this needs roles/run.viewer "
        "(run.executions.list and run.executions.get) for your account"
    )



def test_ctrl_c_while_following_an_execution_exits_130_and_leaves_it_running(cloud, monkeypatch):
    from pipelines.ops import trigger as triggering

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(triggering, "follow", interrupted)
    result = toltek("trigger", "shop_api", "-s", "prd", "--wait")
    assert result.exit_code == 130, result.output
    execution_id = result.stdout.strip()
    assert result.stderr.strip().splitlines()[-1] == f"stopped following; execution {execution_id} goes on (toltek status -s prd)"
    assert "Traceback" not in result.output

# ----- user mistakes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("status",), "choose a stack with -s dev or -s prd"),
        (("status", "-s", "qa"), "unknown stack 'qa' (choose from: dev, prd)"),
        (("status", "-s", "local"), "unknown stack 'local' (choose from: dev, prd)"),
        (("trigger", "nope", "-s", "prd"), "unknown pipeline 'nope' (choose from: shop_api, shop_files, shop_sheets, dbt)"),
        (("logs", "nope", "-s", "dev"), "unknown pipeline 'nope' (choose from: shop_api, shop_files, shop_sheets)"),
        (("trigger", "dbt", "-s", "dev"), "the dbt job runs in prd only; stack 'dev' has none"),
        (("logs", "shop_api", "-s", "prd", "--since", "5x"), "--since '5x': expected a number and a unit (s, m, h or d), e.g. 30m, 1h, 2d"),
        (("logs", "shop_api", "-s", "prd", "--since", "1 week"), "--since '1 week': expected a number and a unit (s, m, h or d), e.g. 30m, 1h, 2d"),
        # Past any log bucket's retention (and past the dates Python counts: an OverflowError traceback).
        (("logs", "shop_api", "-s", "prd", "--since", "99999999d"), "--since '99999999d': at most 3650d (Cloud Logging keeps entries at most 10 years)"),
        (("logs", "shop_api", "-s", "prd", "--since", "1" + "0" * 24 + "h"), f"--since '1{'0' * 24}h': at most 3650d (Cloud Logging keeps entries at most 10 years)"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(cloud, args, message):
    one_line_error(toltek(*args), message)
    assert cloud.requests == []


def test_an_unreachable_api_is_one_line_and_exit_1(cloud, monkeypatch):
    monkeypatch.setenv("TOLTEK_RUN_ENDPOINT", "127.0.0.1:9")  # nothing listens there
    result = toltek("status", "-s", "prd")
    assert result.exit_code == 1
    assert re.fullmatch(r"error: reading executions of toltek-shop-api-prd: UNAVAILABLE: .*\n", result.stderr), result.stderr


# ----- credentials (a fresh process, as a user runs it) -----------------------------------------------


def without_endpoints(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOLTEK_", "GOOGLE_", "CLOUDSDK_"))}
    # An empty home and gcloud folder; no probing for a metadata server (there is none here).
    env.update({"HOME": str(tmp_path), "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"), "NO_GCE_CHECK": "true", **extra})
    return env


@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        (
            ("status", "-s", "prd"),
            {},
            "no application-default credentials: run `gcloud auth application-default login`",
        ),
        (
            ("trigger", "shop_api", "-s", "prd"),
            {"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"},
            "GOOGLE_APPLICATION_CREDENTIALS=/nonexistent/key.json: File /nonexistent/key.json was not found. "
            "(fix or unset it, then run `gcloud auth application-default login`)",
        ),
        (  # a folder instead of the key file: google-auth's open() raised IsADirectoryError, a traceback
            ("logs", "shop_api", "-s", "prd"),
            {"GOOGLE_APPLICATION_CREDENTIALS": "/tmp"},
            "GOOGLE_APPLICATION_CREDENTIALS=/tmp: Is a directory (fix or unset it, then run `gcloud auth application-default login`)",
        ),
    ],
)
def test_no_credentials_is_one_line_and_exit_2(tmp_path, args, extra, message):
    done = subprocess.run([str(TOLTEK), *args], capture_output=True, text=True, env=without_endpoints(tmp_path, **extra), timeout=60)
    assert done.returncode == 2
    assert done.stderr == f"error: {message}\n"  # one line: no traceback, no FutureWarning from google-api-core
    assert done.stdout == ""
