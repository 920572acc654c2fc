"""Cases for the deploy checks: one change each to a real planned stack, and the exact set of
checks it must trip (empty: the change still deploys).

Each mutation takes and returns `(resources, invokes)`. Most apply to the prd stack; the transfer
cases to the prd stack with `shop_sheets` copied into the warehouse (`COPY`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.plan import PlannedResource

LAKE, DWH = "toltek-datalake-prd", "toltek-dwh-prd"
PRD, COPY = "prd", "prd-copy"
Planned = tuple[list[PlannedResource], list[tuple[str, dict[str, Any]]]]
Mutation = Callable[[list[PlannedResource], list], Planned]

JOB = "gcp:cloudrunv2/job:Job"
SCHEDULER = "gcp:cloudscheduler/job:Job"
SERVICE = "gcp:projects/service:Service"
ACCOUNT = "gcp:serviceaccount/account:Account"
SECRET = "gcp:secretmanager/secret:Secret"
SECRET_MEMBER = "gcp:secretmanager/secretIamMember:SecretIamMember"
JOB_MEMBER = "gcp:cloudrunv2/jobIamMember:JobIamMember"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
DATASET_MEMBER = "gcp:bigquery/datasetIamMember:DatasetIamMember"
TRANSFER = "gcp:bigquery/dataTransferConfig:DataTransferConfig"
ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"
BUCKET = "gcp:storage/bucket:Bucket"
DASHBOARD = "gcp:monitoring/dashboard:Dashboard"
METRIC = "gcp:logging/metric:Metric"
API_STALE = {"displayName": "toltek-shop-api-prd stale"}
SHEETS_STALE = {"displayName": "toltek-shop-sheets-prd stale"}
API_METRIC = {"name": "toltek/shop_api/rows_loaded"}

API_JOB = {"name": "toltek-shop-api-prd"}
FILES_JOB = {"name": "toltek-shop-files-prd"}
DBT_JOB = {"name": "toltek-dbt-prd"}
API_SCHEDULER = {"name": "toltek-shop-api-prd"}
API_SA = f"pl-shop-api@{LAKE}.iam.gserviceaccount.com"
ACCESSOR = {"secretId": "shop-api-token"}
INVOKER = {"name": "toltek-shop-api-prd", "role": "roles/run.invoker"}
COPIER = f"serviceAccount:toltek-copier@{DWH}.iam.gserviceaccount.com"
DBT = f"serviceAccount:toltek-dbt@{DWH}.iam.gserviceaccount.com"


def find(resources: list[PlannedResource], type_: str, **inputs: Any) -> PlannedResource:
    found = [r for r in resources if r.type == type_ and all(r.raw_inputs.get(k) == v for k, v in inputs.items())]
    assert found, (type_, inputs)
    return found[0]


def _path(obj: Any, path: str) -> tuple[Any, Any]:
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        obj = obj[key]
    return obj, keys[-1]


def change(type_: str, match: dict[str, Any], path: str, value: Any = None, *, delete: bool = False) -> Mutation:
    """Set (or delete) the input at dotted `path` of the first matching resource."""

    def mutate(resources: list[PlannedResource], invokes: list) -> Planned:
        target = find(resources, type_, **match)
        inputs = copy.deepcopy(target.raw_inputs)
        parent, key = _path(inputs, path)
        if delete:
            del parent[key]
        else:
            parent[key] = value
        changed = dataclasses.replace(target, raw_inputs=inputs)
        return [changed if r is target else r for r in resources], invokes

    return mutate


def remove(type_: str, **match: Any) -> Mutation:
    def mutate(resources: list[PlannedResource], invokes: list) -> Planned:
        target = find(resources, type_, **match)
        return [r for r in resources if r is not target], invokes

    return mutate


def unlink(type_: str, match: dict[str, Any], on_type: str, on_match: dict[str, Any]) -> Mutation:
    """Drop the direct dependency of one resource on another (depends_on and property deps)."""

    def mutate(resources: list[PlannedResource], invokes: list) -> Planned:
        target, other = find(resources, type_, **match), find(resources, on_type, **on_match)
        assert other.urn in target.dependencies, f"{target.name} does not depend on {other.name} directly"
        changed = dataclasses.replace(
            target,
            dependencies=target.dependencies - {other.urn},
            property_dependencies={k: v - {other.urn} for k, v in target.property_dependencies.items()},
        )
        return [changed if r is target else r for r in resources], invokes

    return mutate


def link(type_: str, match: dict[str, Any], on_type: str, on_match: dict[str, Any]) -> Mutation:
    """Make one resource depend on another (as `depends_on` would)."""

    def mutate(resources: list[PlannedResource], invokes: list) -> Planned:
        target, other = find(resources, type_, **match), find(resources, on_type, **on_match)
        changed = dataclasses.replace(target, dependencies=target.dependencies | {other.urn})
        return [changed if r is target else r for r in resources], invokes

    return mutate


def add(type_: str, name: str, inputs: dict[str, Any], *, project: str = LAKE, after: tuple[tuple[str, dict[str, Any]], ...] = ()) -> Mutation:
    """Add a resource in `project`, depending on the resources matched by `after`."""

    def mutate(resources: list[PlannedResource], invokes: list) -> Planned:
        deps = frozenset(find(resources, t, **m).urn for t, m in after)
        provider = next(r for r in resources if r.type == "pulumi:providers:gcp" and r.raw_inputs.get("project") == project)
        urn = f"urn:pulumi:prd::toltek::{type_}::{name}"
        added = PlannedResource(type_, name, urn, True, None, provider.urn, inputs, inputs, project=project, dependencies=deps)
        return [*resources, added], invokes

    return mutate


def dashboard(edit: Callable[[dict[str, Any]], None]) -> Mutation:
    """Edit the prd dashboard's JSON document."""

    def mutate(resources: list[PlannedResource], invokes: list) -> Planned:
        import json

        target = find(resources, DASHBOARD)
        document = json.loads(target.raw_inputs["dashboardJson"])
        edit(document)
        changed = dataclasses.replace(target, raw_inputs={**target.raw_inputs, "dashboardJson": json.dumps(document)})
        return [changed if r is target else r for r in resources], invokes

    return mutate


