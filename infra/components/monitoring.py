"""What watches the pipelines: per pipeline a log-based metric of rows loaded and a freshness
alert (`PipelineJob` creates them beside its failure alert), per stack the dashboards."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from infra import monitoring
from infra.config import StackConfig
from pipelines import freshness
from pipelines.base import Pipeline


def rows_metric(name: str, pipeline: type[Pipeline], *, project: str, env: str, opts: pulumi.ResourceOptions) -> gcp.logging.Metric:
    """The distribution of rows each successful load of `pipeline` added, from its summary records."""
    return gcp.logging.Metric(name, project=project, **monitoring.rows_metric(pipeline, env), opts=opts)


def freshness_alert(
    name: str, pipeline: type[Pipeline], *, project: str, job_name: str, channel: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> gcp.monitoring.AlertPolicy:
    """Alert when `pipeline` has had no successful load for its freshness error age (from its schedule)."""
    error_after = freshness.describe(freshness.of(pipeline).error_after_seconds)
    return gcp.monitoring.AlertPolicy(
        name,
        project=project,
        display_name=f"{job_name} stale",
        combiner="OR",
        conditions=[monitoring.freshness_condition(pipeline)],
        notification_channels=[channel],
        alert_strategy={"auto_close": "86400s"},
        documentation={
            "content": (
                f"Pipeline `{pipeline.name}` (Cloud Run job `{job_name}`) has loaded nothing successfully for {error_after}, "
                "its freshness error age (`stale_after_runs` scheduled intervals). See the job's executions and logs."
            ),
            "mime_type": "text/markdown",
        },
        opts=opts,
    )


class Dashboards(pulumi.ComponentResource):
    """The stack's pipeline dashboards in the datalake project."""

    def __init__(self, name: str, pipelines: Sequence[type[Pipeline]], cfg: StackConfig, opts: pulumi.ResourceOptions) -> None:
        super().__init__("toltek:monitoring:Dashboards", name, None, pulumi.ResourceOptions(parent=opts.parent))
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        self.dashboards = [
            gcp.monitoring.Dashboard(
                f"{name}-{n}" if n > 1 else name,
                project=cfg.datalake_project,
                dashboard_json=monitoring.dashboard_json(dashboard),
                opts=child,
            )
            for n, dashboard in enumerate(monitoring.dashboards(pipelines, cfg.env), start=1)
        ]
        self.register_outputs({})
