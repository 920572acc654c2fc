"""A stack's monthly cost, estimated from its evaluated plan and the list prices in `prices.yaml`.

Pure functions over a captured plan (`infra.plan.Plan`: resources with their inputs) and the
pipeline declarations; nothing here imports Pulumi or reaches Google. What the plan holds is
counted (Cloud Run jobs with their cpu, memory, timeout and retries, the schedules that start them,
secrets, key rotation, repositories and their cleanup policies, alert conditions, dataset copies);
how long a run takes comes from each pipeline's `Resources.typical_seconds`, how often it runs from
its schedule (`Schedule.runs_per_month`, daylight-saving changes included). Free tiers are applied
per billing account (Cloud Logging's per project) and shared among the items of their line in
proportion to use. An estimate says what it leaves out (`EXCLUDES`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infra.prices import PRICES, CostError, Price, Prices, load_prices  # noqa: F401 - part of this module's interface
from pipelines import dbt_job, naming
from pipelines.declarations import DAYS_PER_MONTH, Resources, Schedule

if TYPE_CHECKING:
    from infra.config import StackConfig
    from infra.plan import Plan, PlannedResource
    from pipelines.base import Pipeline

SECONDS_PER_MONTH = DAYS_PER_MONTH * 86400

JOB = "gcp:cloudrunv2/job:Job"
SCHEDULER = "gcp:cloudscheduler/job:Job"
SECRET = "gcp:secretmanager/secret:Secret"
KEY = "gcp:kms/cryptoKey:CryptoKey"
REPOSITORY = "gcp:artifactregistry/repository:Repository"
IMAGE = "docker:index/image:Image"
ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"
COPY = "gcp:bigquery/dataTransferConfig:DataTransferConfig"

# What no estimate here includes: the part before the colon is what a terminal prints.
EXCLUDES = (
    "BigQuery: bytes the dbt builds and dlt's merges query, and the storage of raw, staging, mart and copied tables",
    "network egress: to the internet or between regions (same-region traffic between these services is free)",
    "dataset copies' storage: a Data Transfer Service copy is free, the tables it writes are BigQuery storage",
    "Cloud Monitoring metrics: log-based metric samples beyond the free 150 MiB per billing account, and API reads",
    "Data Access audit logs: enabled for all services, billed as Cloud Logging volume, not estimated",
    "Cloud KMS operations: the CMEK key's encrypt/decrypt calls by BigQuery and Cloud Storage ($0.03 per 10,000)",
    "Cloud Storage: the landing bucket's objects and their kept versions",
    "taxes, discounts, credits and committed-use savings",
)


@dataclass(frozen=True)
class Usage:
    """A quantity of one priced line a resource uses in a month: typical, and at most."""

    line: str
    resource: str
    project: str
    pipeline: str | None
    quantity: float
    upper: float


@dataclass(frozen=True)
class Item:
    usage: Usage
    price: Price
    monthly: float
    upper_monthly: float

    def as_dict(self) -> dict[str, Any]:
        u = self.usage
        return {
            "what": self.price.what,
            "pipeline": u.pipeline,
            "resource": u.resource,
            "project": u.project,
            "quantity": round(u.quantity, 6),
            "unit": self.price.unit,
            "monthly": round(self.monthly, 4),
            "upper_quantity": round(u.upper, 6),
            "upper_monthly": round(self.upper_monthly, 4),
        }


@dataclass(frozen=True)
class FreeTier:
    line: str
    scope: str  # "billing account" or the project id
    free: float
    used: float
    upper_used: float


@dataclass
class Estimate:
    stack: str
    prices: Prices
    items: list[Item]
    free_tiers: list[FreeTier] = field(default_factory=list)
    pipelines: list[str] = field(default_factory=list)  # every pipeline of the stack, costly or not

    @property
    def total(self) -> float:
        return sum(i.monthly for i in self.items)

    @property
    def upper(self) -> float:
        return sum(i.upper_monthly for i in self.items)

    def of_pipeline(self, name: str, upper: bool = False) -> float:
        return sum(i.upper_monthly if upper else i.monthly for i in self.items if i.usage.pipeline == name)

    @property
    def shared(self) -> float:
        return sum(i.monthly for i in self.items if i.usage.pipeline is None)

    def summary(self) -> list[str]:
        from infra.cost_summary import summary_lines

        return summary_lines(self)

    def as_dict(self) -> dict[str, Any]:
        """The `cost` object of `toltek plan --json`."""
        return {
            "estimate": True,
            "stack": self.stack,
            "currency": self.prices.currency,
            "total_monthly": round(self.total, 2),
            "upper_monthly": round(self.upper, 2),
            "pipelines": {name: round(self.of_pipeline(name), 2) for name in self.pipelines},
            "upper_pipelines": {name: round(self.of_pipeline(name, upper=True), 2) for name in self.pipelines},
            "shared_monthly": round(self.shared, 2),
            "items": [i.as_dict() for i in self.items],
            "free_tiers": [
                {"what": self.prices.lines[f.line].what, "scope": f.scope, "free": f.free, "used": round(f.used, 6),
                 "upper_used": round(f.upper_used, 6), "unit": self.prices.lines[f.line].unit}
                for f in self.free_tiers
            ],
            "prices_date": self.prices.taken,
            "prices_file": f"infra/{self.prices.path.name}",
            "sources": sorted({p.source for p in self.prices.lines.values()}),
            "assumptions": assumptions(self.prices),
            "excludes": list(EXCLUDES),
        }


def assumptions(prices: Prices) -> list[str]:
    a = prices.assumptions
    logs = ", ".join(f"{kind} {kib} KiB" for kind, kib in a["log_kib_per_run"].items())
    layers = ", ".join(f"{kind} {gb} GB" for kind, gb in a["image_layer_gb"].items())
    return [
        "a run takes its pipeline's Resources.typical_seconds (default a quarter of the timeout); the upper bound: its timeout on every attempt (1 + max_retries)",
        f"runs per month: each schedule's firings averaged over 2026-2029 (a month is {DAYS_PER_MONTH} days; daylight-saving changes counted)",
        "free tiers as if the stack had its billing account's allotments to itself, shared among a line's items in proportion to use",
        f"logs per run: {logs} (every attempt as much again in the upper bound)",
        f"images: base {a['image_base_gb']} GB shared, plus per kept version {layers}; versions kept: the repository's KEEP count",
        "KMS: one key version more every rotation period, none destroyed; typical: the average over the key's first year, upper: at its end",
        f"secrets: {a['versions_per_secret']} enabled version each; one access per secret per attempt (Cloud Run resolves them as a task starts)",
        f"alerting: every condition priced, {a['alert_series_per_minute']} time series returned per condition per minute",
    ]


# --- usage read from the plan ---------------------------------------------------------------


def cpu_count(value: object) -> float:
    """Cloud Run cpu limit: "1", "2", "1000m"."""
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def memory_gib(value: object) -> float:
    """Cloud Run memory limit in GiB: "512Mi", "2Gi" (also "1G", "500M")."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi|M|G)", str(value))
    if not match:
        raise CostError(f"memory limit {value!r} is not one the estimate reads (like 512Mi or 2Gi)")
    number, unit = float(match[1]), match[2]
    return {"Mi": number / 1024, "Gi": number, "M": number * 1e6 / 2**30, "G": number * 1e9 / 2**30}[unit]


