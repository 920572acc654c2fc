"""What each pipeline is watched by, derived from its declaration: the log-based metric of rows it
loads, its freshness alert's condition, and the stack's dashboards. Pure functions, no Pulumi.

The metric reads the summary record `toltek run` writes in a Cloud Run job after a successful load
(`pipelines.cloud_log`): `jsonPayload.toltek.event="summary"`, rows in `jsonPayload.toltek.rows`.

Limits these follow, from Google's documentation:
- a log-based metric's name: at most 100 characters of `A-Za-z0-9_-.,+!*'()%/`, not starting with
  `/` (Cloud Logging API, LogMetric.name); a value extractor needs a DELTA DISTRIBUTION metric with
  bucket options (LogMetric.metric_descriptor, value_extractor);
- a metric-absence condition's duration: whole minutes, at most 23.5 hours (Cloud Monitoring,
  "Create metric-absence alerting policies"). A pipeline whose freshness error age is longer gets
  a PromQL condition instead (`absent_over_time` over the whole error age; PromQL-based policies
  evaluate up to two years of data, "PromQL-based alerting policies"); MQL, the other way to a
  longer window, is deprecated;
- PromQL names a Monitoring metric with its first `/` as `:` and every other special character
  as `_`; a distribution is queried through its `_count`, `_sum` and `_bucket` series
  ("Mapping Cloud Monitoring metrics to PromQL");
- a custom dashboard holds at most 100 widgets (Cloud Monitoring release notes, 2 May 2025; 40
  before), its mosaic grid is 48 columns wide (Dashboards API, MosaicLayout.columns).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pipelines import freshness, naming
from pipelines.base import Pipeline

METRIC_NAME = re.compile(r"^[A-Za-z0-9_\-.,+!*'()%][A-Za-z0-9_\-.,+!*'()%/]{0,99}$")
MAX_ABSENCE_SECONDS = 23 * 3600 + 1800  # 23.5 hours
# Rows per load from 1 to about 4.4 billion (2^32): 32 buckets doubling from 1, plus under/overflow.
ROW_BUCKETS = {"exponential_buckets": {"num_finite_buckets": 32, "growth_factor": 2.0, "scale": 1.0}}
MAX_WIDGETS = 100
GRID_COLUMNS = 48
TILES_PER_PIPELINE = 4
PIPELINES_PER_DASHBOARD = (MAX_WIDGETS - 1) // TILES_PER_PIPELINE  # one text tile heads each dashboard
TILE_WIDTH, TILE_HEIGHT, HEADER_HEIGHT = GRID_COLUMNS // TILES_PER_PIPELINE, 12, 4
EXECUTIONS = "run.googleapis.com/job/completed_execution_count"


def metric_name(pipeline: type[Pipeline]) -> str:
    """`toltek/<pipeline>/rows_loaded` (the metric type is `logging.googleapis.com/user/<name>`)."""
    name = f"toltek/{pipeline.name}/rows_loaded"
    if not METRIC_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid log-based metric name")
    return name


def metric_type(pipeline: type[Pipeline]) -> str:
    return f"logging.googleapis.com/user/{metric_name(pipeline)}"


def promql_name(metric: str) -> str:
    """A Monitoring metric type's PromQL name: the first `/` becomes `:`, other specials `_`."""
    domain, _, path = metric.partition("/")
    return re.sub(r"[^A-Za-z0-9_]", "_", domain) + ":" + re.sub(r"[^A-Za-z0-9_]", "_", path)


def summary_filter(pipeline: type[Pipeline], env: str) -> str:
    """The log filter of a pipeline's summary records: its Cloud Run job, the summary event."""
    return (
        'resource.type="cloud_run_job" '
        f'AND resource.labels.job_name="{naming.job_name(pipeline.name, env)}" '
        'AND jsonPayload.toltek.event="summary"'
    )


def rows_metric(pipeline: type[Pipeline], env: str) -> dict[str, Any]:
    """The inputs of the pipeline's log-based metric (pulumi-gcp `logging.Metric`, snake_case)."""
    return {
        "name": metric_name(pipeline),
        "description": f"Rows each successful load of pipeline {pipeline.name} added (its summary record).",
        "filter": summary_filter(pipeline, env),
        "value_extractor": "EXTRACT(jsonPayload.toltek.rows)",
        "metric_descriptor": {"metric_kind": "DELTA", "value_type": "DISTRIBUTION", "unit": "1", "display_name": f"Rows loaded by {pipeline.name}"},
        "bucket_options": ROW_BUCKETS,
    }


def freshness_condition(pipeline: type[Pipeline]) -> dict[str, Any]:
    """The alert condition (pulumi-gcp input, snake_case) that holds when the pipeline has had no
    successful load (no summary record) for its freshness error age."""
    error_after = freshness.of(pipeline).error_after_seconds
    metric = metric_type(pipeline)
    what = f"{pipeline.name}: no successful load for {freshness.describe(error_after)}"
    if error_after <= MAX_ABSENCE_SECONDS:
        return {
            "display_name": what,
            "condition_absent": {
                "filter": f'metric.type="{metric}" AND resource.type="cloud_run_job"',
                "duration": f"{error_after}s",
                "aggregations": [{"alignment_period": "300s", "per_series_aligner": "ALIGN_DELTA"}],
            },
        }
    series = f'{promql_name(metric)}_count{{monitored_resource="cloud_run_job"}}'
    return {
        "display_name": what,
        "condition_prometheus_query_language": {
            "query": f"absent_over_time({series}[{error_after}s])",
            "duration": "0s",
            "evaluation_interval": "300s",
            # The metric exists once the log-based metric does; it may have no data yet.
            "disable_metric_validation": True,
        },
    }


