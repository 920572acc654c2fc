"""Creation order: what each resource needs must exist before the engine creates it.

Pulumi orders creation by dependencies alone; two resources without one between them are created
in parallel, and the one that needs the other fails or races it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from infra.deploy.model import Finding, check, finding
from infra.deploy.stack import RUN_JOB, TRANSFER, Target, member_email, service_accounts_used
from infra.plan import PlannedResource

SECRET_ACCESS = "secretmanager.versions.access"


@check(
    "order-grant-after-principal",
    "Every IAM grant naming a service account the stack creates depends on that account.",
    source="IAM refuses a binding for a service account that does not exist yet (400 'Service account … does not exist')",
)
def grant_after_principal(stack: Any) -> Iterator[Finding]:
    for r, _target, _role, member in stack.grants:
        account = stack.accounts.get(member_email(member) or "")
        if account is not None and not stack.graph.after(r, account):
            yield finding("order-grant-after-principal", r, "member", f"names {member_email(member)} but does not depend on {account.name}, which creates it")


@check(
    "order-grant-after-target",
    "Every IAM grant on a dataset, secret, job or bucket the stack creates depends on that resource.",
    source="setIamPolicy on a resource that does not exist yet answers 404",
)
def grant_after_target(stack: Any) -> Iterator[Finding]:
    for r, target, _role, _member in stack.grants:
        resource = stack.targets.get(target)
        if resource is not None and not stack.graph.after(r, resource):
            yield finding("order-grant-after-target", r, "", f"is on {target.scope} {target.resource} but does not depend on {resource.name}, which creates it")


@check(
    "order-job-after-secret-access",
    "Every Cloud Run job depends on the grants that let its service account read the secrets it references.",
    source="Cloud Run checks secret access when a job is created (terraform-provider-google: 'Cannot assign secret to google_cloud_run_v2_job if permissions are not granted before')",
)
def job_after_secret_access(stack: Any) -> Iterator[Finding]:
    from infra.deploy.access import holders, secret_refs

    for job in stack.of_type(RUN_JOB):
        account = dict(service_accounts_used(job)).get("template.template.serviceAccount")
        for path, secret in secret_refs(job):
            for grant in holders(stack, f"serviceAccount:{account}", SECRET_ACCESS, "secret", job.project, secret):
                if not stack.graph.after(job, grant):
                    yield finding("order-job-after-secret-access", job, path, f"references secret {secret}, but is not created after {grant.name}, the grant that lets {account} read it")


@check(
    "order-user-after-account",
    "Jobs, schedules and transfers depend on the service account they run as, and transfers on every grant of that account.",
    source="Cloud Run, Cloud Scheduler and the Data Transfer Service validate the service account when the resource is created",
)
def user_after_account(stack: Any) -> Iterator[Finding]:
    for r in stack.graph.custom:
        for path, email in service_accounts_used(r):
            account = stack.accounts.get(str(email))
            if account is not None and not stack.graph.after(r, account):
                yield finding("order-user-after-account", r, path, f"runs as {email} but does not depend on {account.name}, which creates it")
            if r.type == TRANSFER:
                for grant in _transfer_grants(stack, r, f"serviceAccount:{email}"):
                    if not stack.graph.after(r, grant):
                        yield finding("order-user-after-account", r, path, f"runs as {email} but can be created before {grant.name}, a grant it needs")


def _transfer_grants(stack: Any, transfer: PlannedResource, member: str) -> list[PlannedResource]:
    """The grants a copy's account needs for this copy: on its project and its two datasets (not
    its grants for every other copy)."""
    params = transfer.raw_inputs.get("params") or {}
    targets = [
        Target("project", transfer.project, transfer.project or ""),
        Target("dataset", params.get("source_project_id"), str(params.get("source_dataset_id"))),
        Target("dataset", transfer.project, str(transfer.raw_inputs.get("destinationDatasetId"))),
    ]
    return [grant for target in dict.fromkeys(targets) for grant, _role in stack.grants_by_member_target.get((member, target), [])]


LOG_METRIC = "gcp:logging/metric:Metric"
ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"


def _metric_names(condition: dict) -> set[str]:
    """Log-based metrics a condition's filters name."""
    return set(re.findall(r'metric\.type=\\"logging\.googleapis\.com/user/([^"\\]+)\\"', json.dumps(condition)))


@check(
    "order-alert-after-metric",
    "An alert policy whose condition reads a log-based metric of the stack (by filter or PromQL name) depends on that metric.",
    source="Cloud Monitoring refuses a condition on a metric type that does not exist yet (unless its validation is disabled), and an absence condition needs the metric's first point",
)
def alert_after_metric(stack: Any) -> Iterator[Finding]:
    from infra.monitoring import promql_name

    metrics = {str(m.raw_inputs.get("name")): m for m in stack.of_type(LOG_METRIC)}
    by_promql = {promql_name(f"logging.googleapis.com/user/{name}"): m for name, m in metrics.items()}
    for alert in stack.of_type(ALERT):
        for n, condition in enumerate(alert.raw_inputs.get("conditions") or []):
            read = {metrics[name].urn: metrics[name] for name in _metric_names(condition) if name in metrics}
            query = str((condition.get("conditionPrometheusQueryLanguage") or {}).get("query", ""))
            for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*:[A-Za-z0-9_:]+", query):  # PromQL metric names
                metric = by_promql.get(word) or by_promql.get(re.sub(r"_(count|sum|bucket)$", "", word))
                if metric is not None:
                    read[metric.urn] = metric
            for metric in sorted(read.values(), key=lambda m: m.name):
                if not stack.graph.after(alert, metric):
                    yield finding("order-alert-after-metric", alert, f"conditions.{n}", f"reads log-based metric {metric.raw_inputs.get('name')} but does not depend on {metric.name}, which creates it")
