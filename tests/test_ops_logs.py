"""`toltek logs` end to end: the real CLI and the real google-cloud-logging client against the fake
gRPC server of `fake_cloud`."""

from __future__ import annotations

import re
from datetime import datetime

from fake_cloud import (
    FakeCloud,
    fake_cloud,  # noqa: F401 - the module's fake server
)
from ops_cloud import (
    DWH,
    LAKE,
    ago,
    cloud,  # noqa: F401 - the fixture
    one_line_error,
    toltek,
)
from rich.console import Console

from pipelines.ops import cli as ops_cli


def log_history(cloud: FakeCloud) -> None:
    api = "toltek-shop-api-prd"
    cloud.entries = [
        cloud.log(LAKE, api, f"{api}-a1", ago(minutes=50), "INFO", "loading customers"),
        cloud.log(LAKE, api, f"{api}-a1", ago(minutes=49), "WARNING", "retrying page 3 after HTTP 503", text=True),
        cloud.log(LAKE, api, f"{api}-b2", ago(minutes=10), "ERROR", "pipeline shop_api failed: HTTP 500 from /orders"),
        cloud.log(LAKE, "toltek-shop-files-prd", "toltek-shop-files-prd-f1", ago(minutes=5), "INFO", "another job"),
        cloud.log(LAKE, api, f"{api}-z9", ago(hours=3), "INFO", "before the window"),
    ]


def since_in(query: str) -> datetime:
    return datetime.fromisoformat(re.search(r'timestamp>="([^"]+)"', query)[1].replace("Z", "+00:00"))


def test_logs_lists_the_jobs_entries_in_order_with_their_severity(cloud):
    log_history(cloud)
    result = toltek("logs", "shop_api", "-s", "prd", "--since", "1h")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(None, 4)[3:] for line in lines] == [
        ["INFO", "loading customers"],
        ["WARNING", "retrying page 3 after HTTP 503"],
        ["ERROR", "pipeline shop_api failed: HTTP 500 from /orders"],
    ]
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T  ", line) for line in lines)
    [request] = cloud.received("ListLogEntries")
    assert list(request.resource_names) == [f"projects/{LAKE}"] and request.order_by == "timestamp desc"
    since = since_in(request.filter)
    assert request.filter == (
        f'resource.type="cloud_run_job" AND resource.labels.job_name="toltek-shop-api-prd" AND timestamp>="{since:%Y-%m-%dT%H:%M:%SZ}"'
    )
    assert abs((ago(hours=1) - since).total_seconds()) < 60


def test_logs_of_one_execution(cloud):
    log_history(cloud)
    result = toltek("logs", "shop_api", "-s", "prd", "--execution", "toltek-shop-api-prd-b2")
    assert result.exit_code == 0, result.output
    assert [line.split(None, 4)[3:] for line in result.stdout.splitlines()] == [["ERROR", "pipeline shop_api failed: HTTP 500 from /orders"]]
    [request] = cloud.received("ListLogEntries")
    assert request.filter.endswith(' AND labels."run.googleapis.com/execution_name"="toltek-shop-api-prd-b2"')
    assert abs((ago(days=7) - since_in(request.filter)).total_seconds()) < 60  # an execution's default window


def test_logs_follow_streams_new_entries_until_the_stream_ends(cloud):
    log_history(cloud)
    api = "toltek-shop-api-prd"
    new = [cloud.log(LAKE, api, f"{api}-c3", ago(seconds=2), "NOTICE", "loaded 120 rows"), cloud.log(LAKE, api, f"{api}-c3", ago(seconds=1), "INFO", "done")]
    cloud.tail_batches = [[cloud.entries[2], new[0]], [new[1]]]  # the first repeats an entry already listed
    result = toltek("logs", "shop_api", "-s", "prd", "--follow")
    assert result.exit_code == 0, result.output
    messages = [line.split(None, 4)[4] for line in result.stdout.splitlines()]
    assert messages == [
        "loading customers", "retrying page 3 after HTTP 503", "pipeline shop_api failed: HTTP 500 from /orders", "loaded 120 rows", "done"
    ]
    [listed] = cloud.received("ListLogEntries")
    [tailed] = cloud.received("TailLogEntries")
    assert tailed.filter == listed.filter and list(tailed.resource_names) == [f"projects/{LAKE}"]
    assert "the log stream ended" in result.stderr



def test_ctrl_c_while_following_logs_exits_130(cloud, monkeypatch):
    from pipelines.ops import logs as logging_

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
        yield  # a generator, as the stream is

    log_history(cloud)
    monkeypatch.setattr(logging_, "tail", interrupted)
    result = toltek("logs", "shop_api", "-s", "prd", "--follow")
    assert result.exit_code == 130, result.output
    assert len(result.stdout.splitlines()) == 3  # what was listed before the stream
    assert "Traceback" not in result.output

def test_logs_colour_the_severity_in_a_terminal(cloud, monkeypatch):
    log_history(cloud)
    screen = Console(force_terminal=True, color_system="standard", width=200, record=True)
    monkeypatch.setattr(ops_cli, "out", screen)
    assert toltek("logs", "shop_api", "-s", "prd").exit_code == 0
    ansi = screen.export_text(styles=True)
    assert "\x1b[31mERROR" in ansi and "\x1b[33mWARNING" in ansi and "\x1b[34mINFO" in ansi


def test_logs_of_the_dbt_job_read_the_warehouse_project(cloud):
    cloud.entries = [cloud.log(DWH, "toltek-dbt-prd", "toltek-dbt-prd-d1", ago(minutes=3), "INFO", "Completed successfully", text=True)]
    result = toltek("logs", "dbt", "-s", "prd")
    assert result.exit_code == 0 and result.stdout.rstrip().endswith("Completed successfully")
    assert list(cloud.received("ListLogEntries")[0].resource_names) == [f"projects/{DWH}"]


def test_logs_without_the_logging_viewer_role_names_it(cloud):
    cloud.deny("ListLogEntries", f"projects/{LAKE}")
    one_line_error(
        toltek("logs", "shop_api", "-s", "prd"),
        f"permission denied reading logs of toltek-shop-api-prd in project {LAKE}: this needs roles/logging.viewer (logging.logEntries.list) for your account",
    )


def test_logs_with_no_entries_say_so(cloud):
    result = toltek("logs", "shop_files", "-s", "prd", "--since", "30m")
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr.startswith("no log entries of toltek-shop-files-prd since ")
