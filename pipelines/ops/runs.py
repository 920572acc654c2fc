"""Cloud Run job executions: the latest, the latest that succeeded, start one, wait for one.

Functions take the google-cloud-run clients (`pipelines.ops.clients.run_clients()`) and return
`Execution`, a small frozen summary, so callers (the ops commands, the dbt job's upstream check)
never handle the API's messages. API errors propagate as google-api-core exceptions
(`pipelines.ops.errors.explained` turns them into one-line messages).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from google.cloud.run_v2 import ExecutionsClient, JobsClient

State = Literal["running", "succeeded", "failed", "cancelled"]
STATES: tuple[State, ...] = ("running", "succeeded", "failed", "cancelled")
_PAGE_SIZE = 50
# Seconds one Cloud Run API call may take (the library sets no deadline on these calls).
TIMEOUT_SECONDS = 30.0


def job_path(project: str, region: str, job: str) -> str:
    """The resource name of a Cloud Run job: `projects/{project}/locations/{region}/jobs/{job}`."""
    return f"projects/{project}/locations/{region}/jobs/{job}"


@dataclass(frozen=True)
class Execution:
    """One execution of a Cloud Run job, as far as it has got.

    `name` is the full resource name (`projects/…/jobs/{job}/executions/{id}`); times are aware
    (UTC), `None` until they happen. `state` is `running` until the execution completes (queued
    or starting counts as running), then `succeeded`, `failed` or `cancelled`.
    """

    name: str
    state: State
    created: datetime | None
    start: datetime | None
    completion: datetime | None
    tasks: int
    succeeded: int
    failed: int
    running: int
    cancelled: int = 0
    retried: int = 0

    @property
    def id(self) -> str:
        """The execution's short name, as its logs label it (`run.googleapis.com/execution_name`)."""
        return self.name.rsplit("/", 1)[-1]

    @property
    def job(self) -> str:
        """The short name of the job this is an execution of."""
        parts = self.name.split("/")
        return parts[5] if len(parts) > 5 else ""

    @property
    def done(self) -> bool:
        return self.state != "running"

    def duration_seconds(self, now: datetime | None = None) -> float | None:
        """Start to completion (to `now` while running); None before it starts."""
        if self.start is None:
            return None
        end = self.completion or now or datetime.now(timezone.utc)
        return max(0.0, (end - self.start).total_seconds())

    def as_dict(self) -> dict[str, object]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "created": iso(self.created),
            "start": iso(self.start),
            "completion": iso(self.completion),
            "duration_seconds": self.duration_seconds(),
            "tasks": {
                "count": self.tasks,
                "succeeded": self.succeeded,
                "failed": self.failed,
                "running": self.running,
                "cancelled": self.cancelled,
                "retried": self.retried,
            },
        }

    @classmethod
    def from_proto(cls, execution: Any) -> Execution:
        """From a `google.cloud.run_v2.Execution`."""
        return cls(
            name=execution.name,
            state=_state(execution),
            created=_moment(execution, "create_time"),
            start=_moment(execution, "start_time"),
            completion=_moment(execution, "completion_time"),
            tasks=execution.task_count,
            succeeded=execution.succeeded_count,
            failed=execution.failed_count,
            running=execution.running_count,
            cancelled=execution.cancelled_count,
            retried=execution.retried_count,
        )


def _moment(message: Any, field: str) -> datetime | None:
    if field not in message:
        return None
    value = getattr(message, field)
    return datetime.fromtimestamp(value.timestamp(), timezone.utc)


def _state(execution: Any) -> State:
    """The outcome, from the `Completed` condition when Cloud Run has set it, else the task counts."""
    from google.cloud.run_v2 import Condition

    completed = next((c for c in execution.conditions if c.type_ == "Completed"), None)
    if completed is not None and completed.execution_reason == Condition.ExecutionReason.CANCELLED:
        return "cancelled"
    if "completion_time" not in execution:
        return "running"
    if execution.cancelled_count:
        return "cancelled"
    if completed is not None and completed.state == Condition.State.CONDITION_SUCCEEDED:
        return "succeeded"
    if completed is not None and completed.state == Condition.State.CONDITION_FAILED:
        return "failed"
    ok = execution.failed_count == 0 and execution.succeeded_count >= max(execution.task_count, 1)
    return "succeeded" if ok else "failed"


