"""`toltek run` in a Cloud Run job: structured log records on stdout, each a valid Cloud Logging
entry, with a summary per pipeline that matches what the datalake holds."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import TOLTEK, query, toltek_env
from google.cloud.logging_v2.types import LogEntry
from google.logging.type.log_severity_pb2 import LogSeverity
from google.protobuf import timestamp_pb2
from rich.table import Table

from pipelines import cloud_log

CLOUD_RUN = {"CLOUD_RUN_JOB": "toltek-shop-sheets-prd", "CLOUD_RUN_EXECUTION": "toltek-shop-sheets-prd-x7k2p", "CLOUD_RUN_TASK_INDEX": "0"}
SPECIAL = ("severity", "time", cloud_log.LABELS)


def as_log_entry(line: str) -> dict:
    """Parse one stdout line as Cloud Run's agent does: JSON, its special fields moved into the
    entry (severity by LogSeverity name, time as an RFC 3339 timestamp, labels as a string map),
    the rest as jsonPayload. Raises on anything the LogEntry type refuses."""
    record = json.loads(line)
    assert isinstance(record, dict) and isinstance(record["message"], str), line
    timestamp = timestamp_pb2.Timestamp()
    timestamp.FromJsonString(record["time"])  # RFC 3339, or ValueError
    labels = record[cloud_log.LABELS]
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()), labels
    entry = LogEntry(
        log_name="projects/p/logs/run.googleapis.com%2Fstdout",
        severity=LogSeverity.Value(record["severity"]),  # ValueError on a name Cloud Logging lacks
        timestamp=timestamp,
        labels=labels,
        json_payload={k: v for k, v in record.items() if k not in SPECIAL},
    )
    assert LogEntry.to_dict(entry, use_integers_for_enums=False)["severity"] == record["severity"]
    assert labels["stage"] in cloud_log.STAGES, labels
    return record


def run(home, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TOLTEK), "run", *args], capture_output=True, text=True, env=toltek_env(home, **env), timeout=300
    )


def test_a_cloud_run_job_logs_one_structured_entry_per_line_and_a_summary_matching_the_datalake(tmp_path):
    home = tmp_path / "home"
    done = run(home, "shop_sheets", "--skip-transform", **CLOUD_RUN)
    assert done.returncode == 0, done.stdout + done.stderr
    records = [as_log_entry(line) for line in done.stdout.splitlines()]
    assert records and "─" not in done.stdout and "\x1b" not in done.stdout  # no tables, no terminal codes
    assert {r[cloud_log.LABELS]["execution"] for r in records} == {"toltek-shop-sheets-prd-x7k2p"}
    assert {r[cloud_log.LABELS]["task"] for r in records} == {"0"}
    assert {r["severity"] for r in records} == {"INFO"}
    steps = [r["toltek"]["step"] for r in records if r.get("toltek", {}).get("event") == "stage"]
    assert steps[-3:] == ["extract", "normalize", "load"]

    [summary] = [r for r in records if r.get("toltek", {}).get("event") == "summary"]
    assert summary is records[-1] and summary[cloud_log.LABELS] | {} == {
        "stage": "summary", "pipeline": "shop_sheets", "execution": "toltek-shop-sheets-prd-x7k2p", "task": "0",
    }
    payload = summary["toltek"]
    assert set(payload) == {"event", "pipeline", "rows", "tables", "discarded", "seconds"}
    assert payload["pipeline"] == "shop_sheets" and payload["discarded"] == 0 and payload["seconds"] > 0
    in_datalake = {
        table: query(home / "datalake.duckdb", f"select count(*) from raw_shop_sheets.{table}")[0][0] for table in payload["tables"]
    }
    assert payload["tables"] == in_datalake == {"sales_targets": 36}
    assert payload["rows"] == sum(in_datalake.values())


def test_a_failing_pipeline_is_an_error_record_and_exit_1(tmp_path):
    faults = json.dumps([{"path": "/sheets/", "status": 403, "times": -1}])
    done = run(tmp_path / "home", "shop_sheets", "--skip-transform", **CLOUD_RUN, TOLTEK_SAMPLE_FAULTS=faults)  # as the job runs it
    assert done.returncode == 1, done.stdout + done.stderr
    records = [as_log_entry(line) for line in done.stdout.splitlines()]
    [error] = [r for r in records if r["severity"] == "ERROR"]
    assert error["message"].startswith("pipeline 'shop_sheets' failed in extract: HTTP 403 Forbidden")
    assert error[cloud_log.LABELS]["pipeline"] == "shop_sheets" and error[cloud_log.LABELS]["stage"] == "extract"
    assert error["toltek"] == {"event": "failed", "pipeline": "shop_sheets", "stage": "extract", "error": error["message"]}
    assert not [r for r in records if r.get("toltek", {}).get("event") == "summary"]  # a summary means a load succeeded


def test_a_mistake_in_a_cloud_run_job_is_one_error_record_and_exit_2(tmp_path):
    done = run(tmp_path / "home", "no_such_pipeline", **CLOUD_RUN)
    assert done.returncode == 2
    [record] = [as_log_entry(line) for line in done.stdout.splitlines()]
    assert record["severity"] == "ERROR" and record["message"].startswith("error: unknown pipeline 'no_such_pipeline'")


def test_outside_cloud_run_the_terminal_output_is_unchanged(tmp_path):
    done = run(tmp_path / "home", "shop_sheets", "--skip-transform")
    assert done.returncode == 0, done.stderr
    assert "36 row(s) loaded" in done.stdout and "shop_sheets" in done.stdout and "36" in done.stdout
    assert not done.stdout.lstrip().startswith("{")


@pytest.mark.parametrize(
    ("printed", "severity", "message"),
    [
        ("[bold red]failed:[/] dbt cannot run", "ERROR", "failed: dbt cannot run"),
        ("[yellow]source shop_api: warn, 3h old[/]", "WARNING", "source shop_api: warn, 3h old"),
        ("transfer: raw_shop_api read (4 tables, 10 rows)", "INFO", "transfer: raw_shop_api read (4 tables, 10 rows)"),
        ("a [secret] stays text", "INFO", "a [secret] stays text"),
    ],
)
def test_what_the_transfer_and_dbt_print_becomes_a_record_with_a_severity(printed, severity, message):
    got = cloud_log.describe(printed)
    assert got[0] == severity
    assert got[1] == message


def test_a_printed_table_becomes_its_rows_and_is_an_error_when_a_cell_is_red():
    table = Table(title="dbt build (prd)")
    table.add_column("resource")
    table.add_column("passed")
    table.add_row("model", "12")
    table.add_row("[red]failed[/]", "1")
    severity, message, payload = cloud_log.describe(table)
    assert severity == "ERROR" and message == "dbt build (prd): model 12; failed 1"
    assert payload == {"event": "table", "title": "dbt build (prd)", "columns": ["resource", "passed"], "rows": [["model", "12"], ["failed", "1"]]}


def test_the_special_fields_are_the_documented_ones():
    record = cloud_log.record("WARNING", "m", stage="load", pipeline="p", environ={"CLOUD_RUN_EXECUTION": "e", "CLOUD_RUN_TASK_INDEX": "3"})
    assert set(record) == {"severity", "message", "time", "logging.googleapis.com/labels"}
    assert record["logging.googleapis.com/labels"] == {"stage": "load", "pipeline": "p", "execution": "e", "task": "3"}
    assert record["time"].endswith("Z")
    assert set(cloud_log.STAGES) == {"extract", "normalize", "load", "transfer", "dbt", "summary"}
