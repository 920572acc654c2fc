"""Everything one registered pipeline gets in one environment."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.components.datalake import DatalakeResources, labels
from infra.components.iam import grant_resource
from infra.components.jobs import cloud_run_job, failure_alert, scheduler_job
from infra.components.monitoring import freshness_alert, rows_metric
from infra.config import StackConfig
from infra.grants import SCHEDULER_ACCOUNT, datasets_of, pipeline_grants, service_account_email
from pipelines import naming
from pipelines.base import Pipeline


@dataclass(frozen=True)
class PipelineJobArgs:
    """Inputs of a `PipelineJob`."""

    pipeline: type[Pipeline]
    config: StackConfig
    datalake: DatalakeResources
    image: pulumi.Input[str]
    provider: gcp.Provider


def job_args(pipeline: type[Pipeline], env: str) -> list[str]:
    """The container arguments that run exactly this pipeline (the image's entrypoint is `toltek`)."""
    return ["run", pipeline.name, "--env", env, "--skip-transform"]


def job_env(cfg: StackConfig) -> dict[str, str]:
    """Destination settings the job reads (see `pipelines.environments`), and the region its jobs run in."""
    env = {"TOLTEK_DATALAKE_PROJECT": cfg.datalake_project, "TOLTEK_BQ_LOCATION": cfg.bigquery_location, "TOLTEK_REGION": cfg.region}
    if cfg.warehouse_project:
        env["TOLTEK_WAREHOUSE_PROJECT"] = cfg.warehouse_project
    return env


class PipelineJob(pulumi.ComponentResource):
    """A pipeline's service account, Cloud Run job, schedule, IAM, failure alert, rows metric and
    freshness alert."""

    account: gcp.serviceaccount.Account
    job: gcp.cloudrunv2.Job
    scheduler: gcp.cloudscheduler.Job
    rows_metric: gcp.logging.Metric

    def __init__(self, name: str, args: PipelineJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toltek:pipelines:PipelineJob", name, None, opts)
        pipeline, cfg, lake = args.pipeline, args.config, args.datalake
        project, env = cfg.datalake_project, cfg.env
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=lake.services)
        tags = labels(env, pipeline=pipeline.name.replace("_", "-"))

        self.account = gcp.serviceaccount.Account(
            f"{name}-sa",
            project=project,
            account_id=naming.service_account_id(pipeline.name),
            display_name=f"Toltek pipeline {pipeline.name}",
            description=pipeline.summary()[:256],
            opts=child,
        )
        # What the account may do comes first: Cloud Run checks, when it creates the job, that the
        # job's account can read the secrets it mounts. Only the scheduler's right to start the
        # job needs the job itself.
        grants = pipeline_grants(pipeline, cfg)
        targets: list[pulumi.Resource] = [self.account, *(lake.secrets[s] for s in pipeline.secrets)]
        targets += [lake.datasets[d] for d in datasets_of(pipeline)]
        if pipeline.landing_prefix:
            targets.append(lake.landing_bucket)
        grant_opts = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[*lake.services, *targets])
        account_grants = [grant_resource(g, grant_opts) for g in grants if g.scope != "job"]

        job_name = naming.job_name(pipeline.name, env)
        self.job = cloud_run_job(
            job_name,
            project=project,
            region=cfg.region,
            image=args.image,
            args=job_args(pipeline, env),
            # Derived, not read back from the account: known at preview, so policies can check it.
            service_account=service_account_email(naming.service_account_id(pipeline.name), project),
            resources=pipeline.resources,
            env=job_env(cfg),
            secret_env={
                naming.env_var_for_config_key(key): lake.secrets[secret].secret_id
                for secret, key in pipeline.secrets.items()
            },
            labels=tags,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.account, *account_grants])),
        )
        invoker_opts = pulumi.ResourceOptions(
            parent=self, provider=args.provider, depends_on=[*lake.services, self.job, lake.scheduler_account]
        )
        for grant in grants:
            if grant.scope == "job":
                grant_resource(grant, invoker_opts, location=cfg.region)

        self.scheduler = scheduler_job(
            naming.scheduler_job_name(pipeline.name, env),
            project=project,
            region=cfg.region,
            job_name=job_name,
            schedule=pipeline.schedule,
            scheduler_email=service_account_email(SCHEDULER_ACCOUNT, project),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.job, lake.scheduler_account])),
        )
        failure_alert(
            f"{job_name}-failed",
            project=project,
            job_name=job_name,
            channel=lake.notification_channel.name,
            opts=child,
        )
        # What it loaded, from the summary record of each successful run; stale when none came
        # within its freshness error age. The alert reads the metric: created after it.
        self.rows_metric = rows_metric(f"{job_name}-rows", pipeline, project=project, env=env, opts=child)
        freshness_alert(
            f"{job_name}-stale",
            pipeline,
            project=project,
            job_name=job_name,
            channel=lake.notification_channel.name,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.rows_metric])),
        )
        self.register_outputs({"job": self.job.name, "service_account": self.account.email, "scheduler": self.scheduler.name})
