"""Pieces every scheduled Cloud Run job shares: the job, its schedule and its failure alert."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

from pipelines.declarations import Resources, Schedule

SCHEDULER_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def cloud_run_job(
    name: str,
    *,
    project: str,
    region: str,
    image: pulumi.Input[str],
    args: Sequence[str],
    service_account: pulumi.Input[str],
    resources: Resources,
    env: Mapping[str, str],
    secret_env: Mapping[str, pulumi.Input[str]],
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> gcp.cloudrunv2.Job:
    """A Cloud Run v2 job: one task, parallelism 1 (runs never overlap), image by digest."""
    envs: list[dict[str, object]] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    envs += [
        {"name": var, "value_source": {"secret_key_ref": {"secret": secret, "version": "latest"}}}
        for var, secret in sorted(secret_env.items())
    ]
    return gcp.cloudrunv2.Job(
        name,
        project=project,
        name=name,
        location=region,
        deletion_protection=False,
        labels=dict(labels),
        template={
            "task_count": 1,
            "parallelism": 1,
            "labels": dict(labels),
            "template": {
                "service_account": service_account,
                "max_retries": resources.max_retries,
                "timeout": resources.timeout,
                "containers": [
                    {
                        "image": image,
                        "args": list(args),
                        "envs": envs,
                        "resources": {"limits": {"cpu": resources.cpu, "memory": resources.memory}},
                    }
                ],
            },
        },
        opts=opts,
    )


def run_uri(project: str, region: str, job: str) -> str:
    """The Cloud Run Admin API endpoint that starts an execution of `job`."""
    return f"https://run.googleapis.com/v2/projects/{project}/locations/{region}/jobs/{job}:run"


def scheduler_job(
    name: str,
    *,
    project: str,
    region: str,
    job_name: str,
    schedule: Schedule,
    scheduler_email: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> gcp.cloudscheduler.Job:
    """A Cloud Scheduler job that POSTs to the job's run endpoint with an OAuth token."""
    return gcp.cloudscheduler.Job(
        name,
        project=project,
        region=region,
        name=name,
        description=f"Starts Cloud Run job {job_name}",
        schedule=schedule.cron,
        time_zone=schedule.time_zone,
        attempt_deadline="180s",
        retry_config={"retry_count": 0},
        http_target={
            "http_method": "POST",
            "uri": run_uri(project, region, job_name),
            "oauth_token": {"service_account_email": scheduler_email, "scope": SCHEDULER_SCOPE},
        },
        opts=opts,
    )


def alert_channel(project: str, *, what: str, email: str, opts: pulumi.ResourceOptions) -> gcp.monitoring.NotificationChannel:
    """The e-mail channel a project's failure alerts go to."""
    return gcp.monitoring.NotificationChannel(
        f"{project}-alerts",
        project=project,
        type="email",
        display_name=f"Toltek alerts ({what})",
        labels={"email_address": email},
        opts=opts,
    )


def failure_alert(
    name: str,
    *,
    project: str,
    job_name: str,
    channel: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> gcp.monitoring.AlertPolicy:
    """Alert when an execution of `job_name` completes as failed."""
    metric_filter = (
        'metric.type="run.googleapis.com/job/completed_execution_count" '
        'AND resource.type="cloud_run_job" '
        f'AND resource.labels.job_name="{job_name}" '
        'AND metric.labels.result="failed"'
    )
    return gcp.monitoring.AlertPolicy(
        name,
        project=project,
        display_name=f"{job_name} failed",
        combiner="OR",
        conditions=[
            {
                "display_name": f"{job_name}: failed execution",
                "condition_threshold": {
                    "filter": metric_filter,
                    "comparison": "COMPARISON_GT",
                    "threshold_value": 0,
                    "duration": "0s",
                    "aggregations": [{"alignment_period": "300s", "per_series_aligner": "ALIGN_SUM"}],
                },
            }
        ],
        notification_channels=[channel],
        alert_strategy={"auto_close": "86400s"},
        documentation={"content": f"An execution of Cloud Run job `{job_name}` failed. See its logs.", "mime_type": "text/markdown"},
        opts=opts,
    )
