"""Single-property mutations of the real prd stack, one or more per rule.

Each is (rule it must trip, what it does, mutation). A mutation returns a new resource list.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from policy_fixtures import _set

from infra.plan import UNKNOWN, PlannedResource

LAKE, DWH = "toltek-datalake-prd", "toltek-dwh-prd"
API_SA = f"serviceAccount:pl-shop-api@{LAKE}.iam.gserviceaccount.com"
DEFAULT = "serviceAccount:123456789-compute@developer.gserviceaccount.com"
Resources = list[PlannedResource]


def find(resources: Resources, type_: str, **inputs: Any) -> PlannedResource:
    found = [r for r in resources if r.type == type_ and all(r.raw_inputs.get(k) == v for k, v in inputs.items())]
    assert found, (type_, inputs)
    return found[0]


def change(type_: str, match: dict[str, Any], path: str, value: Any, **fields: Any) -> Callable[[Resources], Resources]:
    def mutate(resources: Resources) -> Resources:
        target = find(resources, type_, **match)
        inputs = copy.deepcopy(target.raw_inputs)
        if path:
            _set(inputs, path, value)
        changed = dataclasses.replace(target, raw_inputs=inputs, **fields)
        return [changed if r is target else r for r in resources]

    return mutate


def add(type_: str, name: str, inputs: dict[str, Any]) -> Callable[[Resources], Resources]:
    def mutate(resources: Resources) -> Resources:
        urn = f"urn:pulumi:prd::toltek::{type_}::{name}"
        return [*resources, PlannedResource(type_, name, urn, True, None, None, inputs, inputs)]

    return mutate


def remove(type_: str, **match: Any) -> Callable[[Resources], Resources]:
    def mutate(resources: Resources) -> Resources:
        target = find(resources, type_, **match)
        return [r for r in resources if r is not target]

    return mutate


PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
DATASET_MEMBER = "gcp:bigquery/datasetIamMember:DatasetIamMember"
JOB = "gcp:cloudrunv2/job:Job"
API_JOB = {"name": "toltek-shop-api-prd"}
API_JOB_USER = {"role": "roles/bigquery.jobUser", "member": API_SA}
API_EDITOR = {"datasetId": "raw_shop_api", "member": API_SA}
BUCKET = "gcp:storage/bucket:Bucket"
REPO = "gcp:artifactregistry/repository:Repository"
LAKE_REPO = {"project": LAKE}
ENV_TOKEN = "template.template.containers.0.envs.3"

MUTATIONS: list[tuple[str, str, Callable[[Resources], Resources]]] = [
    ("iam-no-basic-roles", "roles/editor on the datalake project for pl-shop-api",
     add(PROJECT_MEMBER, "editor", {"project": LAKE, "role": "roles/editor", "member": API_SA})),
    ("iam-no-project-admin-roles", "pl-shop-api's jobUser becomes bigquery.admin", change(PROJECT_MEMBER, API_JOB_USER, "role", "roles/bigquery.admin")),
    ("iam-no-project-impersonation", "… becomes iam.serviceAccountUser", change(PROJECT_MEMBER, API_JOB_USER, "role", "roles/iam.serviceAccountUser")),
    ("iam-no-project-bigquery-data-roles", "… becomes project-level dataViewer", change(PROJECT_MEMBER, API_JOB_USER, "role", "roles/bigquery.dataViewer")),
    ("iam-secret-accessor-on-secrets-only", "… becomes project-level secretAccessor", change(PROJECT_MEMBER, API_JOB_USER, "role", "roles/secretmanager.secretAccessor")),
    ("iam-run-invoker-on-jobs-only", "… becomes project-level run.invoker", change(PROJECT_MEMBER, API_JOB_USER, "role", "roles/run.invoker")),
    ("iam-no-default-service-accounts", "raw_shop_api editor granted to the default compute account", change(DATASET_MEMBER, API_EDITOR, "member", DEFAULT)),
    ("iam-no-user-principals", "raw_shop_api editor granted to a user", change(DATASET_MEMBER, API_EDITOR, "member", "user:ana@toltek.example")),
    ("iam-no-personal-accounts", "raw_shop_api editor granted to a gmail group", change(DATASET_MEMBER, API_EDITOR, "member", "group:friends@gmail.com")),
    ("iam-no-public-buckets", "landing bucket readable by allUsers",
     change("gcp:storage/bucketIAMMember:BucketIAMMember", {"role": "roles/storage.objectViewer"}, "member", "allUsers")),
    ("iam-no-public-datasets", "raw_shop_api editable by allAuthenticatedUsers", change(DATASET_MEMBER, API_EDITOR, "member", "allAuthenticatedUsers")),
    ("iam-no-public-tables", "a table readable by allUsers",
     add("gcp:bigquery/iamMember:IamMember", "public-table", {"project": LAKE, "datasetId": "raw_shop_api", "tableId": "orders", "role": "roles/bigquery.dataViewer", "member": "allUsers"})),
    ("iam-no-public-repositories", "the image repository readable by allUsers",
     add("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "public-repo", {"project": LAKE, "location": "europe-west1", "repository": "toltek", "role": "roles/artifactregistry.reader", "member": "allUsers"})),
    ("iam-no-public-run-jobs", "shop_api's job invokable by allUsers",
     change("gcp:cloudrunv2/jobIamMember:JobIamMember", {"name": "toltek-shop-api-prd", "role": "roles/run.invoker"}, "member", "allUsers")),
    ("iam-no-public-run-services", "a Cloud Run service invokable by allUsers",
     add("gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "public-service", {"project": LAKE, "location": "europe-west1", "name": "api", "role": "roles/run.invoker", "member": "allUsers"})),
    ("iam-no-public-secrets", "the API token readable by allUsers",
     change("gcp:secretmanager/secretIamMember:SecretIamMember", {"secretId": "shop-api-token"}, "member", "allUsers")),
    ("iam-additive-members-only", "raw_shop_api's editor grant made authoritative", lambda rs: [
        dataclasses.replace(r, type="gcp:bigquery/datasetIamBinding:DatasetIamBinding",
                            raw_inputs={**{k: v for k, v in r.raw_inputs.items() if k != "member"}, "members": [r.raw_inputs["member"]]})
        if r is find(rs, DATASET_MEMBER, **API_EDITOR) else r for r in rs]),
    ("sa-no-keys", "a key for pl-shop-api", add("gcp:serviceaccount/key:Key", "api-key", {"serviceAccountId": "pl-shop-api"})),
    ("run-dedicated-service-account", "shop_api's job runs as the default compute account",
     change(JOB, API_JOB, "template.template.serviceAccount", "123456789-compute@developer.gserviceaccount.com")),
    ("run-no-plaintext-secrets", "shop_api's token as a plain variable",
     change(JOB, API_JOB, ENV_TOKEN, {"name": "SOURCES__SHOP_API__ACCESS_TOKEN", "value": "sample-shop-api-token-5f1c"})),
    ("run-image-by-digest", "shop_api's job runs an image by tag",
     change(JOB, API_JOB, "template.template.containers.0.image", f"europe-west1-docker.pkg.dev/{LAKE}/toltek/pipeline:latest")),
    ("run-job-no-overlap", "shop_api's job runs 4 tasks in parallel", change(JOB, API_JOB, "template.parallelism", 4)),
    ("scheduler-oauth-dedicated-account", "shop_api's schedule calls without a token",
     change("gcp:cloudscheduler/job:Job", {"name": "toltek-shop-api-prd"}, "httpTarget.oauthToken", None)),
    ("scheduler-invoker-on-target-job", "shop_api's invoker grant removed",
     remove("gcp:cloudrunv2/jobIamMember:JobIamMember", name="toltek-shop-api-prd", role="roles/run.invoker")),
    ("repo-immutable-tags", "mutable tags", change(REPO, LAKE_REPO, "dockerConfig.immutableTags", False)),
    ("repo-cleanup-policy", "cleanup in dry-run", change(REPO, LAKE_REPO, "cleanupPolicyDryRun", True)),
    ("bucket-uniform-access", "object ACLs allowed", change(BUCKET, {}, "uniformBucketLevelAccess", False)),
    ("bucket-public-access-prevention", "public access prevention inherited", change(BUCKET, {}, "publicAccessPrevention", "inherited")),
    ("bucket-versioning", "versioning off", change(BUCKET, {}, "versioning.enabled", False)),
    ("registry-pipeline-grants", "pl-shop-api edits raw_shop_files instead", change(DATASET_MEMBER, API_EDITOR, "datasetId", "raw_shop_files")),
    ("registry-one-job-per-pipeline-account", "shop_files' job runs as pl-shop-api",
     change(JOB, {"name": "toltek-shop-files-prd"}, "template.template.serviceAccount", f"pl-shop-api@{LAKE}.iam.gserviceaccount.com")),
    ("registry-cross-project-grants", "dbt reads a staging dataset of the datalake",
     change(DATASET_MEMBER, {"datasetId": "raw_shop_api", "role": "roles/bigquery.dataViewer"}, "datasetId", "raw_shop_api_staging")),
    ("dataset-cmek", "raw_shop_api without CMEK",
     change("gcp:bigquery/dataset:Dataset", {"datasetId": "raw_shop_api"}, "defaultEncryptionConfiguration", None)),
    ("bucket-cmek", "landing bucket without CMEK", change(BUCKET, {}, "encryption", None)),
    ("kms-key-rotation", "key rotated yearly", change("gcp:kms/cryptoKey:CryptoKey", {}, "rotationPeriod", "31536000s")),
    ("dataset-deletion-protection", "raw_shop_api unprotected", change("gcp:bigquery/dataset:Dataset", {"datasetId": "raw_shop_api"}, "", None, protect=False)),
    ("labels-cost-attribution", "raw_shop_api unlabelled", change("gcp:bigquery/dataset:Dataset", {"datasetId": "raw_shop_api"}, "labels", None)),
    ("bucket-noncurrent-version-expiry", "old versions kept forever", change(BUCKET, {}, "lifecycleRules", None)),
    ("audit-logging-all-services", "warehouse without audit logs", remove("gcp:projects/iAMAuditConfig:IAMAuditConfig", project=DWH)),
    ("job-failure-alert", "shop_api's alert removed", remove("gcp:monitoring/alertPolicy:AlertPolicy", displayName="toltek-shop-api-prd failed")),
    ("iam-known-roles", "pl-shop-api's jobUser becomes a role the pack has no permissions for",
     change(PROJECT_MEMBER, API_JOB_USER, "role", "roles/bigquery.metadataViewer")),
    ("iam-custom-role-risky-permissions", "a custom role that can act as any service account",
     add("gcp:projects/iAMCustomRole:IAMCustomRole", "runner", {"project": LAKE, "roleId": "runner", "title": "Runner", "permissions": ["iam.serviceAccounts.actAs"]})),
    ("iam-access-changes-stay-in-project", "dbt (warehouse) owns raw_shop_api (datalake)",
     change(DATASET_MEMBER, {"datasetId": "raw_shop_api", "role": "roles/bigquery.dataViewer"}, "role", "roles/bigquery.dataOwner")),
    ("iam-grants-resolvable", "the token's accessor grant names its secret only after apply",
     change("gcp:secretmanager/secretIamMember:SecretIamMember", {"secretId": "shop-api-token"}, "secretId", UNKNOWN)),
    ("iam-no-domain-principals", "raw_shop_api editor granted to a whole domain", change(DATASET_MEMBER, API_EDITOR, "member", "domain:toltek.example")),
    ("iam-no-federated-principals", "raw_shop_api editor granted to a workload identity pool",
     change(DATASET_MEMBER, API_EDITOR, "member", "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/ci/*")),
    ("iam-no-external-service-accounts", "raw_shop_api editor granted to a vendor's account",
     change(DATASET_MEMBER, API_EDITOR, "member", "serviceAccount:etl@vendor-project.iam.gserviceaccount.com")),
    ("iam-groups-read-only", "raw_shop_api editor granted to a group", change(DATASET_MEMBER, API_EDITOR, "member", "group:analysts@toltek.example")),
    ("iam-no-public-anywhere", "the datalake's jobUser granted to allAuthenticatedUsers", change(PROJECT_MEMBER, API_JOB_USER, "member", "allAuthenticatedUsers")),
    ("secret-no-version-in-code", "the API token's value written by the program",
     add("gcp:secretmanager/secretVersion:SecretVersion", "token-v1", {"secret": f"projects/{LAKE}/secrets/shop-api-token", "secretData": "sample-token"})),
    ("iam-principal-allowance", "pl-shop-files reads the whole landing bucket (no prefix condition)",
     change("gcp:storage/bucketIAMMember:BucketIAMMember", {"role": "roles/storage.objectViewer"}, "condition", None)),
    ("monitoring-alert-notifies", "shop_api's freshness alert notifies nobody",
     change("gcp:monitoring/alertPolicy:AlertPolicy", {"displayName": "toltek-shop-api-prd stale"}, "notificationChannels", [])),
    ("monitoring-alert-enabled", "shop_files' failure alert disabled",
     change("gcp:monitoring/alertPolicy:AlertPolicy", {"displayName": "toltek-shop-files-prd failed"}, "enabled", False)),
    ("logging-metric-scoped", "shop_api's rows metric counts every summary of the project",
     change("gcp:logging/metric:Metric", {"name": "toltek/shop_api/rows_loaded"}, "filter", 'jsonPayload.toltek.event="summary"')),
    ("monitoring-dashboards-safe", "a token pasted into the dashboard's heading",
     lambda rs: change("gcp:monitoring/dashboard:Dashboard", {}, "dashboardJson",
                       find(rs, "gcp:monitoring/dashboard:Dashboard").raw_inputs["dashboardJson"].replace("Pipelines of the", "ya29.a0AfH6SMBx3jk0_lqLx8Rt2mPq Pipelines of the"))(rs)),
    ("pipeline-freshness-alert", "shop_sheets' freshness alert waits a day instead of its 100 hours",
     change("gcp:monitoring/alertPolicy:AlertPolicy", {"displayName": "toltek-shop-sheets-prd stale"}, "conditions.0.conditionPrometheusQueryLanguage.query",
            'absent_over_time(logging_googleapis_com:user_toltek_shop_sheets_rows_loaded_count{monitored_resource="cloud_run_job"}[86400s])')),
    ("pack-known-resource-types", "a Compute VM appended to the program",
     add("gcp:compute/instance:Instance", "debug-vm", {"project": LAKE, "zone": "europe-west1-b", "machineType": "e2-small"})),
    ("iam-no-convenience-principals", "the API token readable by every viewer of the datalake project",
     change("gcp:secretmanager/secretIamMember:SecretIamMember", {"secretId": "shop-api-token"}, "member", f"projectViewer:{LAKE}")),
    ("run-service-invoker-iam", "a Cloud Run service of its own account, by digest, with the invoker check off",
     lambda rs: add("gcp:cloudrunv2/service:Service", "hook", {
         "project": LAKE, "location": "europe-west1", "name": "hook", "invokerIamDisabled": True, "ingress": "INGRESS_TRAFFIC_ALL",
         "template": {"serviceAccount": f"pl-shop-api@{LAKE}.iam.gserviceaccount.com",
                      "containers": [{"image": find(rs, JOB, **API_JOB).raw_inputs["template"]["template"]["containers"][0]["image"]}]},
     })(rs)),
    ("audit-logging-no-exemptions", "pl-shop-api exempted from the datalake's data access logs",
     change("gcp:projects/iAMAuditConfig:IAMAuditConfig", {"project": LAKE}, "auditLogConfigs.1.exemptedMembers", [API_SA])),
]
