"""Google API clients for Cloud Run (jobs, executions) and Cloud Logging.

By default a client reaches Google's endpoint with application-default credentials
(`gcloud auth application-default login` on a laptop; the job's service account on Cloud Run).
For tests and emulators, `TOLTEK_RUN_ENDPOINT` / `TOLTEK_LOGGING_ENDPOINT` (host:port) point the
clients at a plain-text gRPC server instead, sending no credentials.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.errors import UserError

if TYPE_CHECKING:
    from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
    from google.cloud.run_v2 import ExecutionsClient, JobsClient

RUN_ENDPOINT = "TOLTEK_RUN_ENDPOINT"
LOGGING_ENDPOINT = "TOLTEK_LOGGING_ENDPOINT"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class NoCredentials(UserError):
    """Application-default credentials are missing or unreadable."""


def quiet_google_warnings() -> None:
    """google-api-core warns, on import, about Python versions it will stop supporting some day:
    not something a user of this command can act on."""
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.api_core\._python_version_support")


def application_default() -> Any:
    """Application-default credentials, or `NoCredentials` saying how to get them."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _ = google.auth.default(scopes=list(SCOPES))
    except (DefaultCredentialsError, OSError) as exc:  # OSError: the variable names a folder, say
        path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        if path:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            detail = reason.splitlines()[0] if reason else "unreadable"
            raise NoCredentials(
                f"GOOGLE_APPLICATION_CREDENTIALS={path}: {detail} (fix or unset it, then run `gcloud auth application-default login`)"
            ) from None
        raise NoCredentials("no application-default credentials: run `gcloud auth application-default login`") from None
    return credentials


@dataclass(frozen=True)
class RunClients:
    """Cloud Run Admin API v2 clients; close them (or use `with`) when done."""

    jobs: JobsClient
    executions: ExecutionsClient

    def close(self) -> None:
        for client in (self.jobs, self.executions):
            client.transport.close()

    def __enter__(self) -> RunClients:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_clients(endpoint: str | None = None) -> RunClients:
    """Jobs and executions clients: for `endpoint` (host:port, plain-text gRPC, no credentials) or
    `$TOLTEK_RUN_ENDPOINT` when given, else Google's endpoint with application-default credentials."""
    quiet_google_warnings()
    from google.cloud import run_v2

    endpoint = endpoint or os.environ.get(RUN_ENDPOINT)
    if endpoint:
        import grpc
        from google.cloud.run_v2.services.executions.transports import ExecutionsGrpcTransport
        from google.cloud.run_v2.services.jobs.transports import JobsGrpcTransport

        return RunClients(
            jobs=run_v2.JobsClient(transport=JobsGrpcTransport(channel=grpc.insecure_channel(endpoint))),
            executions=run_v2.ExecutionsClient(transport=ExecutionsGrpcTransport(channel=grpc.insecure_channel(endpoint))),
        )
    credentials = application_default()
    return RunClients(jobs=run_v2.JobsClient(credentials=credentials), executions=run_v2.ExecutionsClient(credentials=credentials))


def logging_client(endpoint: str | None = None) -> LoggingServiceV2Client:
    """A Cloud Logging v2 client, reached like `run_clients` (`$TOLTEK_LOGGING_ENDPOINT`)."""
    quiet_google_warnings()
    from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client

    endpoint = endpoint or os.environ.get(LOGGING_ENDPOINT)
    if endpoint:
        import grpc
        from google.cloud.logging_v2.services.logging_service_v2.transports import LoggingServiceV2GrpcTransport

        return LoggingServiceV2Client(transport=LoggingServiceV2GrpcTransport(channel=grpc.insecure_channel(endpoint)))
    return LoggingServiceV2Client(credentials=application_default())