def duration_seconds(value: object) -> float:
    """Protobuf durations as the provider takes them: "900s", "7776000s"."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(value))
    if not match:
        raise CostError(f"duration {value!r} is not one the estimate reads (like 900s)")
    return float(match[1])


def key_versions(rotation_seconds: float | None) -> tuple[float, float]:
    """Active versions of a key rotated every `rotation_seconds` over its first year (a new version
    per rotation, none destroyed): the average over the year and the count at its end."""
    if not rotation_seconds:
        return 1.0, 1.0
    period_days = rotation_seconds / 86400
    days = 365
    average = sum(1 + math.floor(d / period_days) for d in range(days)) / days
    return average, 1 + math.floor(days / period_days)


def copy_runs_per_month(schedule: str) -> float:
    """Runs per month of a Data Transfer Service schedule ("every day 04:00", "every 6 hours")."""
    text = schedule.strip().lower()
    if text.startswith("every day") or text.startswith("every 24 hours"):
        return DAYS_PER_MONTH
    match = re.match(r"every (\d+) hours", text)
    if match:
        return DAYS_PER_MONTH * 24 / int(match[1])
    return DAYS_PER_MONTH  # a schedule this does not read is counted as daily


def _scheduled_job(scheduler: PlannedResource) -> str | None:
    uri = (scheduler.inputs.get("httpTarget") or {}).get("uri", "")
    match = re.search(r"/jobs/([^/:]+):run$", str(uri))
    return match[1] if match else None


def _key_project(key: PlannedResource) -> str:
    ring = str(key.inputs.get("keyRing", ""))
    return ring.split("/")[1] if ring.startswith("projects/") else key.project or ""


def usage_from_plan(plan: Plan, pipelines: list[type[Pipeline]], prices: Prices) -> list[Usage]:
    """Every priced quantity of the plan in a month, attributed to a pipeline where it is one's."""
    env = plan.stack
    by_job = {naming.job_name(p.name, env): p for p in pipelines}
    by_secret = {s: p.name for p in pipelines for s in p.secrets}
    by_dataset = {p.dataset: p.name for p in pipelines}
    dbt_name = dbt_job.job_name(env)
    a = prices.assumptions
    runs = {}
    for scheduler in plan.of_type(SCHEDULER):
        job = _scheduled_job(scheduler)
        if job:
            runs[job] = runs.get(job, 0.0) + Schedule(scheduler.inputs["schedule"], scheduler.inputs.get("timeZone", "Etc/UTC")).runs_per_month()
    found: list[Usage] = []

    def add(line: str, r: PlannedResource, pipeline: str | None, quantity: float, upper: float | None = None, project: str | None = None) -> None:
        found.append(Usage(line, r.name, project or r.project or "", pipeline, quantity, quantity if upper is None else upper))

    for job in plan.of_type(JOB):
        name = str(job.inputs.get("name", job.name))
        pipeline = by_job.get(name)
        declared: Resources | None = pipeline.resources if pipeline else dbt_job.RESOURCES if name == dbt_name else None
        task = job.inputs["template"]
        attempt = task["template"]
        timeout = duration_seconds(attempt.get("timeout", "600s"))
        attempts = 1 + int(attempt.get("maxRetries", 3))
        typical = min(float(declared.typical_execution_seconds), timeout) if declared else timeout / 4
        tasks = float(task.get("taskCount", 1))
        (container,) = attempt["containers"]
        limits = (container.get("resources") or {}).get("limits") or {}
        cpu, gib = cpu_count(limits.get("cpu", "1")), memory_gib(limits.get("memory", "512Mi"))
        n = runs.get(name, 0.0) * tasks
        owner = pipeline.name if pipeline else None
        add("run_cpu", job, owner, n * typical * cpu, n * timeout * attempts * cpu)
        add("run_memory", job, owner, n * typical * gib, n * timeout * attempts * gib)
        refs = sum(1 for e in container.get("envs", []) if (e.get("valueSource") or {}).get("secretKeyRef"))
        if refs:
            add("secret_access", job, owner, n * refs, n * refs * attempts)
        kib = a["log_kib_per_run"]["dbt" if name == dbt_name else "pipeline"]
        add("logging", job, owner, n * kib / 2**20, n * attempts * kib / 2**20)

    for scheduler in plan.of_type(SCHEDULER):
        target = _scheduled_job(scheduler)
        add("scheduler_jobs", scheduler, by_job[target].name if target in by_job else None, 1.0)
    for secret in plan.of_type(SECRET):
        add("secret_versions", secret, by_secret.get(secret.inputs.get("secretId")), float(a["versions_per_secret"]))
    for key in plan.of_type(KEY):
        rotation = key.inputs.get("rotationPeriod")
        average, end = key_versions(duration_seconds(rotation) if rotation else None)
        add("kms_key_versions", key, None, average, end, project=_key_project(key))
    images = [str(i.inputs.get("imageName", "")) for i in plan.of_type(IMAGE)]
    for repository in plan.of_type(REPOSITORY):
        prefix = f"/{repository.project}/{repository.inputs.get('repositoryId')}/"
        kinds = sorted({image.split(prefix, 1)[1].split(":")[0].split("@")[0] for image in images if prefix in image})
        keep = max(
            [int((p.get("mostRecentVersions") or {}).get("keepCount", 0)) for p in repository.inputs.get("cleanupPolicies", []) if p.get("action") == "KEEP"]
            or [1]
        )
        gigabytes = (a["image_base_gb"] + keep * sum(a["image_layer_gb"].get(kind, max(a["image_layer_gb"].values())) for kind in kinds)) if kinds else 0.0
        add("artifact_storage", repository, None, gigabytes)
    for alert in plan.of_type(ALERT):
        pipeline = by_job.get(alert.parent or "")
        conditions = float(len(alert.inputs.get("conditions", [])))
        add("alert_conditions", alert, pipeline.name if pipeline else None, conditions)
        add("alert_series", alert, pipeline.name if pipeline else None, conditions * a["alert_series_per_minute"] * SECONDS_PER_MONTH / 60)
    for copy in plan.of_type(COPY):
        source = (copy.inputs.get("params") or {}).get("source_dataset_id")
        add("dataset_copies", copy, by_dataset.get(source), copy_runs_per_month(str(copy.inputs.get("schedule", ""))))
    return found


