"""Every rule's fixtures: at least one compliant case and two violating ones."""

from __future__ import annotations

import json

from policy_fixtures import DASHBOARD_JSON, DEFAULT_COMPUTE, SA, C, ok

from infra.plan import UNKNOWN

GMAIL_GROUP = "group:friends@gmail.com"
GROUP = "group:analysts@toltek.example"
VIEWER = "roles/bigquery.dataViewer"
POOL = "projects/123456789/locations/global/workloadIdentityPools/github"
AIZA = "AIza" + "B" * 35
ENV = "template.template.containers.0.envs"
IMAGE = "template.template.containers.0.image"
POLICY = json.dumps({"bindings": [{"role": "roles/bigquery.dataViewer", "members": [SA]}]})

CASES = [
    ok("iam-no-basic-roles", "project_member"),
    C("iam-no-basic-roles", "project_member", {"role": "roles/editor"}, expect=(
        "iam-no-basic-roles", "iam-no-project-admin-roles", "iam-no-project-bigquery-data-roles", "iam-no-project-impersonation",
        "iam-run-invoker-on-jobs-only", "iam-secret-accessor-on-secrets-only")),
    C("iam-no-basic-roles", "dataset_member", {"role": "roles/owner"}),
    C("iam-no-basic-roles", "bucket_member", {"role": "roles/viewer"}),

    ok("iam-no-project-admin-roles", "dataset_member", {"role": "roles/bigquery.admin"}),
    C("iam-no-project-admin-roles", "project_member", {"role": "roles/storage.admin"},
      expect=("iam-no-project-admin-roles", "iam-no-project-bigquery-data-roles", "iam-no-project-impersonation")),
    C("iam-no-project-admin-roles", "project_member", {"role": "roles/resourcemanager.projectIamAdmin"}),

    ok("iam-no-project-impersonation", "dataset_member"),
    C("iam-no-project-impersonation", "sa_member", expect=("iam-no-project-impersonation", "iam-groups-read-only")),
    C("iam-no-project-impersonation", "project_member", {"role": "roles/iam.serviceAccountUser"}),
    C("iam-no-project-impersonation", "project_member", {"role": "roles/iam.serviceAccountTokenCreator"}),

    ok("iam-no-project-bigquery-data-roles", "dataset_member"),
    C("iam-no-project-bigquery-data-roles", "project_member", {"role": "roles/bigquery.dataViewer"}),
    C("iam-no-project-bigquery-data-roles", "project_member", {"role": "roles/bigquery.dataEditor"}),

    ok("iam-secret-accessor-on-secrets-only", "secret_member"),
    C("iam-secret-accessor-on-secrets-only", "project_member", {"role": "roles/secretmanager.secretAccessor"}),
    C("iam-secret-accessor-on-secrets-only", "project_member", {"project": None, "folder": "folders/123456789", "role": "roles/secretmanager.secretAccessor"},
      type="gcp:folder/iAMMember:IAMMember"),

    ok("iam-run-invoker-on-jobs-only", "job_member"),
    C("iam-run-invoker-on-jobs-only", "project_member", {"role": "roles/run.invoker"}),
    C("iam-run-invoker-on-jobs-only", "project_member", {"role": "roles/run.invoker", "member": None, "members": [SA]},
      type="gcp:projects/iAMBinding:IAMBinding", expect=("iam-run-invoker-on-jobs-only", "iam-additive-members-only")),

    ok("iam-no-default-service-accounts", "project_member"),
    C("iam-no-default-service-accounts", "project_member", {"member": DEFAULT_COMPUTE}),
    C("iam-no-default-service-accounts", "dataset_member", {"member": "serviceAccount:fixture-lake@appspot.gserviceaccount.com"}),

    ok("iam-no-user-principals", "dataset_member", {"member": "group:data-eng@toltek.example", "role": "roles/bigquery.dataViewer"}),
    C("iam-no-user-principals", "dataset_member", {"member": "user:ana@toltek.example"}),
    C("iam-no-user-principals", "project_member", {"member": "user:bob@toltek.example"}),

    ok("iam-no-personal-accounts", "dataset_member", {"member": "group:data-eng@toltek.example", "role": "roles/bigquery.dataViewer"}),
    C("iam-no-personal-accounts", "dataset_member", {"member": GMAIL_GROUP, "role": "roles/bigquery.dataViewer"}),
    C("iam-no-personal-accounts", "project_member", {"member": "user:ana@gmail.com"},
      expect=("iam-no-personal-accounts", "iam-no-user-principals")),

    ok("iam-no-public-buckets", "bucket_member"),
    C("iam-no-public-buckets", "bucket_member", {"member": "allUsers"}),
    C("iam-no-public-buckets", "bucket_member", {"member": "allAuthenticatedUsers"}),

    ok("iam-no-public-datasets", "dataset_member"),
    C("iam-no-public-datasets", "dataset_member", {"member": "allUsers"}),
    C("iam-no-public-datasets", "dataset_member", {"member": None, "role": "READER", "specialGroup": "allAuthenticatedUsers"},
      type="gcp:bigquery/datasetAccess:DatasetAccess"),

    ok("iam-no-public-tables", "table_member"),
    C("iam-no-public-tables", "table_member", {"member": "allUsers"}),
    C("iam-no-public-tables", "table_member", {"member": "allAuthenticatedUsers"}),

    ok("iam-no-public-repositories", "repository_member"),
    C("iam-no-public-repositories", "repository_member", {"member": "allUsers"}),
    C("iam-no-public-repositories", "repository_member", {"member": "allAuthenticatedUsers"}),

    ok("iam-no-public-run-jobs", "job_member"),
    C("iam-no-public-run-jobs", "job_member", {"member": "allUsers"}),
    C("iam-no-public-run-jobs", "job_member", {"member": "allAuthenticatedUsers"}),

    ok("iam-no-public-run-services", "service_member"),
    C("iam-no-public-run-services", "service_member", {"member": "allUsers"}),
    C("iam-no-public-run-services", "service_member", {"name": None, "service": "api", "member": "allUsers"},
      type="gcp:cloudrun/iamMember:IamMember"),

    ok("iam-no-public-secrets", "secret_member"),
    C("iam-no-public-secrets", "secret_member", {"member": "allUsers"}),
    C("iam-no-public-secrets", "secret_member", {"member": "allAuthenticatedUsers"}),

    ok("iam-additive-members-only", "project_member"),
    C("iam-additive-members-only", "project_member", {"member": None, "members": [SA]}, type="gcp:projects/iAMBinding:IAMBinding"),
    C("iam-additive-members-only", "dataset_member", {"member": None, "role": None, "policyData": POLICY},
      type="gcp:bigquery/datasetIamPolicy:DatasetIamPolicy"),
    C("iam-additive-members-only", "dataset", {"accesses": [{"role": "READER", "groupByEmail": "data-eng@toltek.example"}]}),

    ok("iam-known-roles", "dataset_member"),
    ok("iam-known-roles", "dataset_member", {"role": "projects/fixture-lake/roles/ordersReader"}, extra=("custom_role",)),
    C("iam-known-roles", "dataset_member", {"role": "roles/bigquery.metadataViewer"}),
    C("iam-known-roles", "project_member", {"role": "projects/fixture-lake/roles/undefinedRole"}),

    ok("iam-custom-role-risky-permissions", "custom_role"),
    C("iam-custom-role-risky-permissions", "custom_role", {"permissions": ["bigquery.datasets.get", "bigquery.datasets.update"]}),
    C("iam-custom-role-risky-permissions", "custom_role", {"permissions": ["secretmanager.versions.add"]}),
    C("iam-custom-role-risky-permissions", "custom_role", {"permissions": ["iam.serviceAccounts.actAs", "run.jobs.get"]}),
    C("iam-custom-role-risky-permissions", "custom_role", {"permissions": ["bigquery.tables.getData"]}),
    C("iam-custom-role-risky-permissions", "custom_role", {"project": None, "orgId": "1234567890", "permissions": ["secretmanager.versions.access"]},
      type="gcp:organizations/iAMCustomRole:IAMCustomRole"),

    ok("iam-access-changes-stay-in-project", "dataset_member", {"role": "roles/bigquery.dataOwner"}),
    C("iam-access-changes-stay-in-project", "dataset_member",
      {"role": "roles/bigquery.dataOwner", "member": "serviceAccount:toltek-copier@other-dwh.iam.gserviceaccount.com"},
      expect=("iam-access-changes-stay-in-project", "iam-no-external-service-accounts")),
    C("iam-access-changes-stay-in-project", "dataset_member", {"role": "roles/bigquery.dataOwner", "member": GROUP},
      expect=("iam-access-changes-stay-in-project", "iam-groups-read-only")),

    ok("iam-grants-resolvable", "secret_member", {"secretId": UNKNOWN}, deps={"secretId": ("secret",)}, extra=("secret",)),
    ok("iam-grants-resolvable", "dataset_member", {"member": UNKNOWN}, deps={"member": ("account",)}, extra=("account",)),
    C("iam-grants-resolvable", "secret_member", {"secretId": UNKNOWN}),
    C("iam-grants-resolvable", "dataset_member", {"member": UNKNOWN}),

    ok("iam-no-domain-principals", "dataset_member"),
    C("iam-no-domain-principals", "dataset_member", {"member": "domain:toltek.example", "role": VIEWER}),
    C("iam-no-domain-principals", "project_member", {"member": "domain:@toltek.example"}),
    C("iam-no-domain-principals", "dataset", {"accesses": [{"role": "READER", "domain": "toltek.example"}]},
      expect=("iam-no-domain-principals", "iam-additive-members-only")),

    ok("iam-no-federated-principals", "dataset_member"),
    C("iam-no-federated-principals", "dataset_member", {"member": f"principalSet://iam.googleapis.com/{POOL}/*", "role": VIEWER}),
    C("iam-no-federated-principals", "project_member", {"member": f"principal://iam.googleapis.com/{POOL}/subject/repo:toltek/data:ref:refs/heads/main"}),

    ok("iam-no-external-service-accounts", "dataset_member",
       {"member": "serviceAccount:service-123456789@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com", "role": VIEWER}),
    C("iam-no-external-service-accounts", "dataset_member", {"member": "serviceAccount:etl@vendor-project.iam.gserviceaccount.com", "role": VIEWER}),
    C("iam-no-external-service-accounts", "bucket_member", {"member": "serviceAccount:reader@another-team.iam.gserviceaccount.com"}),

    ok("iam-groups-read-only", "dataset_member", {"member": GROUP, "role": VIEWER}),
    C("iam-groups-read-only", "dataset_member", {"member": GROUP}),
    C("iam-groups-read-only", "secret_member", {"member": GROUP}),
    C("iam-groups-read-only", "secret_member", {"member": GROUP, "role": "roles/secretmanager.secretVersionManager"}),
    C("iam-groups-read-only", "secret_member", {"member": GROUP, "role": "roles/secretmanager.secretVersionAdder"}),

    ok("iam-no-convenience-principals", "secret_member"),
    C("iam-no-convenience-principals", "secret_member", {"member": "projectViewer:fixture-lake"}),
    C("iam-no-convenience-principals", "bucket_member", {"member": "projectEditor:fixture-lake"}),
    C("iam-no-convenience-principals", "dataset_member", {"member": None, "role": "WRITER", "specialGroup": "projectWriters"},
      type="gcp:bigquery/datasetAccess:DatasetAccess"),

    ok("iam-no-public-anywhere", "project_member"),
    C("iam-no-public-anywhere", "project_member", {"member": "allAuthenticatedUsers"}),
    C("iam-no-public-anywhere", "dataset_member", {"datasetId": None, "topic": "orders", "member": "allUsers", "role": "roles/pubsub.subscriber"},
      type="gcp:pubsub/topicIAMMember:TopicIAMMember", expect=("iam-no-public-anywhere", "iam-known-roles")),

    ok("secret-no-version-in-code", "secret"),
    C("secret-no-version-in-code", "secret", {"secretId": None, "labels": None, "replication": None,
                                               "secret": "projects/fixture-lake/secrets/orders-token", "secretData": "hunter2"},
      type="gcp:secretmanager/secretVersion:SecretVersion"),
    C("secret-no-version-in-code", "secret", {"secretId": None, "labels": None, "replication": None,
                                               "secret": "projects/fixture-lake/locations/europe-west1/secrets/orders-token", "secretData": "hunter2"},
      type="gcp:secretmanager/regionalSecretVersion:RegionalSecretVersion"),

    ok("sa-no-keys", "account"),
    C("sa-no-keys", "account", {"accountId": None, "serviceAccountId": "pl-orders"}, type="gcp:serviceaccount/key:Key"),
    C("sa-no-keys", "account", {"accountId": None, "serviceAccountEmail": "pl-orders@fixture-lake.iam.gserviceaccount.com"},
      type="gcp:storage/hmacKey:HmacKey"),

    ok("run-dedicated-service-account", "job"),
    ok("run-dedicated-service-account", "service"),
    C("run-dedicated-service-account", "job", {"template.template.serviceAccount": None}),
    C("run-dedicated-service-account", "job", {"template.template.serviceAccount": "123456789-compute@developer.gserviceaccount.com"}),
    C("run-dedicated-service-account", "service", {"template.serviceAccount": None}),

    ok("run-service-invoker-iam", "service"),
    ok("run-service-invoker-iam", "service", {"invokerIamDisabled": False, "ingress": "INGRESS_TRAFFIC_ALL"}),
    C("run-service-invoker-iam", "service", {"invokerIamDisabled": True}),
    C("run-service-invoker-iam", "service", {"invokerIamDisabled": True, "ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY"}),

    ok("run-no-plaintext-secrets", "job"),
    C("run-no-plaintext-secrets", "job", {f"{ENV}.1": {"name": "SOURCES__ORDERS__API_TOKEN", "value": "s3cr3t-value"}}),
    C("run-no-plaintext-secrets", "job", {f"{ENV}.0.value": AIZA}),
    C("run-no-plaintext-secrets", "job", {f"{ENV}.0.value": "postgresql://etl:Tr0ub4dor@db.internal:5432/shop"}),
    C("run-no-plaintext-secrets", "job", {f"{ENV}.0.value": "Zx8q4LmP0vR7tY2wK9sD3fG6hJ1nB5cV"}),
    C("run-no-plaintext-secrets", "job", {"template.template.containers.0.args": ["run", "--token=ghp_" + "a1B2" * 9]}),
    C("run-no-plaintext-secrets", "service", {"template.containers.0.envs.0.value": "-----BEGIN RSA PRIVATE KEY-----"}),

    ok("run-image-by-digest", "job"),
    C("run-image-by-digest", "job", {IMAGE: "europe-west1-docker.pkg.dev/fixture-lake/toltek/pipeline:latest"}),
    C("run-image-by-digest", "service", {"template.containers.0.image": "python:3.11"}),

    ok("run-job-no-overlap", "job"),
    C("run-job-no-overlap", "job", {"template.taskCount": 3}),
    C("run-job-no-overlap", "job", {"template.parallelism": 2}),

    ok("scheduler-oauth-dedicated-account", "scheduler"),
    C("scheduler-oauth-dedicated-account", "scheduler", {"httpTarget.oauthToken": None}),
    C("scheduler-oauth-dedicated-account", "scheduler", {"httpTarget.uri": "https://hooks.example.com/run"}),
    C("scheduler-oauth-dedicated-account", "scheduler", {"httpTarget.uri": "https://run.googleapis.com.example.net/v2/run"}),
    C("scheduler-oauth-dedicated-account", "scheduler",
      {"httpTarget.oauthToken.serviceAccountEmail": "123456789-compute@developer.gserviceaccount.com"},
      expect=("scheduler-oauth-dedicated-account", "scheduler-invoker-on-target-job")),

    ok("scheduler-invoker-on-target-job", "scheduler"),
    C("scheduler-invoker-on-target-job", "scheduler", drop=("job_member",)),
    C("scheduler-invoker-on-target-job", "scheduler",
      {"httpTarget.uri": "https://run.googleapis.com/v2/projects/fixture-lake/locations/europe-west1/jobs/other:run"}),

    ok("repo-immutable-tags", "repository"),
    C("repo-immutable-tags", "repository", {"dockerConfig.immutableTags": False}),
    C("repo-immutable-tags", "repository", {"dockerConfig": None}),

    ok("repo-cleanup-policy", "repository"),
    C("repo-cleanup-policy", "repository", {"cleanupPolicies": None}),
    C("repo-cleanup-policy", "repository", {"cleanupPolicyDryRun": True}),

    ok("bucket-uniform-access", "bucket"),
    C("bucket-uniform-access", "bucket", {"uniformBucketLevelAccess": False}),
    C("bucket-uniform-access", "bucket", {"uniformBucketLevelAccess": None}),

    ok("bucket-public-access-prevention", "bucket"),
    C("bucket-public-access-prevention", "bucket", {"publicAccessPrevention": "inherited"}),
    C("bucket-public-access-prevention", "bucket", {"publicAccessPrevention": None}),

    ok("bucket-versioning", "bucket"),
    ok("bucket-versioning", "bucket", {"versioning.enabled": False, "labels": {"app": "toltek", "env": "prd", "ephemeral": "true"}}),
    C("bucket-versioning", "bucket", {"versioning.enabled": False}),
    C("bucket-versioning", "bucket", {"versioning": None}),

    ok("dataset-cmek", "dataset"),
    C("dataset-cmek", "dataset", {"defaultEncryptionConfiguration": None}),
    C("dataset-cmek", "dataset", {"defaultEncryptionConfiguration.kmsKeyName": ""}),

    ok("bucket-cmek", "bucket"),
    C("bucket-cmek", "bucket", {"encryption": None}),
    C("bucket-cmek", "bucket", {"encryption.defaultKmsKeyName": ""}),

    ok("kms-key-rotation", "kms_key"),
    C("kms-key-rotation", "kms_key", {"rotationPeriod": "31536000s"}),
    C("kms-key-rotation", "kms_key", {"rotationPeriod": None}),

    ok("dataset-deletion-protection", "dataset"),
    C("dataset-deletion-protection", "dataset", protect=False),
    C("dataset-deletion-protection", "dataset", {"deleteContentsOnDestroy": True}),

    ok("labels-cost-attribution", "secret"),
    C("labels-cost-attribution", "dataset", {"labels": None}),
    C("labels-cost-attribution", "secret", {"labels.env": None}),
    C("labels-cost-attribution", "job", {"labels": {"app": "toltek"}}),

    ok("bucket-noncurrent-version-expiry", "bucket"),
    C("bucket-noncurrent-version-expiry", "bucket", {"lifecycleRules": None}),
    C("bucket-noncurrent-version-expiry", "bucket", {"lifecycleRules.0.action.type": "SetStorageClass"}),

    ok("audit-logging-no-exemptions", "audit_cfg"),
    C("audit-logging-no-exemptions", "audit_cfg",
      {"auditLogConfigs": [{"logType": "ADMIN_READ"}, {"logType": "DATA_READ", "exemptedMembers": [GROUP]}, {"logType": "DATA_WRITE"}]}, drop=("audit",)),
    C("audit-logging-no-exemptions", "audit_cfg", {"service": "secretmanager.googleapis.com", "auditLogConfigs": [{"logType": "DATA_READ", "exemptedMembers": [SA]}]}),

    ok("audit-logging-all-services", "project_member"),
    C("audit-logging-all-services", "project_member", drop=("audit",)),
    C("audit-logging-all-services", "audit_cfg", {"service": "bigquery.googleapis.com"}, drop=("audit",)),
    C("audit-logging-all-services", "audit_cfg", {"auditLogConfigs": [{"logType": "ADMIN_READ"}]}, drop=("audit",)),

    ok("job-failure-alert", "job"),
    C("job-failure-alert", "job", drop=("alert",)),
    C("job-failure-alert", "job", {"name": "toltek-other-prd"}),

    ok("monitoring-alert-notifies", "alert"),
    C("monitoring-alert-notifies", "alert", {"notificationChannels": []}),
    C("monitoring-alert-notifies", "alert", {"notificationChannels": None}),

    ok("monitoring-alert-enabled", "alert", {"enabled": True}),
    C("monitoring-alert-enabled", "alert", {"enabled": False}),
    C("monitoring-alert-enabled", "alert", {"conditions": []}),

    ok("logging-metric-scoped", "metric"),
    C("logging-metric-scoped", "metric", {"filter": None}),
    C("logging-metric-scoped", "metric", {"filter": 'jsonPayload.toltek.event="summary"'}),
    C("logging-metric-scoped", "metric", {"disabled": True}),

    ok("monitoring-dashboards-safe", "dashboard"),
    C("monitoring-dashboards-safe", "dashboard", {"dashboardJson": DASHBOARD_JSON.replace("Rows loaded per pipeline.", "token ghp_" + "a1B2" * 9)}),
    # A project of its own: the dashboard is all the stack has there (so it has no audit config either).
    C("monitoring-dashboards-safe", "dashboard", {"project": "someone-elses-project"}, expect=("monitoring-dashboards-safe", "audit-logging-all-services")),
    C("monitoring-dashboards-safe", "dashboard", {"dashboardJson": DASHBOARD_JSON[:-1]}),

    ok("pack-known-resource-types", "service"),  # a type a rule names is known
    C("pack-known-resource-types", "account", {"accountId": None, "name": "vm", "machineType": "e2-small", "zone": "europe-west1-b"},
      type="gcp:compute/instance:Instance"),
    C("pack-known-resource-types", "service", type="gcp:cloudrun/service:Service"),  # Cloud Run v1: no rules read it
]