def executions(client: ExecutionsClient, job_path: str, *, page_size: int = _PAGE_SIZE) -> Iterator[Execution]:
    """The job's executions, newest first (Cloud Run lists them by creation time, descending),
    fetched a page at a time as the caller iterates."""
    for execution in client.list_executions(request={"parent": job_path, "page_size": page_size}, timeout=TIMEOUT_SECONDS):
        yield Execution.from_proto(execution)


def latest_execution(client: ExecutionsClient, job_path: str) -> Execution | None:
    """The job's most recently created execution (running or done), or None when it never ran."""
    return next(executions(client, job_path, page_size=1), None)


def latest_succeeded(client: ExecutionsClient, job_path: str) -> Execution | None:
    """The job's most recent execution that succeeded, or None when none did (in the executions
    Cloud Run still lists)."""
    return next((e for e in executions(client, job_path) if e.state == "succeeded"), None)


def latest_and_succeeded(client: ExecutionsClient, job_path: str) -> tuple[Execution | None, Execution | None]:
    """`latest_execution` and `latest_succeeded` in one pass over the listing."""
    latest = None
    for execution in executions(client, job_path):
        latest = latest or execution
        if execution.state == "succeeded":
            return latest, execution
    return latest, None


def get_execution(client: ExecutionsClient, execution_name: str) -> Execution:
    """The execution called `execution_name` (its full resource name), as it is now."""
    return Execution.from_proto(client.get_execution(name=execution_name, timeout=TIMEOUT_SECONDS))


def run_job(jobs: JobsClient, job_path: str, *, args: Sequence[str] | None = None, container: str = "") -> Execution:
    """Start an execution of the job now and return it as created (state `running`).

    With `args`, this execution's container runs with these arguments instead of the job's
    (`RunJobRequest.overrides`: they replace the job's arguments, for this execution only; the
    caller needs `run.jobs.runWithOverrides`). `container` names the container to override (empty
    for a job's only container).
    """
    from google.cloud import run_v2

    request = run_v2.RunJobRequest(name=job_path)
    if args is not None:
        request.overrides = run_v2.RunJobRequest.Overrides(
            container_overrides=[run_v2.RunJobRequest.Overrides.ContainerOverride(name=container, args=list(args))]
        )
    operation = jobs.run_job(request=request, timeout=TIMEOUT_SECONDS)
    metadata = operation.metadata  # the long-running operation's metadata is the new Execution
    if metadata is None or not metadata.name:
        raise RuntimeError(f"Cloud Run started an execution of {job_path} but did not name it (operation {operation.operation.name})")
    return Execution.from_proto(metadata)


def job_container(jobs: JobsClient, job_path: str) -> tuple[str, list[str], list[str]]:
    """The deployed job's (first) container: its name, command (empty: the image's entrypoint)
    and arguments."""
    job = jobs.get_job(name=job_path, timeout=TIMEOUT_SECONDS)
    containers = job.template.template.containers
    if not containers:
        return "", [], []
    container = containers[0]
    return container.name, list(container.command), list(container.args)


class WaitTimeout(Exception):
    """The execution did not finish in time; `execution` is how it was when the wait gave up."""

    def __init__(self, execution: Execution, timeout_seconds: float) -> None:
        self.execution = execution
        self.timeout_seconds = timeout_seconds
        super().__init__(f"execution {execution.id} still {execution.state} after {timeout_seconds:.0f} s")


def wait_for(
    client: ExecutionsClient,
    execution_name: str,
    *,
    timeout_seconds: float,
    poll_seconds: float = 5.0,
    on_poll: Callable[[Execution], None] | None = None,
) -> Execution:
    """Poll the execution until it is done and return it; `on_poll` sees every state read.

    Raises `WaitTimeout` when it is still running after `timeout_seconds` (the execution goes on).
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        execution = get_execution(client, execution_name)
        if on_poll is not None:
            on_poll(execution)
        if execution.done:
            return execution
        if time.monotonic() >= deadline:
            raise WaitTimeout(execution, timeout_seconds)
        time.sleep(max(0.0, min(poll_seconds, deadline - time.monotonic())))
