"""The warehouse project (prd): dbt's datasets, image, job and schedule, and the generated
cross-project transfer of every pipeline's raw data."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from infra.components.datalake import REPOSITORY_ID, DatalakeResources, audit_logging, dataset, image_repository, labels
from infra.components.encryption import project_key
from infra.components.iam import grant_resource
from infra.components.image import ImageArgs, RepositoryImage
from infra.components.jobs import alert_channel, cloud_run_job, failure_alert, scheduler_job
from infra.config import StackConfig
from infra.grants import (
    COPIER_ACCOUNT,
    DBT_ACCOUNT,
    SCHEDULER_ACCOUNT,
    Grant,
    copy_pipelines,
    dbt_job_name,
    member,
    service_account_email,
    warehouse_grants,
)
from pipelines import naming
from pipelines.base import Pipeline
from pipelines.dbt_job import RESOURCES as DBT_RESOURCES
from pipelines.dbt_job import SCHEDULE as DBT_SCHEDULE

WAREHOUSE_APIS = (
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "bigquerydatatransfer.googleapis.com",
    "cloudkms.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
)
# Data Transfer Service schedules are in UTC: 04:00 UTC is 05:00 or 06:00 in Amsterdam, so the
# copies land at least an hour before dbt's 07:00 run in either season (tests/test_plan.py).
COPY_SCHEDULE = "every day 04:00"


@dataclass(frozen=True)
class WarehouseArgs:
    """Inputs of a `Warehouse`."""

    config: StackConfig
    pipelines: list[type[Pipeline]]
    datalake: DatalakeResources
    provider: gcp.Provider  # the warehouse project's
    datalake_provider: gcp.Provider
    # Each pipeline's Cloud Run job by pipeline name: dbt's account may read their executions.
    pipeline_jobs: dict[str, gcp.cloudrunv2.Job] = field(default_factory=dict)


def dbt_job_args(env: str) -> list[str]:
    """The dbt job's command (the image's entrypoint is `toltek`): check every upstream pipeline,
    then `dbt build` what stands on healthy sources."""
    return ["transform", "--env", env]


class Warehouse(pulumi.ComponentResource):
    """`toltek-dwh-prd`: staging and marts datasets, the dbt job, and access to the raw data."""

    dbt_job: gcp.cloudrunv2.Job
    image_ref: pulumi.Output[str]
    datasets: list[str]

    def __init__(self, name: str, args: WarehouseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toltek:warehouse:Warehouse", name, None, opts)
        cfg = args.config
        assert cfg.warehouse_project is not None
        dwh, env = cfg.warehouse_project, cfg.env
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        copies = copy_pipelines(args.pipelines)

        services = [
            gcp.projects.Service(f"{dwh}-{api.split('.')[0]}", project=dwh, service=api, disable_on_destroy=False, opts=child)
            for api in WAREHOUSE_APIS
        ]
        after_apis = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=services))
        audit_logging(dwh, after_apis)
        key = project_key(dwh, cfg.bigquery_location, after_apis)
        encrypted = pulumi.ResourceOptions.merge(after_apis, pulumi.ResourceOptions(depends_on=key.grants))

        datasets = {
            dataset_id: dataset(dwh, cfg, dataset_id, description, owner, key, encrypted)
            for dataset_id, description, owner in [
                *((d, f"dbt {d} models", "dbt") for d in naming.WAREHOUSE_DATASETS),
                *((p.dataset, f"copy of {p.dataset} from {cfg.datalake_project}", p.name) for p in copies),
            ]
        }

        self.datasets = sorted(datasets)
        repository = image_repository(dwh, cfg, "Toltek dbt runner images, pinned by digest", after_apis)
        image = RepositoryImage(
            f"{dwh}-dbt",
            ImageArgs(kind="dbt", repository_url=f"{cfg.region}-docker.pkg.dev/{dwh}/{REPOSITORY_ID}", depends_on=[repository]),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.image_ref = image.ref

        accounts = {
            account_id: gcp.serviceaccount.Account(
                f"{dwh}-{account_id}", project=dwh, account_id=account_id, display_name=display, opts=after_apis
            )
            for account_id, display in [
                (DBT_ACCOUNT, "Toltek dbt: builds staging and marts"),
                (SCHEDULER_ACCOUNT, "Toltek scheduler: starts the dbt job"),
                *([(COPIER_ACCOUNT, "Toltek copier: copies raw datasets into the warehouse")] if copies else []),
            ]
        }

        job_name = dbt_job_name(cfg)
        self.dbt_job = cloud_run_job(
            job_name,
            project=dwh,
            region=cfg.region,
            image=image.ref,
            args=dbt_job_args(env),
            service_account=service_account_email(DBT_ACCOUNT, dwh),
            resources=DBT_RESOURCES,
            env={
                "TOLTEK_DATALAKE_PROJECT": cfg.datalake_project,
                "TOLTEK_WAREHOUSE_PROJECT": dwh,
                "TOLTEK_BQ_LOCATION": cfg.bigquery_location,
                "TOLTEK_REGION": cfg.region,
            },
            secret_env={},
            labels=labels(env, pipeline="dbt"),
            opts=pulumi.ResourceOptions.merge(after_apis, pulumi.ResourceOptions(depends_on=[accounts[DBT_ACCOUNT]])),
        )
        scheduler = scheduler_job(
            job_name,
            project=dwh,
            region=cfg.region,
            job_name=job_name,
            schedule=DBT_SCHEDULE,
            scheduler_email=service_account_email(SCHEDULER_ACCOUNT, dwh),
            opts=pulumi.ResourceOptions.merge(after_apis, pulumi.ResourceOptions(depends_on=[self.dbt_job, accounts[SCHEDULER_ACCOUNT]])),
        )
        channel = alert_channel(dwh, what=f"{env} warehouse", email=cfg.alert_email, opts=after_apis)
        failure_alert(f"{job_name}-failed", project=dwh, job_name=job_name, channel=channel.name, opts=after_apis)

        # Each grant waits for its own principal and target only: a dependency on every dataset
        # would make the stack's dependencies grow with the square of its pipelines.
        principals = {member(account_id, dwh): account for account_id, account in accounts.items()}
        targets: dict[tuple[str, str, str], pulumi.Resource] = {(dwh, "job", job_name): self.dbt_job}
        targets |= {(dwh, "dataset", d): r for d, r in datasets.items()}
        targets |= {(cfg.datalake_project, "dataset", d): r for d, r in args.datalake.datasets.items()}
        targets |= {(cfg.datalake_project, "job", naming.job_name(p, env)): job for p, job in args.pipeline_jobs.items()}
        copier_grants: list[tuple[Grant, pulumi.Resource]] = []
        for grant in warehouse_grants(args.pipelines, cfg):
            provider = args.provider if grant.project == dwh else args.datalake_provider
            waits = [r for r in (principals.get(grant.member), targets.get((grant.project, grant.scope, grant.resource))) if r is not None]
            opts_ = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=waits)
            created = grant_resource(grant, opts_, location=cfg.region)
            if grant.member == member(COPIER_ACCOUNT, dwh):
                copier_grants.append((grant, created))

        for pipeline in copies:
            gcp.bigquery.DataTransferConfig(
                f"{dwh}-copy-{pipeline.dataset}",
                project=dwh,
                location=cfg.bigquery_location,
                display_name=f"Copy {cfg.datalake_project}.{pipeline.dataset}",
                data_source_id="cross_region_copy",
                destination_dataset_id=pipeline.dataset,
                schedule=COPY_SCHEDULE,
                params={
                    "source_project_id": cfg.datalake_project,
                    "source_dataset_id": pipeline.dataset,
                    "overwrite_destination_table": "true",
                },
                service_account_name=service_account_email(COPIER_ACCOUNT, dwh),
                # The copy runs once its account may run jobs here, read the source and own the copy.
                opts=pulumi.ResourceOptions.merge(after_apis, pulumi.ResourceOptions(depends_on=[
                    created for grant, created in copier_grants if grant.scope == "project" or grant.resource == pipeline.dataset
                ])),
            )
        self.register_outputs({"dbt_job": self.dbt_job.name, "scheduler": scheduler.name, "image": self.image_ref})
