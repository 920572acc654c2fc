"""Google API errors as one line each: what failed, and what to do about it.

A user can fix a missing job (deploy it), a missing role (ask for it) or refused credentials (log
in again): those are `UserError`s (exit 2). Anything else the API answers (unavailable, a deadline)
is a `CloudError` (exit 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pipelines.errors import UserError

# Which role grants what each command asks of the API (Cloud Run IAM roles:
# https://cloud.google.com/run/docs/reference/iam/roles, https://cloud.google.com/run/docs/execute/jobs;
# Logging: https://cloud.google.com/logging/docs/access-control).
READ_EXECUTIONS = ("roles/run.viewer", "run.executions.list and run.executions.get")
RUN_JOB = ("roles/run.invoker", "run.jobs.run")
RUN_WITH_OVERRIDES = ("roles/run.developer", "run.jobs.runWithOverrides and run.jobs.get")
READ_LOGS = ("roles/logging.viewer", "logging.logEntries.list")


class CloudError(Exception):
    """The API failed in a way the user cannot fix by changing the command (exit 1)."""


@dataclass(frozen=True)
class Call:
    """What a block of API calls is doing, for the message when it fails."""

    doing: str  # e.g. "reading executions of toltek-shop-api-prd"
    stack: str
    project: str
    region: str
    job: str | None  # the Cloud Run job it is about, if any
    role: tuple[str, str]  # (role, the permissions it grants here)


@contextmanager
def explained(call: Call) -> Iterator[None]:
    """Re-raise Google API errors inside the block as one-line `UserError` / `CloudError`."""
    from google.api_core import exceptions as api

    try:
        yield
    except api.NotFound:
        if call.job is None:
            raise UserError(f"{call.doing}: not found in project {call.project}") from None
        raise UserError(
            f"job {call.job} not found in project {call.project} (region {call.region}): not deployed yet? run `pulumi up -s {call.stack}`"
        ) from None
    except api.PermissionDenied:
        role, permissions = call.role
        raise UserError(
            f"permission denied {call.doing} in project {call.project}: this needs {role} ({permissions}) for your account"
        ) from None
    except api.Unauthenticated:
        raise UserError("your credentials were refused (expired?): run `gcloud auth application-default login`") from None
    except api.RetryError as exc:
        cause = exc.cause.message if isinstance(exc.cause, api.GoogleAPICallError) else str(exc.cause or exc)
        raise CloudError(f"{call.doing}: gave up retrying ({_first_line(cause)})") from None
    except api.GoogleAPICallError as exc:
        kind = exc.grpc_status_code.name if exc.grpc_status_code is not None else type(exc).__name__
        raise CloudError(f"{call.doing}: {kind}: {_first_line(exc.message)}") from None


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else "no details"
