"""Monitoring resources the SDK's types accept but Google's APIs would refuse: a dashboard is one
JSON string to the SDK, a log-based metric's parts depend on each other, and alert conditions have
limits no annotation states.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from infra.deploy.model import Finding, check, finding

DASHBOARD = "gcp:monitoring/dashboard:Dashboard"
LOG_METRIC = "gcp:logging/metric:Metric"
ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"

MAX_WIDGETS = 100  # Cloud Monitoring release notes, 2 May 2025 (40 before)
MAX_COLUMNS = 48  # Dashboards API: MosaicLayout.columns, 1 to 48
WIDGET_KINDS = {
    "xyChart", "scorecard", "text", "blank", "alertChart", "timeSeriesTable", "collapsibleGroup", "logsPanel",
    "incidentList", "pieChart", "errorReportingPanel", "sectionHeader", "singleViewGroup", "filterControl",
}
QUERY_KINDS = {"timeSeriesFilter", "timeSeriesFilterRatio", "timeSeriesQueryLanguage", "prometheusQuery"}
# google.monitoring.v3.Aggregation's enums (the names the Dashboards API takes).
ALIGNERS = {
    "ALIGN_NONE", "ALIGN_DELTA", "ALIGN_RATE", "ALIGN_INTERPOLATE", "ALIGN_NEXT_OLDER", "ALIGN_MIN", "ALIGN_MAX",
    "ALIGN_MEAN", "ALIGN_COUNT", "ALIGN_SUM", "ALIGN_STDDEV", "ALIGN_COUNT_TRUE", "ALIGN_COUNT_FALSE",
    "ALIGN_FRACTION_TRUE", "ALIGN_PERCENTILE_99", "ALIGN_PERCENTILE_95", "ALIGN_PERCENTILE_50", "ALIGN_PERCENTILE_05",
    "ALIGN_PERCENT_CHANGE",
}
REDUCERS = {
    "REDUCE_NONE", "REDUCE_MEAN", "REDUCE_MIN", "REDUCE_MAX", "REDUCE_SUM", "REDUCE_STDDEV", "REDUCE_COUNT",
    "REDUCE_COUNT_TRUE", "REDUCE_COUNT_FALSE", "REDUCE_FRACTION_TRUE", "REDUCE_PERCENTILE_99", "REDUCE_PERCENTILE_95",
    "REDUCE_PERCENTILE_50", "REDUCE_PERCENTILE_05",
}
PLOT_TYPES = {"LINE", "STACKED_AREA", "STACKED_BAR", "HEATMAP"}
SECONDS = re.compile(r"^\d+(\.\d{1,9})?s$")
METRIC_NAME = re.compile(r"^[A-Za-z0-9_\-.,+!*'()%][A-Za-z0-9_\-.,+!*'()%/]{0,99}$")
EXTRACTOR = re.compile(r"^(EXTRACT\([A-Za-z_][\w.\-]*\)|REGEXP_EXTRACT\([A-Za-z_][\w.\-]*,\s*\".*\"\))$")
MAX_ABSENCE_SECONDS = 84600  # "Create metric-absence alerting policies": at most 23.5 hours
MAX_CONDITION_FILTER = 2048  # AlertPolicy MetricThreshold/MetricAbsence.filter
MAX_LOG_FILTER = 20000  # LogMetric.filter


def _dashboard_problems(document: Any) -> Iterator[tuple[str, str]]:
    """(path, problem) for what the Dashboards API would refuse in `document`."""
    if not isinstance(document, dict):
        yield "", "is not a JSON object"
        return
    if not isinstance(document.get("displayName"), str) or not document["displayName"]:
        yield "displayName", "is required"
    layouts = [k for k in ("gridLayout", "mosaicLayout", "rowLayout", "columnLayout") if k in document]
    if len(layouts) != 1:
        yield "", f"needs exactly one layout, has {layouts or 'none'}"
        return
    if layouts[0] != "mosaicLayout":
        return
    mosaic = document["mosaicLayout"]
    columns = mosaic.get("columns")
    if not isinstance(columns, int) or not 1 <= columns <= MAX_COLUMNS:
        yield "mosaicLayout.columns", f"is {columns!r}: a mosaic grid has 1 to {MAX_COLUMNS} columns"
        columns = MAX_COLUMNS
    tiles = mosaic.get("tiles") or []
    if len(tiles) > MAX_WIDGETS:
        yield "mosaicLayout.tiles", f"has {len(tiles)} widgets; a dashboard holds at most {MAX_WIDGETS}"
    cells: dict[tuple[int, int], int] = {}
    for i, tile in enumerate(tiles):
        where = f"mosaicLayout.tiles.{i}"
        x, y, w, h = (tile.get(k, 0) for k in ("xPos", "yPos", "width", "height"))
        if not all(isinstance(v, int) and v >= 0 for v in (x, y, w, h)) or w < 1 or h < 1:
            yield where, f"has position ({x}, {y}) and size {w}x{h}: whole numbers, size at least 1x1"
            continue
        if x + w > columns:
            yield where, f"spans columns {x} to {x + w}, past the grid's {columns}"
        for cx in range(x, min(x + w, columns)):
            for cy in range(y, y + h):
                if (cx, cy) in cells:
                    yield where, f"overlaps tile {cells[cx, cy]}"
                    break
                cells[cx, cy] = i
            else:
                continue
            break
        yield from ((f"{where}.widget{p}", m) for p, m in _widget_problems(tile.get("widget")))


def _widget_problems(widget: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(widget, dict):
        yield "", "is missing"
        return
    kinds = [k for k in widget if k in WIDGET_KINDS]
    unknown = [k for k in widget if k not in WIDGET_KINDS and k not in ("title", "id", "visibilityCondition")]
    if unknown:
        yield f".{unknown[0]}", "is not a field of a dashboard widget"
    if len(kinds) != 1:
        yield "", f"needs exactly one kind of content, has {kinds or 'none'}"
        return
    kind = kinds[0]
    queries = []
    if kind == "xyChart":
        data_sets = widget["xyChart"].get("dataSets") or []
        if not data_sets:
            yield ".xyChart.dataSets", "is empty"
        for i, data_set in enumerate(data_sets):
            queries.append((f".xyChart.dataSets.{i}.timeSeriesQuery", data_set.get("timeSeriesQuery")))
            plot = data_set.get("plotType", "LINE")
            if plot not in PLOT_TYPES:
                yield f".xyChart.dataSets.{i}.plotType", f"{plot!r} is not one of {', '.join(sorted(PLOT_TYPES))}"
    elif kind == "scorecard":
        queries.append((".scorecard.timeSeriesQuery", widget["scorecard"].get("timeSeriesQuery")))
    for path, query in queries:
        yield from ((path + p, m) for p, m in _query_problems(query))


def _query_problems(query: Any) -> Iterator[tuple[str, str]]:
    kinds = [k for k in (query or {}) if k in QUERY_KINDS]
    if len(kinds) != 1:
        yield "", f"needs exactly one of {', '.join(sorted(QUERY_KINDS))}"
        return
    if kinds[0] != "timeSeriesFilter":
        return
    ts = query["timeSeriesFilter"]
    if 'metric.type="' not in str(ts.get("filter", "")):
        yield ".timeSeriesFilter.filter", "names no metric.type: a chart's filter selects exactly one metric"
    aggregation = ts.get("aggregation") or {}
    aligner, reducer = aggregation.get("perSeriesAligner", "ALIGN_NONE"), aggregation.get("crossSeriesReducer", "REDUCE_NONE")
    if aligner not in ALIGNERS:
        yield ".timeSeriesFilter.aggregation.perSeriesAligner", f"{aligner!r} is not an Aligner"
    if reducer not in REDUCERS:
        yield ".timeSeriesFilter.aggregation.crossSeriesReducer", f"{reducer!r} is not a Reducer"
    period = aggregation.get("alignmentPeriod")
    if period is not None and not SECONDS.fullmatch(str(period)):
        yield ".timeSeriesFilter.aggregation.alignmentPeriod", f"{period!r} is not a duration in seconds (e.g. '3600s')"
    if (aligner != "ALIGN_NONE" or reducer != "REDUCE_NONE") and period is None:
        yield ".timeSeriesFilter.aggregation.alignmentPeriod", "is required with an aligner or a reducer"


@check(
    "monitoring-dashboard-json",
    "Each dashboard's JSON is what the Dashboards API takes: one layout, a mosaic of 1-48 columns, at most 100 widgets, tiles inside the grid and not overlapping, one kind of content per widget, chart queries naming a metric with valid aggregations.",
    source="Cloud Monitoring Dashboards API (projects.dashboards: MosaicLayout, Tile, Widget, TimeSeriesQuery, Aggregation); widget limit: Monitoring release notes, 2 May 2025",
)
def dashboard_json(stack: Any) -> Iterator[Finding]:
    for r in stack.of_type(DASHBOARD):
        text = r.raw_inputs.get("dashboardJson")
        if not isinstance(text, str):
            continue  # unknown at preview, or missing (inputs-required)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            yield finding("monitoring-dashboard-json", r, "dashboardJson", f"is not JSON: {exc.msg} at character {exc.pos}")
            continue
        for path, problem in _dashboard_problems(document):
            yield finding("monitoring-dashboard-json", r, f"dashboardJson{'.' if path and not path.startswith('.') else ''}{path}", problem)


@check(
    "monitoring-log-metric",
    "Each log-based metric has a valid name, a filter within Logging's length, and consistent parts: a value extractor only on a DELTA DISTRIBUTION metric with bucket options, a label extractor for exactly each descriptor label.",
    source="Cloud Logging API LogMetric: name charset and 100 characters, filter of at most 20,000 characters, value_extractor/bucket_options for DISTRIBUTION metrics, label_extractors matching the LabelDescriptors",
)
def log_metric(stack: Any) -> Iterator[Finding]:
    rule = "monitoring-log-metric"
    for r in stack.of_type(LOG_METRIC):
        i = r.raw_inputs
        name, text = i.get("name"), i.get("filter")
        if isinstance(name, str) and not METRIC_NAME.fullmatch(name):
            yield finding(rule, r, "name", f"{name!r} is not a metric identifier (A-Za-z0-9_-.,+!*'()%/, at most 100 characters, not starting with /)")
        if isinstance(text, str) and len(text) > MAX_LOG_FILTER:
            yield finding(rule, r, "filter", f"is {len(text)} characters; Logging takes at most {MAX_LOG_FILTER}")
        descriptor = i.get("metricDescriptor") or {}
        kind, value_type = descriptor.get("metricKind", "DELTA"), descriptor.get("valueType", "INT64")
        extractor = i.get("valueExtractor")
        if extractor:
            if (kind, value_type) != ("DELTA", "DISTRIBUTION"):
                yield finding(rule, r, "metricDescriptor", f"is {kind} {value_type}; a value extractor needs a DELTA DISTRIBUTION metric")
            if isinstance(extractor, str) and not EXTRACTOR.fullmatch(extractor.strip()):
                yield finding(rule, r, "valueExtractor", f"{extractor!r} is neither EXTRACT(field) nor REGEXP_EXTRACT(field, \"regex\")")
        if value_type == "DISTRIBUTION" and not extractor:
            yield finding(rule, r, "valueExtractor", "a DISTRIBUTION metric needs a value extractor")
        if value_type == "DISTRIBUTION" and not i.get("bucketOptions"):
            yield finding(rule, r, "bucketOptions", "a DISTRIBUTION metric needs bucket options")
        labels = {label.get("key") for label in descriptor.get("labels") or []}
        extracted = set(i.get("labelExtractors") or {})
        if labels != extracted:
            yield finding(rule, r, "labelExtractors", f"labels {sorted(labels)} but extractors for {sorted(extracted)}: each label needs exactly one extractor")


def _seconds(value: Any) -> float | None:
    return float(str(value)[:-1]) if isinstance(value, str) and SECONDS.fullmatch(value) else None


@check(
    "monitoring-alert-conditions",
    "Alert conditions stay within Cloud Monitoring's limits: a metric-absence duration of whole minutes up to 23.5 hours, filters of at most 2,048 characters, PromQL evaluated every multiple of 30 seconds.",
    source="Cloud Monitoring: 'Create metric-absence alerting policies' (23.5 hours), AlertPolicy.Condition (filter length, durations in whole minutes), PrometheusQueryLanguageCondition.evaluation_interval",
)
def alert_conditions(stack: Any) -> Iterator[Finding]:
    rule = "monitoring-alert-conditions"
    for r in stack.of_type(ALERT):
        for n, condition in enumerate(r.raw_inputs.get("conditions") or []):
            where = f"conditions.{n}"
            for kind in ("conditionThreshold", "conditionAbsent"):
                text = (condition.get(kind) or {}).get("filter")
                if isinstance(text, str) and len(text) > MAX_CONDITION_FILTER:
                    yield finding(rule, r, f"{where}.{kind}.filter", f"is {len(text)} characters; at most {MAX_CONDITION_FILTER}")
            absent = condition.get("conditionAbsent")
            if isinstance(absent, dict):
                seconds = _seconds(absent.get("duration"))
                if seconds is None or seconds % 60 or not 0 < seconds <= MAX_ABSENCE_SECONDS:
                    yield finding(rule, r, f"{where}.conditionAbsent.duration",
                                  f"{absent.get('duration')!r}: an absence condition waits whole minutes, at most 23.5 hours ({MAX_ABSENCE_SECONDS}s)")
            promql = condition.get("conditionPrometheusQueryLanguage")
            if isinstance(promql, dict):
                if not str(promql.get("query") or "").strip():
                    yield finding(rule, r, f"{where}.conditionPrometheusQueryLanguage.query", "is empty")
                interval = promql.get("evaluationInterval")
                seconds = _seconds(interval) if interval is not None else 30.0
                if seconds is None or seconds <= 0 or seconds % 30:
                    yield finding(rule, r, f"{where}.conditionPrometheusQueryLanguage.evaluationInterval", f"{interval!r} is not a positive multiple of 30 seconds")
