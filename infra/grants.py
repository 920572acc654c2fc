"""Who may do what: every IAM grant of a stack, derived from the declarations alone.

Pure functions, unit-tested without Pulumi. Components turn each `Grant` into the matching
additive `*IamMember` resource; tests and the policy pack compare the plan against these.
Service account e-mails are deterministic (`<account id>@<project>.iam.gserviceaccount.com`), so
every member is known before anything exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from infra.config import StackConfig
from pipelines import dbt_job, naming
from pipelines.base import Pipeline

Scope = Literal["project", "dataset", "secret", "job", "bucket"]

SCHEDULER_ACCOUNT = "toltek-scheduler"
DBT_ACCOUNT = "toltek-dbt"
COPIER_ACCOUNT = "toltek-copier"

DATA_EDITOR = "roles/bigquery.dataEditor"
DATA_VIEWER = "roles/bigquery.dataViewer"
DATA_OWNER = "roles/bigquery.dataOwner"
JOB_USER = "roles/bigquery.jobUser"
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
RUN_INVOKER = "roles/run.invoker"
RUN_VIEWER = "roles/run.viewer"
OBJECT_VIEWER = "roles/storage.objectViewer"


@dataclass(frozen=True, order=True)
class Grant:
    """`member` gets `role` on one `resource` of kind `scope` in `project`."""

    project: str
    scope: Scope
    resource: str
    role: str
    member: str
    condition: str | None = None  # an IAM condition expression narrowing the grant


def service_account_email(account_id: str, project: str) -> str:
    return f"{account_id}@{project}.iam.gserviceaccount.com"


def member(account_id: str, project: str) -> str:
    return f"serviceAccount:{service_account_email(account_id, project)}"


def pipeline_member(pipeline: type[Pipeline], cfg: StackConfig) -> str:
    return member(naming.service_account_id(pipeline.name), cfg.datalake_project)


def datasets_of(pipeline: type[Pipeline]) -> tuple[str, str]:
    """The raw dataset and the dataset dlt stages merges in: both are the pipeline's to write."""
    return naming.written_datasets(pipeline.dataset)


def pipeline_grants(pipeline: type[Pipeline], cfg: StackConfig) -> list[Grant]:
    """Exactly what one pipeline's job needs in its datalake project."""
    lake, sa = cfg.datalake_project, pipeline_member(pipeline, cfg)
    grants = [Grant(lake, "dataset", dataset, DATA_EDITOR, sa) for dataset in datasets_of(pipeline)]
    grants.append(Grant(lake, "project", lake, JOB_USER, sa))
    grants += [Grant(lake, "secret", secret, SECRET_ACCESSOR, sa) for secret in sorted(pipeline.secrets)]
    if pipeline.landing_prefix:
        bucket = naming.landing_bucket(cfg.env)
        grants.append(Grant(lake, "bucket", bucket, OBJECT_VIEWER, sa, landing_condition(bucket, pipeline.landing_prefix)))
    job = naming.job_name(pipeline.name, cfg.env)
    grants.append(Grant(lake, "job", job, RUN_INVOKER, member(SCHEDULER_ACCOUNT, lake)))
    return sorted(grants)


def landing_condition(bucket: str, prefix: str) -> str:
    """An IAM condition limiting reads and listings to `prefix` and the objects under `prefix/`.

    Reading is checked against the object's name; listing is checked against the bucket, so the
    listing's requested prefix (`storage.googleapis.com/objectListPrefix`) is what a condition can
    test. gcsfs lists `prefix/` first and `prefix` when that is empty, hence the two forms each.
    """
    folder = prefix.rstrip("/")
    objects = f"projects/_/buckets/{bucket}/objects/{folder}"
    listed = 'api.getAttribute("storage.googleapis.com/objectListPrefix", "")'
    return (
        f'resource.name == "{objects}" || resource.name.startsWith("{objects}/")'
        f' || {listed} == "{folder}" || {listed}.startsWith("{folder}/")'
    )


def warehouse_grants(pipelines: Iterable[type[Pipeline]], cfg: StackConfig) -> list[Grant]:
    """The warehouse's access: dbt's own datasets, each pipeline's raw data by its transfer, and
    the executions of each pipeline's job (dbt waits for and checks them)."""
    if cfg.warehouse_project is None:
        return []
    dwh, lake = cfg.warehouse_project, cfg.datalake_project
    dbt, copier = member(DBT_ACCOUNT, dwh), member(COPIER_ACCOUNT, dwh)
    grants = [Grant(dwh, "project", dwh, JOB_USER, dbt)]
    grants += [Grant(dwh, "dataset", dataset, DATA_EDITOR, dbt) for dataset in naming.WAREHOUSE_DATASETS]
    grants.append(Grant(dwh, "job", dbt_job_name(cfg), RUN_INVOKER, member(SCHEDULER_ACCOUNT, dwh)))
    pipelines = list(pipelines)
    if any(p.transfer == "copy" for p in pipelines):
        # Each copy run is a BigQuery job in the warehouse project, run as the copier.
        grants.append(Grant(dwh, "project", dwh, JOB_USER, copier))
    for pipeline in pipelines:
        if pipeline.transfer == "copy":
            grants.append(Grant(lake, "dataset", pipeline.dataset, DATA_VIEWER, copier))
            # A dataset copy updates its destination dataset (bigquery.datasets.update): only
            # dataOwner carries that among the dataset roles; it is granted on the copy alone.
            grants.append(Grant(dwh, "dataset", pipeline.dataset, DATA_OWNER, copier))
            grants.append(Grant(dwh, "dataset", pipeline.dataset, DATA_VIEWER, dbt))
        else:
            grants.append(Grant(lake, "dataset", pipeline.dataset, DATA_VIEWER, dbt))
        # `toltek transform` reads each upstream job's latest execution (run.executions.list/get):
        # viewer on that job alone, not on the datalake project.
        grants.append(Grant(lake, "job", naming.job_name(pipeline.name, cfg.env), RUN_VIEWER, dbt))
    return sorted(grants)


def dbt_job_name(cfg: StackConfig) -> str:
    return dbt_job.job_name(cfg.env)


def copy_pipelines(pipelines: Iterable[type[Pipeline]]) -> list[type[Pipeline]]:
    return [p for p in pipelines if p.transfer == "copy"]


def stack_grants(pipelines: Iterable[type[Pipeline]], cfg: StackConfig) -> list[Grant]:
    """Every grant of the stack."""
    pipelines = list(pipelines)
    grants = [g for p in pipelines for g in pipeline_grants(p, cfg)]
    return sorted(grants + warehouse_grants(pipelines, cfg))


def resource_name(grant: Grant) -> str:
    """A stable, unique Pulumi logical name for a grant."""
    who = grant.member.split(":", 1)[1].split("@", 1)[0]
    role = grant.role.rsplit("/", 1)[1]
    return f"{who}-{role}-{grant.scope}-{grant.resource}-{grant.project}"