def _tiles(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["mosaicLayout"]["tiles"]


def invoke(token: str, args: dict[str, Any]) -> Mutation:
    def mutate(resources: list[PlannedResource], invokes: list) -> Planned:
        return resources, [*invokes, (token, args)]

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(resources: list[PlannedResource], invokes: list) -> Planned:
        for m in mutations:
            resources, invokes = m(resources, invokes)
        return resources, invokes

    return mutate


def service(api: str, project: str = LAKE) -> tuple[str, dict[str, Any]]:
    return SERVICE, {"service": api, "project": project}


@dataclass(frozen=True)
class Case:
    check: str  # the check the case is written for
    what: str
    mutate: Mutation
    expect: frozenset[str]  # exactly the checks that must report; empty: it deploys
    stack: str = PRD

    @property
    def id(self) -> str:
        return f"{self.check}: {self.what}"


def bad(check: str, what: str, mutate: Mutation, *also: str, stack: str = PRD) -> Case:
    return Case(check, what, mutate, frozenset((check, *also)), stack)


def good(check: str, what: str, mutate: Mutation, stack: str = PRD) -> Case:
    return Case(check, what, mutate, frozenset(), stack)


TEMPLATE = "template.template"
CONTAINER = f"{TEMPLATE}.containers.0"
VM = {
    "project": LAKE, "zone": "europe-west1-b", "machineType": "e2-small",
    "bootDisk": {"initializeParams": {"image": "debian-cloud/debian-12"}}, "networkInterfaces": [{"network": "default"}],
}

CASES: list[Case] = [
    # Inputs against the SDK's own types.
    bad("inputs-known-properties", "an unknown property three levels deep in a job", change(JOB, FILES_JOB, f"{CONTAINER}.workingDirectory", "/app")),
    bad("inputs-known-properties", "a misspelt top-level bucket property", change(BUCKET, {}, "uniformBucketLevelAcess", True)),
    bad("inputs-known-properties", "a snake_case key where the wire wants camelCase", change(SCHEDULER, API_SCHEDULER, "retryConfig.retry_count", 1)),
    good("inputs-known-properties", "a new label key (maps take any key)", change(BUCKET, {}, "labels.team", "data")),
    bad("inputs-required", "a job without its template", change(JOB, FILES_JOB, "template", delete=True)),
    bad("inputs-required", "a container without an image", change(JOB, FILES_JOB, f"{CONTAINER}.image", delete=True)),
    bad("inputs-required", "a schedule's HTTP target without a URI", change(SCHEDULER, API_SCHEDULER, "httpTarget.uri", delete=True)),
    good("inputs-required", "an optional property left out", change(JOB, FILES_JOB, "labels", delete=True)),
    bad("inputs-value-kinds", "a task count given as text", change(JOB, FILES_JOB, f"{TEMPLATE.split('.')[0]}.taskCount", "one")),
    bad("inputs-value-kinds", "retries of 1.5", change(JOB, FILES_JOB, f"{TEMPLATE}.maxRetries", 1.5)),
    bad("inputs-value-kinds", "versioning as a boolean instead of an object", change(BUCKET, {}, "versioning", True)),
    good("inputs-value-kinds", "an integer as the engine's double", change(JOB, FILES_JOB, "template.taskCount", 1.0)),
    bad("inputs-enum-values", "an alert combiner the SDK does not list", change(ALERT, {"displayName": "toltek-shop-api-prd failed"}, "combiner", "ORR")),
    bad("inputs-enum-values", "a threshold comparison the SDK does not list",
        change(ALERT, {"displayName": "toltek-shop-api-prd failed"}, "conditions.0.conditionThreshold.comparison", "GREATER")),
    good("inputs-enum-values", "another listed combiner", change(ALERT, {"displayName": "toltek-shop-api-prd failed"}, "combiner", "AND")),
    bad("inputs-durations", "a task timeout in minutes", change(JOB, FILES_JOB, f"{TEMPLATE}.timeout", "15m")),
    bad("inputs-durations", "an attempt deadline without its unit", change(SCHEDULER, API_SCHEDULER, "attemptDeadline", "180")),
    good("inputs-durations", "fractional seconds", change(JOB, FILES_JOB, f"{TEMPLATE}.timeout", "899.5s")),
    # APIs.
    bad("api-known-type", "a Compute VM (no API table entry)", add("gcp:compute/instance:Instance", "vm", VM, after=(service("run.googleapis.com"),))),
    bad("api-known-type", "a data source the table lacks", invoke("gcp:organizations/getProject:getProject", {"projectId": LAKE})),
    good("api-known-type", "another secret, after Secret Manager is enabled",
         add(SECRET, "extra-secret", {"project": LAKE, "secretId": "extra", "replication": {"auto": {}}}, after=(service("secretmanager.googleapis.com"),))),
    bad("api-enabled", "KMS never enabled in the datalake project", remove(SERVICE, **service("cloudkms.googleapis.com")[1])),
    bad("api-enabled", "Cloud Run never enabled in the warehouse project", remove(SERVICE, **service("run.googleapis.com", DWH)[1])),
    good("api-enabled", "Sheets no longer enabled (no resource needs it to be created)", remove(SERVICE, **service("sheets.googleapis.com")[1])),
    bad("api-ordered", "a secret not waiting for Secret Manager", unlink(SECRET, {"secretId": "shop-api-token"}, *service("secretmanager.googleapis.com"))),
    bad("api-ordered", "a pipeline account not waiting for IAM", unlink(ACCOUNT, {"accountId": "pl-shop-api"}, *service("iam.googleapis.com"))),
    good("api-ordered", "an alert waiting for Monitoring only through its channel",
         unlink(ALERT, {"displayName": "toltek-shop-api-prd failed"}, *service("monitoring.googleapis.com"))),
    # Creation order.
    bad("order-grant-after-principal", "the scheduler's invoker grant racing the scheduler account",
        unlink(JOB_MEMBER, INVOKER, ACCOUNT, {"accountId": "toltek-scheduler", "project": LAKE})),
    bad("order-grant-after-principal", "a dataset grant racing the pipeline account",
        unlink(DATASET_MEMBER, {"datasetId": "raw_shop_api", "member": f"serviceAccount:{API_SA}"}, ACCOUNT, {"accountId": "pl-shop-api"})),
    good("order-grant-after-principal", "a grant to a group the stack does not create",
         add(DATASET_MEMBER, "analysts", {"project": LAKE, "datasetId": "raw_shop_api", "role": "roles/bigquery.dataViewer", "member": "group:analysts@toltek.example"},
             after=(service("bigquery.googleapis.com"), ("gcp:bigquery/dataset:Dataset", {"datasetId": "raw_shop_api"})))),
    bad("order-grant-after-target", "a secret grant racing its secret", unlink(SECRET_MEMBER, ACCESSOR, SECRET, {"secretId": "shop-api-token"})),
    bad("order-grant-after-target", "the invoker grant racing its job", unlink(JOB_MEMBER, INVOKER, JOB, API_JOB)),
    good("order-grant-after-target", "a grant on a dataset the stack does not create",
         add(DATASET_MEMBER, "elsewhere", {"project": LAKE, "datasetId": "legacy", "role": "roles/bigquery.dataViewer", "member": "group:analysts@toltek.example"},
             after=(service("bigquery.googleapis.com"),))),
    bad("order-job-after-secret-access", "the job created before its secret access", unlink(JOB, API_JOB, SECRET_MEMBER, ACCESSOR)),
    bad("order-job-after-secret-access", "a second, project-wide accessor grant the job does not wait for",
        add(PROJECT_MEMBER, "accessor", {"project": LAKE, "role": "roles/secretmanager.secretAccessor", "member": f"serviceAccount:{API_SA}"},
            after=(service("cloudresourcemanager.googleapis.com"), (ACCOUNT, {"accountId": "pl-shop-api"})))),
    good("order-job-after-secret-access", "a secret grant to another account the job need not wait for",
         add(SECRET_MEMBER, "other", {"project": LAKE, "secretId": "shop-api-token", "role": "roles/secretmanager.secretAccessor", "member": "group:ops@toltek.example"},
             after=(service("secretmanager.googleapis.com"), (SECRET, {"secretId": "shop-api-token"})))),
    bad("order-user-after-account", "a schedule racing its scheduler account",
        unlink(SCHEDULER, API_SCHEDULER, ACCOUNT, {"accountId": "toltek-scheduler", "project": LAKE})),
    bad("order-user-after-account", "the dbt job racing the dbt account", unlink(JOB, DBT_JOB, ACCOUNT, {"accountId": "toltek-dbt"})),
    bad("order-user-after-account", "a transfer racing the copier's jobUser grant",
        unlink(TRANSFER, {}, PROJECT_MEMBER, {"member": COPIER}), stack=COPY),
    # Permissions resources need to work.
    bad("access-scheduler-invokes-job", "no invoker grant for the scheduler", remove(JOB_MEMBER, **INVOKER)),
    bad("access-scheduler-invokes-job", "a schedule starting a job that does not exist",
        change(SCHEDULER, API_SCHEDULER, "httpTarget.uri", f"https://run.googleapis.com/v2/projects/{LAKE}/locations/europe-west1/jobs/toltek-shop-apj-prd:run")),
    bad("access-scheduler-invokes-job", "an OIDC token to a Google API",
        both(change(SCHEDULER, API_SCHEDULER, "httpTarget.oauthToken", delete=True),
             change(SCHEDULER, API_SCHEDULER, "httpTarget.oidcToken", {"serviceAccountEmail": f"toltek-scheduler@{LAKE}.iam.gserviceaccount.com"}))),
    good("access-scheduler-invokes-job", "run.invoker held on the whole project instead",
         both(remove(JOB_MEMBER, **INVOKER),
              add(PROJECT_MEMBER, "invoker", {"project": LAKE, "role": "roles/run.invoker", "member": f"serviceAccount:toltek-scheduler@{LAKE}.iam.gserviceaccount.com"},
                  after=(service("cloudresourcemanager.googleapis.com"), (ACCOUNT, {"accountId": "toltek-scheduler", "project": LAKE}))))),
    bad("access-job-reads-secrets", "no accessor grant for the job's account", remove(SECRET_MEMBER, **ACCESSOR)),
    bad("access-job-reads-secrets", "secretmanager.viewer instead of secretAccessor", change(SECRET_MEMBER, ACCESSOR, "role", "roles/secretmanager.viewer")),
    good("access-job-reads-secrets", "a job without secrets", change(JOB, API_JOB, f"{CONTAINER}.envs", [])),
    bad("access-transfer", "the copier cannot run jobs in the warehouse", remove(PROJECT_MEMBER, member=COPIER), stack=COPY),
    bad("access-transfer", "the copier cannot read the source dataset", remove(DATASET_MEMBER, member=COPIER, project=LAKE), stack=COPY),
    bad("access-transfer", "a transfer without a service account", change(TRANSFER, {}, "serviceAccountName", delete=True), stack=COPY),
    bad("access-transfer", "dataEditor on the destination: no bigquery.datasets.update",
        change(DATASET_MEMBER, {"member": COPIER, "project": DWH}, "role", "roles/bigquery.dataEditor"), stack=COPY),
    good("access-transfer", "BigQuery Admin on the warehouse project instead of its dataset and job roles",
         both(remove(DATASET_MEMBER, member=COPIER, project=DWH), remove(PROJECT_MEMBER, member=COPIER),
              add(PROJECT_MEMBER, "copier-admin", {"project": DWH, "role": "roles/bigquery.admin", "member": COPIER}, project=DWH,
                  after=(service("cloudresourcemanager.googleapis.com", DWH), (ACCOUNT, {"accountId": "toltek-copier"}))),
              link(TRANSFER, {}, PROJECT_MEMBER, {"role": "roles/bigquery.admin"})), stack=COPY),
    bad("access-dbt", "dbt cannot read raw_shop_api", remove(DATASET_MEMBER, member=DBT, datasetId="raw_shop_api")),
    bad("access-dbt", "dbt cannot run queries", remove(PROJECT_MEMBER, member=DBT)),
    bad("access-dbt", "dbt reads staging but cannot write it", change(DATASET_MEMBER, {"member": DBT, "datasetId": "staging"}, "role", "roles/bigquery.dataViewer")),
    good("access-dbt", "the copied source read from the warehouse copy", lambda resources, invokes: (resources, invokes), stack=COPY),
    bad("access-dbt", "toltek transform cannot list shop_files' executions",
        remove(JOB_MEMBER, name="toltek-shop-files-prd", role="roles/run.viewer")),
    # Monitoring.
    bad("monitoring-dashboard-json", "a mosaic of 60 columns", dashboard(lambda d: d["mosaicLayout"].update(columns=60))),
    bad("monitoring-dashboard-json", "a tile past the grid's edge", dashboard(lambda d: _tiles(d)[1].update(xPos=40))),
    bad("monitoring-dashboard-json", "two tiles in one place", dashboard(lambda d: _tiles(d)[2].update(xPos=0))),
    bad("monitoring-dashboard-json", "a widget that is a chart and a scorecard",
        dashboard(lambda d: _tiles(d)[1]["widget"].update(scorecard=_tiles(d)[4]["widget"]["scorecard"]))),
    bad("monitoring-dashboard-json", "a chart aligned by an aligner the API lacks",
        dashboard(lambda d: _tiles(d)[1]["widget"]["xyChart"]["dataSets"][0]["timeSeriesQuery"]["timeSeriesFilter"]["aggregation"].update(perSeriesAligner="ALIGN_TOTAL"))),
    bad("monitoring-dashboard-json", "101 widgets",
        dashboard(lambda d: _tiles(d).extend({"xPos": 0, "yPos": 100 + n, "width": 1, "height": 1, "widget": {"blank": {}}} for n in range(101 - len(_tiles(d)))))),
    good("monitoring-dashboard-json", "a retitled chart", dashboard(lambda d: _tiles(d)[1]["widget"].update(title="Runs"))),
    bad("monitoring-log-metric", "a value extractor on an INT64 metric", change(METRIC, API_METRIC, "metricDescriptor.valueType", "INT64")),
    bad("monitoring-log-metric", "a distribution without buckets", change(METRIC, API_METRIC, "bucketOptions", delete=True)),
    bad("monitoring-log-metric", "a name starting with a slash", change(METRIC, API_METRIC, "name", "/toltek/shop_api/rows_loaded")),
    bad("monitoring-log-metric", "a label without an extractor",
        change(METRIC, API_METRIC, "metricDescriptor.labels", [{"key": "pipeline", "valueType": "STRING"}])),
    good("monitoring-log-metric", "a label with its extractor",
         both(change(METRIC, API_METRIC, "metricDescriptor.labels", [{"key": "pipeline", "valueType": "STRING"}]),
              change(METRIC, API_METRIC, "labelExtractors", {"pipeline": "EXTRACT(jsonPayload.toltek.pipeline)"}))),
    bad("monitoring-alert-conditions", "an absence of 25 hours", change(ALERT, API_STALE, "conditions.0.conditionAbsent.duration", "90000s")),
    bad("monitoring-alert-conditions", "an absence of 90 seconds", change(ALERT, API_STALE, "conditions.0.conditionAbsent.duration", "90s")),
    bad("monitoring-alert-conditions", "PromQL evaluated every 45 seconds",
        change(ALERT, SHEETS_STALE, "conditions.0.conditionPrometheusQueryLanguage.evaluationInterval", "45s")),
    good("monitoring-alert-conditions", "an absence of exactly 23.5 hours", change(ALERT, API_STALE, "conditions.0.conditionAbsent.duration", "84600s")),
    bad("order-alert-after-metric", "shop_api's freshness alert racing its metric", unlink(ALERT, API_STALE, METRIC, API_METRIC)),
    bad("order-alert-after-metric", "shop_sheets' PromQL freshness alert racing its metric",
        unlink(ALERT, SHEETS_STALE, METRIC, {"name": "toltek/shop_sheets/rows_loaded"})),
    good("order-alert-after-metric", "an alert on a log-based metric made outside the stack",
         add(ALERT, "legacy-alert", {"project": LAKE, "displayName": "legacy", "combiner": "OR", "conditions": [{"displayName": "gone", "conditionAbsent": {
             "filter": 'metric.type="logging.googleapis.com/user/legacy" AND resource.type="cloud_run_job"', "duration": "3600s"}}]},
             after=(service("monitoring.googleapis.com"),))),
]
