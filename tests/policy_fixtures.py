"""Policy fixtures: a compliant baseline per resource type, and cases that change one property.

Each case lists the exact set of rule ids the whole pack must report for it — no more, no less.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

LAKE = "fixture-lake"
SA = f"serviceAccount:pl-orders@{LAKE}.iam.gserviceaccount.com"
SCHEDULER = f"toltek-scheduler@{LAKE}.iam.gserviceaccount.com"
DEFAULT_COMPUTE = "serviceAccount:123456789-compute@developer.gserviceaccount.com"
DIGEST = "europe-west1-docker.pkg.dev/fixture-lake/toltek/pipeline@sha256:" + "a" * 64
KEY = f"projects/{LAKE}/locations/europe/keyRings/toltek/cryptoKeys/data"
LABELS = {"app": "toltek", "env": "prd"}

AUDIT = ("gcp:projects/iAMAuditConfig:IAMAuditConfig", "audit", {
    "project": LAKE, "service": "allServices",
    "auditLogConfigs": [{"logType": "ADMIN_READ"}, {"logType": "DATA_READ"}, {"logType": "DATA_WRITE"}],
})
JOB_NAME = "toltek-orders-prd"
ALERT = ("gcp:monitoring/alertPolicy:AlertPolicy", "alert", {
    "project": LAKE, "displayName": "failed", "combiner": "OR",
    "conditions": [{"displayName": "failed", "conditionThreshold": {
        "filter": f'metric.type="run.googleapis.com/job/completed_execution_count" AND resource.labels.job_name="{JOB_NAME}"',
        "comparison": "COMPARISON_GT", "thresholdValue": 0}}],
    "notificationChannels": [f"projects/{LAKE}/notificationChannels/1"],
})
METRIC_FILTER = f'resource.type="cloud_run_job" AND resource.labels.job_name="{JOB_NAME}" AND jsonPayload.toltek.event="summary"'
DASHBOARD_JSON = (
    '{"displayName": "Toltek pipelines", "mosaicLayout": {"columns": 48, "tiles": [{"xPos": 0, "yPos": 0, "width": 48, '
    '"height": 4, "widget": {"title": "About", "text": {"content": "Rows loaded per pipeline."}}}]}}'
)

BASE: dict[str, tuple[str, dict[str, Any], bool]] = {
    # name: (type, props, protect)
    "project_member": ("gcp:projects/iAMMember:IAMMember", {"project": LAKE, "role": "roles/bigquery.jobUser", "member": SA}, False),
    "dataset_member": ("gcp:bigquery/datasetIamMember:DatasetIamMember", {"project": LAKE, "datasetId": "raw_orders", "role": "roles/bigquery.dataEditor", "member": SA}, False),
    "table_member": ("gcp:bigquery/iamMember:IamMember", {"project": LAKE, "datasetId": "raw_orders", "tableId": "orders", "role": "roles/bigquery.dataViewer", "member": SA}, False),
    "bucket_member": ("gcp:storage/bucketIAMMember:BucketIAMMember", {"bucket": "toltek-landing-prd", "role": "roles/storage.objectViewer", "member": SA}, False),
    "secret_member": ("gcp:secretmanager/secretIamMember:SecretIamMember", {"project": LAKE, "secretId": "orders-token", "role": "roles/secretmanager.secretAccessor", "member": SA}, False),
    "job_member": ("gcp:cloudrunv2/jobIamMember:JobIamMember", {"project": LAKE, "location": "europe-west1", "name": JOB_NAME, "role": "roles/run.invoker", "member": f"serviceAccount:{SCHEDULER}"}, False),
    "service_member": ("gcp:cloudrunv2/serviceIamMember:ServiceIamMember", {"project": LAKE, "location": "europe-west1", "name": "api", "role": "roles/run.invoker", "member": SA}, False),
    "repository_member": ("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", {"project": LAKE, "location": "europe-west1", "repository": "toltek", "role": "roles/artifactregistry.reader", "member": SA}, False),
    "dataset": ("gcp:bigquery/dataset:Dataset", {"project": LAKE, "datasetId": "raw_orders", "location": "EU", "labels": LABELS, "deleteContentsOnDestroy": False, "defaultEncryptionConfiguration": {"kmsKeyName": KEY}}, True),
    "bucket": ("gcp:storage/bucket:Bucket", {
        "project": LAKE, "name": "toltek-landing-prd", "location": "EU", "labels": LABELS,
        "uniformBucketLevelAccess": True, "publicAccessPrevention": "enforced", "versioning": {"enabled": True},
        "encryption": {"defaultKmsKeyName": KEY},
        "lifecycleRules": [{"action": {"type": "Delete"}, "condition": {"numNewerVersions": 5, "withState": "ARCHIVED"}}],
    }, False),
    "repository": ("gcp:artifactregistry/repository:Repository", {
        "project": LAKE, "location": "europe-west1", "repositoryId": "toltek", "format": "DOCKER", "labels": LABELS,
        "dockerConfig": {"immutableTags": True}, "cleanupPolicyDryRun": False,
        "cleanupPolicies": [{"id": "keep", "action": "KEEP", "mostRecentVersions": {"keepCount": 20}}],
    }, False),
    "job": ("gcp:cloudrunv2/job:Job", {
        "project": LAKE, "name": JOB_NAME, "location": "europe-west1", "labels": LABELS,
        "template": {"taskCount": 1, "parallelism": 1, "template": {
            "serviceAccount": f"pl-orders@{LAKE}.iam.gserviceaccount.com", "maxRetries": 1, "timeout": "1800s",
            "containers": [{"image": DIGEST, "args": ["run", "orders"], "envs": [
                {"name": "TOLTEK_BQ_LOCATION", "value": "EU"},
                {"name": "SOURCES__ORDERS__API_TOKEN", "valueSource": {"secretKeyRef": {"secret": "orders-token", "version": "latest"}}},
            ]}],
        }},
    }, False),
    "service": ("gcp:cloudrunv2/service:Service", {
        "project": LAKE, "name": "api", "location": "europe-west1", "labels": LABELS,
        "template": {"serviceAccount": f"api@{LAKE}.iam.gserviceaccount.com", "containers": [{"image": DIGEST, "envs": [{"name": "MODE", "value": "serve"}]}]},
    }, False),
    "scheduler": ("gcp:cloudscheduler/job:Job", {
        "project": LAKE, "region": "europe-west1", "name": JOB_NAME, "schedule": "0 * * * *", "timeZone": "Etc/UTC",
        "httpTarget": {"httpMethod": "POST", "uri": f"https://run.googleapis.com/v2/projects/{LAKE}/locations/europe-west1/jobs/{JOB_NAME}:run",
                       "oauthToken": {"serviceAccountEmail": SCHEDULER, "scope": "https://www.googleapis.com/auth/cloud-platform"}},
    }, False),
    "sa_member": ("gcp:serviceaccount/iAMMember:IAMMember", {"serviceAccountId": f"projects/{LAKE}/serviceAccounts/pl-orders@{LAKE}.iam.gserviceaccount.com", "role": "roles/iam.serviceAccountUser", "member": "group:data-eng@toltek.example"}, False),
    "audit_cfg": (AUDIT[0], AUDIT[2], False),
    "account": ("gcp:serviceaccount/account:Account", {"project": LAKE, "accountId": "pl-orders"}, False),
    "custom_role": ("gcp:projects/iAMCustomRole:IAMCustomRole", {"project": LAKE, "roleId": "ordersReader", "title": "Orders reader",
                                                                 "permissions": ["bigquery.datasets.get", "bigquery.tables.list"]}, False),
    "kms_key": ("gcp:kms/cryptoKey:CryptoKey", {"name": "data", "keyRing": "ring", "rotationPeriod": "7776000s", "labels": {"app": "toltek"}}, True),
    "secret": ("gcp:secretmanager/secret:Secret", {"project": LAKE, "secretId": "orders-token", "labels": LABELS, "replication": {"auto": {}}}, False),
    "alert": (ALERT[0], ALERT[2], False),
    "metric": ("gcp:logging/metric:Metric", {"project": LAKE, "name": "toltek/orders/rows_loaded", "filter": METRIC_FILTER,
                                             "valueExtractor": "EXTRACT(jsonPayload.toltek.rows)"}, False),
    "dashboard": ("gcp:monitoring/dashboard:Dashboard", {"project": LAKE, "dashboardJson": DASHBOARD_JSON}, False),
}
# What a baseline needs around it to be compliant with the stack rules.
CONTEXT = {"job": [ALERT], "scheduler": ["job_member", "job", ALERT]}


@dataclass
class Case:
    rule: str  # the rule the case is written for
    base: str
    change: dict[str, Any] = field(default_factory=dict)  # dotted path -> new value (None deletes)
    expect: frozenset[str] = frozenset()
    type: str | None = None  # replace the baseline's resource type
    protect: bool | None = None
    drop: tuple[str, ...] = ()  # context resources to leave out
    extra: tuple[str, ...] = ()  # baselines to add as context
    deps: dict[str, tuple[str, ...]] = field(default_factory=dict)  # property -> resources it was computed from

    @property
    def compliant(self) -> bool:
        return not self.expect

    def resources(self) -> list[tuple[str, str, dict[str, Any], bool]]:
        type_, props, protect = BASE[self.base]
        props = copy.deepcopy(props)
        for path, value in self.change.items():
            _set(props, path, value)
        out = [(self.type or type_, self.base, props, protect if self.protect is None else self.protect)]
        for extra in [AUDIT, *CONTEXT.get(self.base, []), *self.extra]:
            if isinstance(extra, str):
                t, p, pr = BASE[extra]
                extra_res = (t, extra, copy.deepcopy(p), pr)
            else:
                extra_res = (extra[0], extra[1], copy.deepcopy(extra[2]), False)
            if extra_res[1] not in self.drop:
                out.append(extra_res)
        return out


def _set(obj: Any, path: str, value: Any) -> None:
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        obj = obj[key]
    if value is None:
        del obj[keys[-1]]
    else:
        obj[keys[-1]] = value


def C(rule: str, base: str, change: dict[str, Any] | None = None, expect: tuple[str, ...] | None = None, **kw: Any) -> Case:
    """A case for `rule`; `expect` defaults to exactly that rule (empty tuple: compliant)."""
    return Case(rule, base, change or {}, frozenset((rule,) if expect is None else expect), **kw)


def ok(rule: str, base: str, change: dict[str, Any] | None = None, **kw: Any) -> Case:
    return Case(rule, base, change or {}, frozenset(), **kw)
