"""Monitoring: alert policies that reach someone, log-based metrics scoped to what they measure,
dashboards that leak nothing, and a freshness alert for every pipeline."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from infra.policy.context import StackContext
from infra.policy.model import ADVISORY, HIGH, MEDIUM, UNKNOWN, Res, get, items, rule

ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
LOG_METRIC = "gcp:logging/metric:Metric"
DASHBOARD = "gcp:monitoring/dashboard:Dashboard"
JOB_SCOPE = re.compile(r'resource\.type\s*=\s*"cloud_run_job"')
JOB_NAME = re.compile(r'resource\.labels\.job_name\s*=\s*"([^"]+)"')


@rule(
    "monitoring-alert-notifies",
    "Every alert policy sends its incidents to at least one notification channel.",
    severity=MEDIUM,
    types=(ALERT,),
    rationale="An alert without a channel opens incidents nobody is told about.",
)
def alert_notifies(res: Res) -> Iterator[str]:
    channels = get(res.props, "notificationChannels")
    if channels is UNKNOWN:
        return
    # A channel the stack creates is named only after apply: unknown at preview, still a channel.
    if not [c for c in items(res.props, "notificationChannels") if c is UNKNOWN or c]:
        yield f"{res.name} notifies no channel"


@rule(
    "monitoring-alert-enabled",
    "Alert policies are enabled and have at least one condition.",
    severity=MEDIUM,
    types=(ALERT,),
    rationale="A disabled or empty alert policy looks like monitoring in review and watches nothing.",
)
def alert_enabled(res: Res) -> Iterator[str]:
    if get(res.props, "enabled") is False:
        yield f"{res.name} is disabled"
    if get(res.props, "conditions") is not UNKNOWN and not items(res.props, "conditions"):
        yield f"{res.name} has no condition"


@rule(
    "logging-metric-scoped",
    "Log-based metrics are enabled and filter on one Cloud Run job (resource.type and resource.labels.job_name).",
    severity=MEDIUM,
    types=(LOG_METRIC,),
    rationale="A metric without a narrow filter counts every log entry of the project (and bills for it); a disabled one feeds alerts nothing.",
)
def metric_scoped(res: Res) -> Iterator[str]:
    if get(res.props, "disabled") is True:
        yield f"{res.name} is disabled"
    text = get(res.props, "filter")
    if text is UNKNOWN:
        return
    if not isinstance(text, str) or not text.strip():
        yield f"{res.name} has no filter: it would count every log entry of the project"
    elif not JOB_SCOPE.search(text) or len(set(JOB_NAME.findall(text))) != 1:
        yield f"{res.name} is not scoped to one Cloud Run job: {text[:160]}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@rule(
    "monitoring-dashboards-safe",
    "Dashboards are valid JSON, hold no credential-shaped value, and live in a project of the stack.",
    severity=HIGH,
    types=(DASHBOARD,),
    stack=True,
    rationale="Anyone with monitoring.dashboards.get reads a dashboard's text, and a dashboard elsewhere is outside the stack's review.",
)
def dashboards_safe(resources: list[Res], ctx: object) -> Iterator[tuple[str, str]]:
    from infra.policy.rules_secrets import credential

    projects = {
        p for r in resources if r.type != DASHBOARD for p in (get(r.props, "project"), r.project) if isinstance(p, str)
    }
    if ctx is not None:
        projects |= {p for p in (ctx.config.datalake_project, ctx.config.warehouse_project) if p}  # type: ignore[attr-defined]
    for res in resources:
        if res.type != DASHBOARD:
            continue
        project = get(res.props, "project") or res.project
        if isinstance(project, str) and project not in projects:
            yield f"dashboard {res.name} is in project {project}, which holds nothing else of the stack", res.urn
        text = get(res.props, "dashboardJson")
        if text is UNKNOWN or text is None:
            continue
        try:
            document = json.loads(text) if isinstance(text, str) else None
        except json.JSONDecodeError as exc:
            yield f"dashboard {res.name} is not valid JSON: {exc.msg} at character {exc.pos}", res.urn
            continue
        if not isinstance(document, dict):
            yield f"dashboard {res.name} is not a JSON object", res.urn
            continue
        for value in _strings(document):
            for word in value.split():
                why = credential(word.strip("\"'`,;()[]{}"))
                if why:
                    yield f"dashboard {res.name} holds {why}", res.urn
                    break


def _metric_type(res: Res) -> str | None:
    name = get(res.props, "name")
    return f"logging.googleapis.com/user/{name}" if isinstance(name, str) else None


def _promql(metric: str) -> str:
    domain, _, path = metric.partition("/")
    return re.sub(r"[^A-Za-z0-9_]", "_", domain) + ":" + re.sub(r"[^A-Za-z0-9_]", "_", path)


ABSENT_METRIC = re.compile(r'metric\.type\s*=\s*"([^"]+)"')
PROMQL_ABSENT = re.compile(r"absent_over_time\(\s*([A-Za-z_][A-Za-z0-9_]*:[A-Za-z0-9_:]+?)(?:_count|_sum|_bucket)?\s*(?:\{[^}]*\})?\s*\[(\d+)s\]\s*\)")


def _windows(condition: Any) -> Iterator[tuple[str, int]]:
    """(metric, seconds) for each metric a condition fires on after that long without data: the
    metric type of an absence condition, the PromQL name inside `absent_over_time`."""
    absent = get(condition, "conditionAbsent")
    if isinstance(absent, Mapping):
        duration = re.fullmatch(r"(\d+)s", str(get(absent, "duration") or ""))
        for metric in ABSENT_METRIC.findall(str(get(absent, "filter") or "")):
            if duration:
                yield metric, int(duration.group(1))
    query = get(condition, "conditionPrometheusQueryLanguage", "query")
    if isinstance(query, str):
        for name, seconds in PROMQL_ABSENT.findall(query):
            yield name, int(seconds)


@rule(
    "pipeline-freshness-alert",
    "Every pipeline has a log-based metric of its successful loads, scoped to its job, and an enabled alert when none came for its freshness error age (from its schedule).",
    severity=MEDIUM,
    types=(LOG_METRIC, ALERT),
    stack=True,
    registry=True,
    enforcement=ADVISORY,
    rationale="A pipeline that silently stops loading fails no execution: only the age of its last successful load shows it.",
)
def freshness_alerts(resources: list[Res], ctx: StackContext) -> Iterator[tuple[str, str]]:
    from pipelines import freshness, naming

    metrics: dict[str, list[Res]] = {}
    for res in resources:
        text = get(res.props, "filter")
        if res.type == LOG_METRIC and isinstance(text, str) and 'jsonPayload.toltek.event="summary"' in text:
            for job in set(JOB_NAME.findall(text)):
                metrics.setdefault(job, []).append(res)
    waits: dict[str, set[int]] = {}  # metric type or PromQL name -> seconds an enabled alert waits for it
    for alert in resources:
        if alert.type == ALERT and get(alert.props, "enabled") is not False:
            for condition in items(alert.props, "conditions"):
                for metric, seconds in _windows(condition):
                    waits.setdefault(metric, set()).add(seconds)
    for pipeline in ctx.pipelines:
        job = naming.job_name(pipeline.name, ctx.config.env)
        wanted = freshness.of(pipeline).error_after_seconds
        mine = [m for m in metrics.get(job, []) if get(m.props, "disabled") is not True]
        if not mine:
            yield f"pipeline '{pipeline.name}' has no log-based metric of the summary records of job {job}", ""
            continue
        windows = {w for m in mine for key in (_metric_type(m), _promql(_metric_type(m) or "")) for w in waits.get(key, ())}
        if wanted not in windows:
            found = ", ".join(f"{w} s" for w in sorted(windows)) or "none"
            yield (
                f"pipeline '{pipeline.name}' has no alert when its metric gets no data for {wanted} s, its freshness error age "
                f"(found: {found})",
                mine[0].urn,
            )
