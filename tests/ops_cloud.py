"""The prd stack's jobs on the fake Cloud Run and Cloud Logging servers of `fake_cloud`, and the
helpers the `toltek status`, `trigger` and `logs` tests share."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from fake_cloud import FakeCloud
from typer.testing import CliRunner

from pipelines import cli

LAKE, DWH, REGION = "toltek-datalake-prd", "toltek-dwh-prd", "europe-west1"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
API_JOB = f"projects/{LAKE}/locations/{REGION}/jobs/toltek-shop-api-prd"
FILES_JOB = f"projects/{LAKE}/locations/{REGION}/jobs/toltek-shop-files-prd"
SHEETS_JOB = f"projects/{LAKE}/locations/{REGION}/jobs/toltek-shop-sheets-prd"
DBT_JOB = f"projects/{DWH}/locations/{REGION}/jobs/toltek-dbt-prd"


@pytest.fixture
def cloud(fake_cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch) -> FakeCloud:
    """The prd stack's four jobs deployed on the fake, which the clients reach through the
    endpoint variables; executions are followed without waiting."""
    fake_cloud.reset()
    for name in ("shop-api", "shop-files", "shop-sheets"):
        fake_cloud.add_job(LAKE, REGION, f"toltek-{name}-prd", args=("run", name.replace("-", "_"), "--env", "prd", "--skip-transform"))
    fake_cloud.add_job(DWH, REGION, "toltek-dbt-prd", args=("transform", "--env", "prd"))
    monkeypatch.setenv("TOLTEK_RUN_ENDPOINT", fake_cloud.address)
    monkeypatch.setenv("TOLTEK_LOGGING_ENDPOINT", fake_cloud.address)
    monkeypatch.setenv("TOLTEK_POLL_SECONDS", "0")
    return fake_cloud


def toltek(*args: str):
    return CliRunner().invoke(cli.app, list(args))


def one_line_error(result, text: str, code: int = 2) -> None:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stderr.strip() == f"error: {text}"
    assert "Traceback" not in result.output


def ago(**delta: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(**delta)


def history(cloud: FakeCloud) -> None:
    """shop_api succeeded 45 min ago (pass); shop_files' last success is 12 h old (past its 10 h warn
    age) and its latest execution failed; shop_sheets last succeeded 5 days ago (past its 100 h error
    age) and runs now; dbt's latest was cancelled, after a success a day ago."""
    cloud.add_execution(API_JOB, "a1", "succeeded", start=ago(minutes=47), completion=ago(minutes=45))
    cloud.add_execution(FILES_JOB, "f1", "succeeded", start=ago(hours=12, minutes=5), completion=ago(hours=12))
    cloud.add_execution(FILES_JOB, "f2", "failed", start=ago(hours=1, minutes=5), completion=ago(hours=1), failed_tasks=1)
    cloud.add_execution(SHEETS_JOB, "s1", "succeeded", start=ago(days=5, minutes=2), completion=ago(days=5))
    cloud.add_execution(SHEETS_JOB, "s2", "running", start=ago(minutes=2))
    cloud.add_execution(DBT_JOB, "d1", "succeeded", start=ago(days=1, minutes=20), completion=ago(days=1))
    cloud.add_execution(DBT_JOB, "d2", "cancelled", start=ago(minutes=30), completion=ago(minutes=25))
