"""`pipelines.ops.runs`, the execution functions the ops commands and the dbt job's upstream check
share, with the real google-cloud-run clients against the fake Cloud Run of `fake_cloud`."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from fake_cloud import FakeCloud, apply_step, fake_cloud  # noqa: F401 - the module's fake server
from google.api_core import exceptions as api
from google.cloud import run_v2

from pipelines.ops import runs
from pipelines.ops.clients import RunClients, run_clients

JOB = "projects/toltek-datalake-prd/locations/europe-west1/jobs/toltek-shop-api-prd"


@pytest.fixture
def clients(fake_cloud: FakeCloud):  # noqa: F811
    fake_cloud.reset()
    fake_cloud.add_job("toltek-datalake-prd", "europe-west1", "toltek-shop-api-prd", args=("run", "shop_api", "--env", "prd", "--skip-transform"))
    with run_clients(endpoint=fake_cloud.address) as made:
        yield made


def hours_ago(n: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=n)


def test_latest_and_latest_succeeded_read_the_listing_newest_first(clients: RunClients, fake_cloud: FakeCloud):  # noqa: F811
    for suffix, step, age in [("e1", "succeeded", 5), ("e2", "succeeded", 4), ("e3", "failed", 3), ("e4", "failed", 2), ("e5", "running", 1)]:
        fake_cloud.add_execution(JOB, suffix, step, start=hours_ago(age), completion=hours_ago(age - 0.5))
    latest = runs.latest_execution(clients.executions, JOB)
    assert (latest.id, latest.state, latest.completion) == ("toltek-shop-api-prd-e5", "running", None)
    assert [r.page_size for r in fake_cloud.received("ListExecutions")] == [1]  # one call, one execution
    success = runs.latest_succeeded(clients.executions, JOB)
    assert success.id == "toltek-shop-api-prd-e2" and success.completion == pytest.approx(hours_ago(3.5), abs=timedelta(seconds=5))
    assert [e.id[-2:] for e in runs.executions(clients.executions, JOB, page_size=2)] == ["e5", "e4", "e3", "e2", "e1"]
    assert runs.latest_and_succeeded(clients.executions, JOB) == (latest, success)


def test_a_job_that_never_ran_has_no_latest_execution(clients: RunClients):
    assert runs.latest_execution(clients.executions, JOB) is None
    assert runs.latest_and_succeeded(clients.executions, JOB) == (None, None)


def test_a_job_cloud_run_does_not_know_raises_not_found(clients: RunClients):
    with pytest.raises(api.NotFound):
        runs.latest_execution(clients.executions, JOB.replace("shop-api", "nope"))


def test_run_job_returns_the_new_execution_and_wait_for_follows_it_to_the_end(clients: RunClients, fake_cloud: FakeCloud):  # noqa: F811
    fake_cloud.script_runs(JOB, "running", "running", "succeeded")
    started = runs.run_job(clients.jobs, JOB)
    assert started.name.startswith(f"{JOB}/executions/toltek-shop-api-prd-") and started.state == "running" and started.job == "toltek-shop-api-prd"
    seen: list[str] = []
    ended = runs.wait_for(clients.executions, started.name, timeout_seconds=10, poll_seconds=0, on_poll=lambda e: seen.append(e.state))
    assert seen == ["running", "running", "succeeded"]
    assert (ended.state, ended.succeeded, ended.failed, ended.tasks) == ("succeeded", 1, 0, 1)
    assert ended.duration_seconds() is not None and ended.done


def test_the_run_operation_completes_with_the_execution(clients: RunClients, fake_cloud: FakeCloud):  # noqa: F811
    """The long-running operation RunJob returns, read through google.longrunning's GetOperation."""
    fake_cloud.script_runs(JOB, "succeeded")
    operation = clients.jobs.run_job(name=JOB)
    assert not operation.done()
    runs.get_execution(clients.executions, operation.metadata.name)
    assert operation.done()
    assert operation.result(timeout=5).name == operation.metadata.name
    assert [r.name for r in fake_cloud.received("GetOperation")] == [operation.operation.name] * 2


def test_wait_for_gives_up_after_its_timeout(clients: RunClients, fake_cloud: FakeCloud):  # noqa: F811
    fake_cloud.script_runs(JOB, *["running"] * 1000)
    started = runs.run_job(clients.jobs, JOB)
    with pytest.raises(runs.WaitTimeout) as caught:
        runs.wait_for(clients.executions, started.name, timeout_seconds=0.05, poll_seconds=0.01)
    assert caught.value.execution.state == "running" and caught.value.execution.running == 1


def test_run_job_with_arguments_overrides_the_container_for_that_execution(clients: RunClients, fake_cloud: FakeCloud):  # noqa: F811
    runs.run_job(clients.jobs, JOB, args=["run", "shop_api", "--env", "prd", "--skip-transform"])
    [request] = fake_cloud.received("RunJob")
    assert [list(o.args) for o in request.overrides.container_overrides] == [["run", "shop_api", "--env", "prd", "--skip-transform"]]
    assert runs.job_container(clients.jobs, JOB) == ("", [], ["run", "shop_api", "--env", "prd", "--skip-transform"])


def execution(**fields) -> run_v2.Execution:
    return run_v2.Execution(name=f"{JOB}/executions/x", task_count=1, **fields)


@pytest.mark.parametrize(
    ("steps", "fields", "state"),
    [
        ([], {}, "running"),
        (["running"], {}, "running"),
        (["succeeded"], {}, "succeeded"),
        (["failed"], {}, "failed"),
        (["cancelled"], {}, "cancelled"),
        # Without the Completed condition, the counts decide.
        ([], {"completion_time": datetime(2026, 1, 1, tzinfo=timezone.utc), "succeeded_count": 1}, "succeeded"),
        ([], {"completion_time": datetime(2026, 1, 1, tzinfo=timezone.utc), "failed_count": 1}, "failed"),
        ([], {"completion_time": datetime(2026, 1, 1, tzinfo=timezone.utc), "cancelled_count": 1}, "cancelled"),
        # Cancelled, still winding down: already cancelled, not running.
        (
            [],
            {"conditions": [run_v2.Condition(type_="Completed", execution_reason=run_v2.Condition.ExecutionReason.CANCELLED)]},
            "cancelled",
        ),
    ],
)
def test_state_from_the_completed_condition_or_the_task_counts(steps, fields, state):
    message = execution(**fields)
    for step in steps:
        apply_step(message, step)
    summary = runs.Execution.from_proto(message)
    assert summary.state == state
    assert summary.done == (state != "running")


def test_an_execution_is_a_small_frozen_value():
    start = datetime(2026, 11, 26, 13, 15, tzinfo=timezone.utc)
    message = execution(create_time=start, start_time=start, completion_time=start + timedelta(minutes=2, seconds=3), succeeded_count=1)
    summary = runs.Execution.from_proto(message)
    assert (summary.id, summary.job, summary.start, summary.duration_seconds()) == ("x", "toltek-shop-api-prd", start, 123.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.state = "failed"  # type: ignore[misc]
    assert runs.job_path("p", "europe-west1", "j") == "projects/p/locations/europe-west1/jobs/j"
