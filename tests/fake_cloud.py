"""A fake of the Google APIs the operations commands call, on 127.0.0.1: a real gRPC server that the
real google-cloud-run and google-cloud-logging clients talk to, built from the messages those
packages ship.

Served: Cloud Run Admin v2 `Jobs` (GetJob, RunJob: a long-running operation whose metadata is the
new execution) and `Executions` (GetExecution, ListExecutions: newest first, paged), the
long-running `Operations` service (GetOperation), and Logging v2 `LoggingServiceV2`
(ListLogEntries, TailLogEntries: a bidirectional stream the fake closes after its batches).

State lives in memory: jobs, their executions, log entries. An execution started by RunJob goes
through the steps `script_runs` gives, one step per GetExecution, so a client following it sees it
running, then its end. `deny` answers PERMISSION_DENIED for a method on a resource; a job that was
never added is NOT_FOUND. Every request is recorded (`received`) as the client's message, so
tests assert what the client sent.
"""

from __future__ import annotations

import hashlib
import re
import threading
import warnings
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import grpc
import pytest

# google-api-core's notice about future Python support, raised on import: not this suite's concern.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.api_core\._python_version_support")

from google.api import monitored_resource_pb2  # noqa: E402
from google.cloud import run_v2  # noqa: E402
from google.cloud.logging_v2.types import (  # noqa: E402
    ListLogEntriesRequest,
    ListLogEntriesResponse,
    LogEntry,
    TailLogEntriesRequest,
    TailLogEntriesResponse,
)
from google.longrunning import operations_pb2  # noqa: E402
from google.protobuf import any_pb2  # noqa: E402

STEPS = ("running", "succeeded", "failed", "cancelled")
_SEVERITIES = {"DEFAULT": 0, "DEBUG": 100, "INFO": 200, "NOTICE": 300, "WARNING": 400, "ERROR": 500, "CRITICAL": 600}
_CLAUSE = re.compile(r'(?P<key>resource\.type|resource\.labels\.job_name|labels\."[^"]+"|timestamp)(?P<op>=|>=)"(?P<value>[^"]*)"')


def _now() -> datetime:
    return datetime.now(timezone.utc)


def apply_step(execution: run_v2.Execution, step: str, when: datetime | None = None, failed_tasks: int | None = None) -> None:
    """Move `execution` to `step` as Cloud Run reports it (counts, times, the Completed condition)."""
    assert step in STEPS, step
    when = when or _now()
    tasks = execution.task_count or 1
    if "start_time" not in execution:
        execution.start_time = when
    if step == "running":
        execution.running_count = tasks
        return
    execution.running_count = 0
    execution.completion_time = when
    reason = run_v2.Condition.ExecutionReason.EXECUTION_REASON_UNDEFINED
    if step == "succeeded":
        execution.succeeded_count, state = tasks, run_v2.Condition.State.CONDITION_SUCCEEDED
    elif step == "failed":
        failed = tasks if failed_tasks is None else failed_tasks
        execution.failed_count, execution.succeeded_count = failed, tasks - failed
        state, reason = run_v2.Condition.State.CONDITION_FAILED, run_v2.Condition.ExecutionReason.NON_ZERO_EXIT_CODE
    else:
        execution.cancelled_count = tasks
        state, reason = run_v2.Condition.State.CONDITION_FAILED, run_v2.Condition.ExecutionReason.CANCELLED
    execution.conditions = [run_v2.Condition(type_="Completed", state=state, execution_reason=reason, last_transition_time=when)]


@dataclass
class _Run:
    execution: run_v2.Execution
    steps: list[str] = field(default_factory=list)