# --- pricing --------------------------------------------------------------------------------


def price(stack: str, usages: list[Usage], prices: Prices, pipelines: list[str] | None = None) -> Estimate:
    """Price each usage, applying each line's free allotment to the line's total (per billing
    account, or per project for a project-scoped one) and sharing it in proportion to use."""
    pools: dict[tuple[str, str], list[Usage]] = {}
    for u in usages:
        scope = prices.lines[u.line].free_scope
        pools.setdefault((u.line, u.project if scope == "project" else "billing account"), []).append(u)
    items, tiers = [], []
    for (line, scope), members in pools.items():
        p = prices.lines[line]
        used, upper_used = sum(u.quantity for u in members), sum(u.upper for u in members)
        if p.free:
            tiers.append(FreeTier(line, scope, p.free, used, upper_used))

        def billed(quantity: float, total: float) -> float:
            return 0.0 if total <= 0 else quantity / total * max(0.0, total - p.free) * p.monthly

        items += [Item(u, p, billed(u.quantity, used), billed(u.upper, upper_used)) for u in members]
    order = list(prices.lines)
    items.sort(key=lambda i: (i.usage.pipeline is None, i.usage.pipeline or "", order.index(i.usage.line), i.usage.resource))
    tiers.sort(key=lambda t: (order.index(t.line), t.scope))
    names = pipelines if pipelines is not None else sorted({u.pipeline for u in usages if u.pipeline})
    return Estimate(stack, prices, items, tiers, names)


