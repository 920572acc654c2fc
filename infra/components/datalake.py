"""The datalake project: APIs, image repository, landing bucket, raw datasets, secrets, alerts."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.components.encryption import ProjectKey, project_key
from infra.components.jobs import alert_channel
from infra.config import StackConfig
from infra.grants import SCHEDULER_ACCOUNT, datasets_of
from pipelines import naming
from pipelines.base import Pipeline

DATALAKE_APIS = (
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudkms.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "sheets.googleapis.com",
    "storage.googleapis.com",
)
REPOSITORY_ID = "toltek"
# Keep the newest images; delete untagged ones and anything older than 90 days beyond those.
CLEANUP_POLICIES = [
    {"id": "keep-recent", "action": "KEEP", "most_recent_versions": {"keep_count": 20}},
    {"id": "delete-untagged", "action": "DELETE", "condition": {"tag_state": "UNTAGGED", "older_than": "604800s"}},
    {"id": "delete-old", "action": "DELETE", "condition": {"tag_state": "ANY", "older_than": "7776000s"}},
]


def audit_logging(project: str, opts: pulumi.ResourceOptions) -> gcp.projects.IAMAuditConfig:
    """Admin and data access audit logs for every service of the project."""
    return gcp.projects.IAMAuditConfig(
        f"{project}-audit-logs",
        project=project,
        service="allServices",
        audit_log_configs=[{"log_type": t} for t in ("ADMIN_READ", "DATA_READ", "DATA_WRITE")],
        opts=opts,
    )


def image_repository(
    project: str, cfg: StackConfig, description: str, opts: pulumi.ResourceOptions
) -> gcp.artifactregistry.Repository:
    """A Docker repository with immutable tags and active cleanup policies."""
    return gcp.artifactregistry.Repository(
        f"{project}-images",
        project=project,
        location=cfg.region,
        repository_id=REPOSITORY_ID,
        format="DOCKER",
        description=description,
        docker_config={"immutable_tags": True},
        cleanup_policy_dry_run=False,
        cleanup_policies=CLEANUP_POLICIES,
        labels=labels(cfg.env),
        opts=opts,
    )


def labels(env: str, **extra: str) -> dict[str, str]:
    """Labels for cost attribution: every resource says what it belongs to."""
    return {"app": "toltek", "env": env, **extra}


@dataclass(frozen=True)
class DatalakeArgs:
    """Inputs of a `DatalakeProject`."""

    config: StackConfig
    pipelines: list[type[Pipeline]]
    provider: gcp.Provider
    dbt_dataset: str | None = None  # dev: the dataset dbt's dev target builds in


@dataclass(frozen=True)
class DatalakeResources:
    """What the datalake component created, for the components that build on it."""

    services: list[gcp.projects.Service]
    key: ProjectKey
    repository: gcp.artifactregistry.Repository
    repository_url: str
    landing_bucket: gcp.storage.Bucket
    datasets: dict[str, gcp.bigquery.Dataset]
    secrets: dict[str, gcp.secretmanager.Secret]
    scheduler_account: gcp.serviceaccount.Account
    notification_channel: gcp.monitoring.NotificationChannel


class DatalakeProject(pulumi.ComponentResource):
    """One datalake GCP project (`toltek-datalake-<env>`) and what its pipelines share."""

    resources: DatalakeResources

    def __init__(self, name: str, args: DatalakeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toltek:datalake:DatalakeProject", name, None, opts)
        cfg, project = args.config, args.config.datalake_project
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)

        services = [
            gcp.projects.Service(
                f"{project}-{api.split('.')[0]}", project=project, service=api, disable_on_destroy=False, opts=child
            )
            for api in DATALAKE_APIS
        ]
        after_apis = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=services))
        audit_logging(project, after_apis)
        key = project_key(project, cfg.bigquery_location, after_apis)
        encrypted = pulumi.ResourceOptions.merge(after_apis, pulumi.ResourceOptions(depends_on=key.grants))

        repository = image_repository(project, cfg, "Toltek pipeline images, pinned by digest", after_apis)
        bucket = gcp.storage.Bucket(
            f"{project}-landing",
            project=project,
            name=naming.landing_bucket(cfg.env),
            location=cfg.bigquery_location,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": True},
            encryption={"default_kms_key_name": key.id},
            lifecycle_rules=[{"action": {"type": "Delete"}, "condition": {"num_newer_versions": 5, "with_state": "ARCHIVED"}}],
            force_destroy=False,
            labels=labels(cfg.env),
            opts=encrypted,
        )

        datasets: dict[str, gcp.bigquery.Dataset] = {}
        for pipeline in args.pipelines:
            raw, staging = datasets_of(pipeline)
            for dataset_id, what in ((raw, "raw data"), (staging, "dlt's merge staging")):
                datasets[dataset_id] = dataset(
                    cfg.datalake_project, cfg, dataset_id, f"{what} of pipeline {pipeline.name}", pipeline.name, key, encrypted
                )
        if args.dbt_dataset:
            datasets[args.dbt_dataset] = dataset(cfg.datalake_project, cfg, args.dbt_dataset, "dbt's dev target", "dbt", key, encrypted)

        secrets = {
            secret: gcp.secretmanager.Secret(
                f"{project}-secret-{secret}",
                project=project,
                secret_id=secret,
                replication={"auto": {}},
                labels=labels(cfg.env),
                opts=after_apis,
            )
            for secret in sorted({s for p in args.pipelines for s in p.secrets})
        }
        scheduler = gcp.serviceaccount.Account(
            f"{project}-{SCHEDULER_ACCOUNT}",
            project=project,
            account_id=SCHEDULER_ACCOUNT,
            display_name="Toltek scheduler: starts pipeline jobs",
            opts=after_apis,
        )
        channel = alert_channel(project, what=cfg.env, email=cfg.alert_email, opts=after_apis)
        self.resources = DatalakeResources(
            services=services,
            key=key,
            repository=repository,
            repository_url=f"{cfg.region}-docker.pkg.dev/{project}/{REPOSITORY_ID}",
            landing_bucket=bucket,
            datasets=datasets,
            secrets=secrets,
            scheduler_account=scheduler,
            notification_channel=channel,
        )
        self.register_outputs({"repository": repository.id, "datasets": sorted(datasets)})


def dataset(
    project: str, cfg: StackConfig, dataset_id: str, description: str, owner: str, key: ProjectKey, opts: pulumi.ResourceOptions
) -> gcp.bigquery.Dataset:
    """A protected, CMEK-encrypted, labelled dataset."""
    return gcp.bigquery.Dataset(
        f"{project}-{dataset_id}",
        project=project,
        dataset_id=dataset_id,
        location=cfg.bigquery_location,
        description=description,
        delete_contents_on_destroy=False,
        default_encryption_configuration={"kms_key_name": key.id},
        labels=labels(cfg.env, owner=owner.replace("_", "-")),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True)),
    )
