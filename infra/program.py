"""The Pulumi program: stack config + pipeline registry -> components.

`pulumi up -s dev|prd` runs `main()` through `infra/__main__.py`; `toltek plan` runs the same
`main()` offline under Pulumi's mocks.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import config as stack_config
from infra.components.datalake import DatalakeArgs, DatalakeProject
from infra.components.image import ImageArgs, RepositoryImage
from infra.components.monitoring import Dashboards
from infra.components.pipeline_job import PipelineJob, PipelineJobArgs
from infra.components.warehouse import Warehouse, WarehouseArgs
from infra.config import StackConfig
from pipelines import naming
from pipelines.base import Pipeline
from pipelines.registry import discover


def provider(project: str, cfg: StackConfig) -> gcp.Provider:
    """An explicit provider per GCP project (default providers are disabled in the stack config)."""
    return gcp.Provider(f"gcp-{project}", project=project, region=cfg.region, default_labels={"app": "toltek"})


def build(cfg: StackConfig, pipelines: list[type[Pipeline]]) -> dict[str, object]:
    """Create every resource of the stack; return the stack outputs."""
    lake_provider = provider(cfg.datalake_project, cfg)
    lake = DatalakeProject(
        cfg.datalake_project,
        DatalakeArgs(
            config=cfg,
            pipelines=pipelines,
            provider=lake_provider,
            dbt_dataset=None if cfg.has_warehouse else naming.DEV_DBT_DATASET,
        ),
    ).resources
    image = RepositoryImage(
        f"{cfg.datalake_project}-pipeline",
        ImageArgs(kind="pipeline", repository_url=lake.repository_url, depends_on=[lake.repository]),
    )
    jobs = {
        pipeline.name: PipelineJob(
            naming.job_name(pipeline.name, cfg.env),
            PipelineJobArgs(pipeline=pipeline, config=cfg, datalake=lake, image=image.ref, provider=lake_provider),
        )
        for pipeline in pipelines
    }
    Dashboards(
        f"{cfg.datalake_project}-pipelines",
        pipelines,
        cfg,
        pulumi.ResourceOptions(provider=lake_provider, depends_on=lake.services),
    )
    outputs: dict[str, object] = {
        "pipelines": {
            name: {"job": job.job.name, "service_account": job.account.email, "scheduler": job.scheduler.name}
            for name, job in jobs.items()
        },
        "datasets": {cfg.datalake_project: sorted(lake.datasets)},
        "pipeline_image": image.ref,
    }
    if cfg.warehouse_project:
        warehouse = Warehouse(
            cfg.warehouse_project,
            WarehouseArgs(
                config=cfg,
                pipelines=pipelines,
                datalake=lake,
                provider=provider(cfg.warehouse_project, cfg),
                datalake_provider=lake_provider,
                pipeline_jobs={name: job.job for name, job in jobs.items()},
            ),
        )
        outputs["datasets"] = {cfg.datalake_project: sorted(lake.datasets), cfg.warehouse_project: warehouse.datasets}
        outputs["dbt_job"] = warehouse.dbt_job.name
        outputs["dbt_image"] = warehouse.image_ref
    return outputs


def main() -> None:
    cfg = stack_config.from_pulumi()
    pipelines = discover().select(None, cfg.env)
    for key, value in build(cfg, pipelines).items():
        pulumi.export(key, value)