def require_currency(cfg: StackConfig, prices: Prices) -> None:
    if cfg.currency != prices.currency:
        raise CostError(
            f"Pulumi.{cfg.stack}.yaml: 'toltek:currency' is {cfg.currency}, but infra/{prices.path.name} holds "
            f"{prices.currency} list prices: no estimate (set toltek:currency to {prices.currency}, or give the prices in {cfg.currency})"
        )


def estimate(plan: Plan, cfg: StackConfig, pipelines: list[type[Pipeline]], prices: Prices | None = None) -> Estimate:
    """The stack's monthly estimate: its plan's usage at the price file's prices."""
    prices = prices or load_prices()
    require_currency(cfg, prices)
    return price(plan.stack, usage_from_plan(plan, pipelines, prices), prices, [p.name for p in pipelines])


def plan_estimate(stack: str, plan: Plan) -> Estimate:
    """The estimate of an evaluated stack, with its config file and the pipelines it deploys."""
    from infra.plan import stack_settings
    from pipelines.registry import discover

    return estimate(plan, stack_settings(stack), discover().select(None, stack))


def stack_costs(stack: str) -> dict[str, Any]:
    """The `toltek.costs` entry point (`toltek pipelines --cost`): evaluate the stack's plan and
    return its estimate as data, with the lines a terminal shows (`summary`)."""
    from infra.plan import run_plan

    found = plan_estimate(stack, run_plan(stack))
    return {**found.as_dict(), "summary": found.summary()}