class FakeCloud:
    """The fake's state and its gRPC server (`start()` returns host:port)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self.address = ""
        self.reset()

    # ----- what tests set up -------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.jobs: dict[str, run_v2.Job] = {}
            self.runs: dict[str, list[_Run]] = {}  # job path -> executions, oldest first
            self.scripts: dict[str, list[str]] = {}  # job path -> steps of each new execution
            self.operations: dict[str, str] = {}  # operation name -> execution name
            self.denied: set[tuple[str, str]] = set()  # (method, resource prefix)
            self.entries: list[LogEntry] = []
            self.tail_batches: list[list[LogEntry]] = []
            self.requests: list[tuple[str, Any]] = []
            self._counter = 0

    def add_job(self, project: str, region: str, name: str, *, args: tuple[str, ...] = (), command: tuple[str, ...] = ()) -> str:
        """A deployed job (one task, one container) and its resource name."""
        path = f"projects/{project}/locations/{region}/jobs/{name}"
        container = run_v2.Container(image=f"{region}-docker.pkg.dev/{project}/toltek/{name}@sha256:{'0' * 64}", args=list(args), command=list(command))
        job = run_v2.Job(
            name=path,
            template=run_v2.ExecutionTemplate(task_count=1, template=run_v2.TaskTemplate(containers=[container])),
        )
        with self._lock:
            self.jobs[path] = job
            self.runs.setdefault(path, [])
        return path

    def add_execution(
        self,
        job: str,
        suffix: str,
        step: str,
        *,
        start: datetime,
        completion: datetime | None = None,
        tasks: int = 1,
        failed_tasks: int | None = None,
    ) -> str:
        """A past (or still running) execution of `job`, created when it started."""
        execution = self._new_execution(job, f"{job.rsplit('/', 1)[-1]}-{suffix}", tasks, created=start)
        apply_step(execution, "running", start)
        if step != "running":
            apply_step(execution, step, completion or start, failed_tasks)
        with self._lock:
            self.runs[job].append(_Run(execution))
        return execution.name

    def script_runs(self, job: str, *steps: str) -> None:
        """Executions RunJob starts go through `steps`, one per GetExecution."""
        assert all(s in STEPS for s in steps)
        self.scripts[job] = list(steps)

    def deny(self, method: str, resource: str) -> None:
        """Answer PERMISSION_DENIED to `method` (e.g. RunJob) on resources starting with `resource`."""
        self.denied.add((method, resource))

    def log(self, project: str, job: str, execution: str, when: datetime, severity: str, message: str, *, text: bool = False, region: str = "europe-west1") -> LogEntry:
        """A log entry as Cloud Run writes one for a task of `execution`."""
        self._counter += 1
        entry = LogEntry(
            log_name=f"projects/{project}/logs/run.googleapis.com%2F{'stderr' if text else 'stdout'}",
            resource=monitored_resource_pb2.MonitoredResource(
                type="cloud_run_job", labels={"job_name": job, "location": region, "project_id": project}
            ),
            timestamp=when,
            severity=_SEVERITIES[severity],
            insert_id=f"entry{self._counter:06d}",
            labels={"run.googleapis.com/execution_name": execution, "run.googleapis.com/task_index": "0"},
        )
        if text:
            entry.text_payload = message
        else:
            entry.json_payload = {"message": message, "pipeline": job}
        return entry

    def received(self, method: str) -> list[Any]:
        """Requests of `method` (e.g. "RunJob") received so far, oldest first."""
        with self._lock:
            return [request for name, request in self.requests if name == method]

    def executions_of(self, job: str) -> list[run_v2.Execution]:
        with self._lock:
            return [r.execution for r in self.runs.get(job, [])]

    # ----- the server ----------------------------------------------------------------------------

    def start(self) -> str:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        unary = grpc.unary_unary_rpc_method_handler
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "google.cloud.run.v2.Jobs",
                    {
                        "GetJob": unary(self.get_job, run_v2.GetJobRequest.deserialize, run_v2.Job.serialize),
                        "RunJob": unary(self.run_job, run_v2.RunJobRequest.deserialize, operations_pb2.Operation.SerializeToString),
                    },
                ),
                grpc.method_handlers_generic_handler(
                    "google.cloud.run.v2.Executions",
                    {
                        "GetExecution": unary(self.get_execution, run_v2.GetExecutionRequest.deserialize, run_v2.Execution.serialize),
                        "ListExecutions": unary(
                            self.list_executions, run_v2.ListExecutionsRequest.deserialize, run_v2.ListExecutionsResponse.serialize
                        ),
                    },
                ),
                grpc.method_handlers_generic_handler(
                    "google.longrunning.Operations",
                    {
                        "GetOperation": unary(
                            self.get_operation, operations_pb2.GetOperationRequest.FromString, operations_pb2.Operation.SerializeToString
                        ),
                    },
                ),
                grpc.method_handlers_generic_handler(
                    "google.logging.v2.LoggingServiceV2",
                    {
                        "ListLogEntries": unary(self.list_log_entries, ListLogEntriesRequest.deserialize, ListLogEntriesResponse.serialize),
                        "TailLogEntries": grpc.stream_stream_rpc_method_handler(
                            self.tail_log_entries, TailLogEntriesRequest.deserialize, TailLogEntriesResponse.serialize
                        ),
                    },
                ),
            )
        )
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server, self.address = server, f"127.0.0.1:{port}"
        return self.address

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)

    # ----- request handling ----------------------------------------------------------------------

    def _record(self, method: str, request: Any, resource: str, context: grpc.ServicerContext) -> None:
        with self._lock:
            self.requests.append((method, request))
            denied = any(m == method and resource.startswith(prefix) for m, prefix in self.denied)
        if denied:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, f"Permission denied on resource '{resource}' (or it may not exist).")

    def _job(self, path: str, context: grpc.ServicerContext) -> run_v2.Job:
        job = self.jobs.get(path)
        if job is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Resource '{path.rsplit('/', 1)[-1]}' of kind 'JOB' in region '{path.split('/')[3]}' in project '{path.split('/')[1]}' does not exist.")
        return job

    def _new_execution(self, job: str, name: str, tasks: int, created: datetime) -> run_v2.Execution:
        return run_v2.Execution(name=f"{job}/executions/{name}", job=job.rsplit("/", 1)[-1], task_count=tasks, parallelism=1, create_time=created)

    def _find(self, name: str) -> _Run | None:
        job = name.split("/executions/")[0]
        return next((r for r in self.runs.get(job, []) if r.execution.name == name), None)

    def get_job(self, request: run_v2.GetJobRequest, context: grpc.ServicerContext) -> run_v2.Job:
        self._record("GetJob", request, request.name, context)
        return self._job(request.name, context)

    def run_job(self, request: run_v2.RunJobRequest, context: grpc.ServicerContext) -> operations_pb2.Operation:
        self._record("RunJob", request, request.name, context)
        job = self._job(request.name, context)
        with self._lock:
            self._counter += 1
            suffix = hashlib.sha1(f"{request.name}{self._counter}".encode()).hexdigest()[:5]
            execution = self._new_execution(request.name, f"{job.name.rsplit('/', 1)[-1]}-{suffix}", job.template.task_count or 1, _now())
            self.runs[request.name].append(_Run(execution, list(self.scripts.get(request.name, ["succeeded"]))))
            operation = f"{'/'.join(request.name.split('/')[:4])}/operations/{suffix}"
            self.operations[operation] = execution.name
        return operations_pb2.Operation(name=operation, done=False, metadata=_packed(execution))

    def get_execution(self, request: run_v2.GetExecutionRequest, context: grpc.ServicerContext) -> run_v2.Execution:
        self._record("GetExecution", request, request.name, context)
        with self._lock:
            run = self._find(request.name)
            if run is not None and run.steps:
                apply_step(run.execution, run.steps.pop(0))
        if run is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Execution {request.name} does not exist.")
        return run.execution

    def list_executions(self, request: run_v2.ListExecutionsRequest, context: grpc.ServicerContext) -> run_v2.ListExecutionsResponse:
        self._record("ListExecutions", request, request.parent, context)
        self._job(request.parent, context)
        with self._lock:
            newest_first = sorted((r.execution for r in self.runs[request.parent]), key=lambda e: e.create_time, reverse=True)
        start = int(request.page_token or 0)
        size = request.page_size or 100
        page = newest_first[start : start + size]
        more = start + size < len(newest_first)
        return run_v2.ListExecutionsResponse(executions=page, next_page_token=str(start + size) if more else "")

    def get_operation(self, request: operations_pb2.GetOperationRequest, context: grpc.ServicerContext) -> operations_pb2.Operation:
        self._record("GetOperation", request, request.name, context)
        with self._lock:
            name = self.operations.get(request.name)
            run = self._find(name) if name else None
        if run is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Operation {request.name} does not exist.")
        execution = run.execution
        done = "completion_time" in execution
        operation = operations_pb2.Operation(name=request.name, done=done, metadata=_packed(execution))
        if done:
            operation.response.CopyFrom(_packed(execution))
        return operation

    def list_log_entries(self, request: ListLogEntriesRequest, context: grpc.ServicerContext) -> ListLogEntriesResponse:
        self._record("ListLogEntries", request, ",".join(request.resource_names), context)
        matching = [e for e in self.entries if _matches(e, request.filter, request.resource_names, context)]
        matching.sort(key=lambda e: e.timestamp, reverse=request.order_by.strip() == "timestamp desc")
        start = int(request.page_token or 0)
        size = request.page_size or 50
        more = start + size < len(matching)
        return ListLogEntriesResponse(entries=matching[start : start + size], next_page_token=str(start + size) if more else "")

    def tail_log_entries(self, requests: Iterator[TailLogEntriesRequest], context: grpc.ServicerContext) -> Iterator[TailLogEntriesResponse]:
        first = next(requests)
        self._record("TailLogEntries", first, ",".join(first.resource_names), context)
        for batch in self.tail_batches:
            yield TailLogEntriesResponse(entries=[e for e in batch if _matches(e, first.filter, first.resource_names, context)])
        # Returning ends the stream, as Cloud Logging does when it stops a tail.


def _packed(execution: run_v2.Execution) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(run_v2.Execution.pb(execution))
    return packed


def _matches(entry: LogEntry, query: str, resource_names: list[str], context: grpc.ServicerContext) -> bool:
    """The subset of the Logging query language the commands send: clauses joined by AND."""
    project = entry.log_name.split("/")[1]
    if f"projects/{project}" not in resource_names:
        return False
    for clause in query.split(" AND "):
        match = _CLAUSE.fullmatch(clause.strip())
        if not match:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the fake does not understand {clause!r}")
        key, op, value = match["key"], match["op"], match["value"]
        if key == "timestamp":
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if not (entry.timestamp >= moment if op == ">=" else entry.timestamp == moment):
                return False
        elif key == "resource.type":
            if entry.resource.type != value:
                return False
        elif key == "resource.labels.job_name":
            if entry.resource.labels.get("job_name") != value:
                return False
        elif entry.labels.get(key[len('labels."') : -1]) != value:
            return False
    return True


@pytest.fixture(scope="module")
def fake_cloud() -> Iterator[FakeCloud]:
    """One fake server for a test module; tests `reset()` it (the `cloud` fixtures do)."""
    fake = FakeCloud()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