def condition_window(condition: dict[str, Any]) -> int | None:
    """The seconds without a load a freshness condition waits for (either form), or None."""
    absent = condition.get("conditionAbsent") or condition.get("condition_absent")
    if isinstance(absent, dict):
        match = re.fullmatch(r"(\d+)s", str(absent.get("duration", "")))
        return int(match.group(1)) if match else None
    promql = condition.get("conditionPrometheusQueryLanguage") or condition.get("condition_prometheus_query_language")
    if isinstance(promql, dict):
        match = re.search(r"absent_over_time\(.*\[(\d+)s\]\)", str(promql.get("query", "")))
        return int(match.group(1)) if match else None
    return None


# Dashboards ------------------------------------------------------------------------------------


def _chart(title: str, filter_: str, aligner: str, *, group_by: Sequence[str] = (), plot: str = "STACKED_BAR", y: str = "") -> dict[str, Any]:
    aggregation: dict[str, Any] = {"alignmentPeriod": "3600s", "perSeriesAligner": aligner}
    if group_by:
        aggregation |= {"crossSeriesReducer": "REDUCE_SUM", "groupByFields": list(group_by)}
    return {
        "title": title,
        "xyChart": {
            "dataSets": [{"timeSeriesQuery": {"timeSeriesFilter": {"filter": filter_, "aggregation": aggregation}}, "plotType": plot}],
            "yAxis": {"label": y, "scale": "LINEAR"},
        },
    }


def pipeline_widgets(pipeline: type[Pipeline], env: str) -> list[dict[str, Any]]:
    """Executions, failures, rows loaded and freshness of one pipeline: four widgets."""
    job = naming.job_name(pipeline.name, env)
    executions = f'metric.type="{EXECUTIONS}" AND resource.type="cloud_run_job" AND resource.labels.job_name="{job}"'
    error_after = freshness.of(pipeline).error_after_seconds
    return [
        _chart(f"{pipeline.name}: executions", executions, "ALIGN_SUM", group_by=["metric.label.result"], y="executions per hour"),
        _chart(f"{pipeline.name}: failed executions", f'{executions} AND metric.labels.result="failed"', "ALIGN_SUM", y="failures per hour"),
        _chart(
            f"{pipeline.name}: rows per load",
            f'metric.type="{metric_type(pipeline)}" AND resource.type="cloud_run_job"',
            "ALIGN_MEAN",
            plot="LINE",
            y="rows (mean per load, hourly)",
        ),
        {
            "title": f"{pipeline.name}: successful runs in the last {freshness.describe(error_after)} (0: stale)",
            "scorecard": {
                "timeSeriesQuery": {
                    "timeSeriesFilter": {
                        "filter": f'{executions} AND metric.labels.result="succeeded"',
                        "aggregation": {"alignmentPeriod": f"{error_after}s", "perSeriesAligner": "ALIGN_SUM",
                                        "crossSeriesReducer": "REDUCE_SUM"},
                    }
                },
                "thresholds": [{"value": 0.5, "direction": "BELOW", "color": "RED", "label": "stale"}],
            },
        },
    ]


def dashboards(pipelines: Sequence[type[Pipeline]], env: str) -> list[dict[str, Any]]:
    """The stack's dashboards (Dashboards API JSON): a heading, then one row of four tiles per
    pipeline, at most `PIPELINES_PER_DASHBOARD` pipelines each (the widget limit)."""
    ordered = sorted(pipelines, key=lambda p: p.name)
    chunks = [ordered[i : i + PIPELINES_PER_DASHBOARD] for i in range(0, len(ordered), PIPELINES_PER_DASHBOARD)] or [[]]
    out = []
    for n, chunk in enumerate(chunks, start=1):
        part = f" ({n}/{len(chunks)})" if len(chunks) > 1 else ""
        heading = (
            f"Pipelines of the {env} stack{part}: " + ", ".join(p.name for p in chunk)
            + ". Rows come from each successful run's summary log record; a pipeline is stale when no run succeeded within its freshness error age."
        )
        tiles = [{"xPos": 0, "yPos": 0, "width": GRID_COLUMNS, "height": HEADER_HEIGHT, "widget": {"title": "Toltek pipelines", "text": {"content": heading, "format": "MARKDOWN"}}}]
        for row, pipeline in enumerate(chunk):
            for col, widget in enumerate(pipeline_widgets(pipeline, env)):
                tiles.append({"xPos": col * TILE_WIDTH, "yPos": HEADER_HEIGHT + row * TILE_HEIGHT, "width": TILE_WIDTH, "height": TILE_HEIGHT, "widget": widget})
        out.append({
            "displayName": f"Toltek pipelines ({env}){part}",
            "mosaicLayout": {"columns": GRID_COLUMNS, "tiles": tiles},
        })
    return out


def dashboard_json(dashboard: dict[str, Any]) -> str:
    return json.dumps(dashboard, sort_keys=True)
