"""Corpus cases on IAM: scopes, roles by permission, unknown targets, principals."""

from __future__ import annotations

from corpus_model import OPTS, Case, collector, program, sa

CASES: list[Case] = []
case = collector(CASES)


# --- IAM scopes ---------------------------------------------------------------------------------
case("scope", "editor on the organization for the pipeline account (basic roles anywhere)", program(f'''
gcp.organizations.IAMMember("org-editor", org_id="123456789012", role="roles/editor", member={sa("pl-shop-api")}, {OPTS})
'''), expect=("iam-no-basic-roles", "iam-principal-allowance"))
case("scope", "owner on a folder for an admin group (folder level, Trivy's folder rules)", program(f'''
gcp.folder.IAMMember("folder-owner", folder="folders/987654321", role="roles/owner", member="group:platform@toltek.example", {OPTS})
'''), expect=("iam-no-basic-roles", "iam-groups-read-only"))
case("scope", "token creator on a pipeline's account for the scheduler", program(f'''
gcp.serviceaccount.IAMMember(
    "scheduler-impersonates-api",
    service_account_id=jobs["shop_api"].account.name,
    role="roles/iam.serviceAccountTokenCreator",
    member={sa("toltek-scheduler")},
    {OPTS},
)
'''), expect=("iam-no-project-impersonation", "iam-principal-allowance"))
case("scope", "service account user on pl-shop-files for a developer group", program(f'''
gcp.serviceaccount.IAMMember(
    "devs-act-as-files",
    service_account_id=f"projects/{{cfg.datalake_project}}/serviceAccounts/pl-shop-files@{{cfg.datalake_project}}.iam.gserviceaccount.com",
    role="roles/iam.serviceAccountUser",
    member="group:data-eng@toltek.example",
    {OPTS},
)
'''), expect=("iam-no-project-impersonation", "iam-groups-read-only"))
case("scope", "KMS key decrypt for a pipeline account", program(f'''
gcp.kms.CryptoKeyIAMMember(
    "api-decrypts", crypto_key_id=lake.key.key.id, role="roles/cloudkms.cryptoKeyEncrypterDecrypter", member={sa("pl-shop-api")}, {OPTS}
)
'''), expect=("iam-principal-allowance",))
case("scope", "KMS key ring admin for the scheduler (CIS 1.11 separation of duties)", program(f'''
gcp.kms.KeyRingIAMMember(
    "scheduler-ring-admin", key_ring_id=f"projects/{{cfg.datalake_project}}/locations/europe/keyRings/toltek",
    role="roles/cloudkms.admin", member={sa("toltek-scheduler")}, {OPTS}
)
'''), expect=("iam-principal-allowance",))
case("scope", "a billing account grant (a scope no rule listed)", program(f'''
gcp.billing.AccountIamMember("billing-editor", billing_account_id="012345-6789AB-CDEF01", role="roles/editor", member={sa("pl-shop-api")}, {OPTS})
'''), expect=("iam-no-basic-roles", "iam-principal-allowance"))
case("scope", "a Pub/Sub topic published by everyone", program(f'''
gcp.pubsub.TopicIAMMember("topic-public", topic="toltek-events", role="roles/pubsub.publisher", member="allUsers", {OPTS})
'''), expect=("iam-no-public-anywhere", "iam-known-roles"))
case("scope", "a regional secret readable by all authenticated users", program(f'''
gcp.secretmanager.RegionalSecretIamMember(
    "regional-secret-public", secret_id="shop-api-token", location="europe-west1",
    role="roles/secretmanager.secretAccessor", member="allAuthenticatedUsers", {OPTS}
)
'''), expect=("iam-no-public-secrets",))
case("scope", "authoritative project binding of jobUser (wipes service agents' grants)", program(f'''
gcp.projects.IAMBinding("job-users", project=cfg.datalake_project, role="roles/bigquery.jobUser", members=[{sa("pl-shop-api")}], {OPTS})
'''), expect=("iam-additive-members-only",))

# --- roles by permission -------------------------------------------------------------------------
case("permission", "a custom role with actAs for the pipeline account", program(f'''
runner = gcp.projects.IAMCustomRole("runner", role_id="toltekRunner", title="Runner", permissions=["run.jobs.run", "iam.serviceAccounts.actAs"], {OPTS})
gcp.projects.IAMMember("api-runner", project=cfg.datalake_project, role=runner.name, member={sa("pl-shop-api")}, {OPTS})
'''), expect=("iam-custom-role-risky-permissions", "iam-no-project-impersonation", "iam-principal-allowance"))
case("permission", "an organization custom role reading every secret", program(f'''
gcp.organizations.IAMCustomRole(
    "secret-reader", org_id="123456789012", role_id="secretReader", title="Secret reader",
    permissions=["secretmanager.versions.access", "secretmanager.secrets.list"], {OPTS}
)
gcp.projects.IAMMember(
    "api-secret-reader", project=cfg.datalake_project, role="organizations/123456789012/roles/secretReader", member={sa("pl-shop-api")}, {OPTS}
)
'''), expect=("iam-custom-role-risky-permissions", "iam-secret-accessor-on-secrets-only", "iam-principal-allowance"))
case("permission", "a custom role with getData granted on the project", program(f'''
reader = gcp.projects.IAMCustomRole("reader", role_id="rawReader", title="Raw reader", permissions=["bigquery.tables.getData", "bigquery.tables.list"], {OPTS})
gcp.projects.IAMMember("files-reads-all", project=cfg.datalake_project, role=reader.name, member={sa("pl-shop-files")}, {OPTS})
'''), expect=("iam-custom-role-risky-permissions", "iam-no-project-bigquery-data-roles", "iam-principal-allowance"))
case("permission", "a custom role the stack does not define", program(f'''
gcp.projects.IAMMember("api-custom", project=cfg.datalake_project, role="projects/toltek-datalake-prd/roles/legacyLoader", member={sa("pl-shop-api")}, {OPTS})
'''), expect=("iam-known-roles", "iam-principal-allowance"))
case("permission", "legacy bucket owner on the landing bucket (an admin role not named admin)", program(f'''
gcp.storage.BucketIAMMember("files-bucket-owner", bucket=lake.landing_bucket.name, role="roles/storage.legacyBucketOwner", member={sa("pl-shop-files")}, {OPTS})
'''), expect=("iam-principal-allowance",))
case("permission", "dbt owns a raw dataset of the datalake (data owner across projects)", program(f'''
gcp.bigquery.DatasetIamMember(
    "dbt-owns-raw", project=cfg.datalake_project, dataset_id="raw_shop_api", role="roles/bigquery.dataOwner",
    member=f"serviceAccount:toltek-dbt@{{cfg.warehouse_project}}.iam.gserviceaccount.com", {OPTS}
)
'''), expect=("iam-access-changes-stay-in-project", "iam-principal-allowance"))
case("permission", "run.developer on the project for the scheduler", program(f'''
gcp.projects.IAMMember("scheduler-developer", project=cfg.datalake_project, role="roles/run.developer", member={sa("toltek-scheduler")}, {OPTS})
'''), expect=("iam-run-invoker-on-jobs-only", "iam-principal-allowance"))
case("permission", "a role outside the pack's table (bigquery.resourceAdmin)", program(f'''
gcp.projects.IAMMember("api-resource-admin", project=cfg.datalake_project, role="roles/bigquery.resourceAdmin", member={sa("pl-shop-api")}, {OPTS})
'''), expect=("iam-known-roles", "iam-principal-allowance"))

# --- unknowns ------------------------------------------------------------------------------------
case("unknown", "shop_sheets reads the API token through the secret's id", program(f'''
gcp.secretmanager.SecretIamMember(
    "sheets-reads-token", secret_id=lake.secrets["shop-api-token"].id, role="roles/secretmanager.secretAccessor",
    member={sa("pl-shop-sheets")}, {OPTS}
)
'''), expect=("registry-pipeline-grants", "iam-principal-allowance"))
case("unknown", "shop_files edits raw_shop_api through the dataset's id", program(f'''
gcp.bigquery.DatasetIamMember(
    "files-edits-api", dataset_id=lake.datasets["raw_shop_api"].dataset_id, role="roles/bigquery.dataEditor",
    member={sa("pl-shop-files")}, {OPTS}
)
'''), expect=("registry-pipeline-grants", "iam-principal-allowance"))
case("unknown", "a new helper account, named by its computed member", program(f'''
helper = gcp.serviceaccount.Account("etl-helper", account_id="etl-helper", {OPTS})
gcp.bigquery.DatasetIamMember("helper-edits-api", dataset_id="raw_shop_api", role="roles/bigquery.dataEditor", member=helper.member, {OPTS})
'''), expect=("iam-principal-allowance",))
case("unknown", "a member chosen among two computed accounts", program(f'''
first = gcp.serviceaccount.Account("loader-a", account_id="loader-a", {OPTS})
second = gcp.serviceaccount.Account("loader-b", account_id="loader-b", {OPTS})
gcp.bigquery.DatasetIamMember(
    "loader-edits-api", dataset_id="raw_shop_api", role="roles/bigquery.dataEditor",
    member=pulumi.Output.all(first.email, second.email).apply(lambda e: f"serviceAccount:{{min(e)}}"), {OPTS}
)
'''), expect=("iam-grants-resolvable",))
case("unknown", "shop_files may start shop_api's job, named by the job's id", program(f'''
gcp.cloudrunv2.JobIamMember(
    "files-runs-api", name=jobs["shop_api"].job.id, location=cfg.region, role="roles/run.invoker", member={sa("pl-shop-files")}, {OPTS}
)
'''), expect=("iam-principal-allowance",))
case("unknown", "a grant on a secret created by the program, by its name", program(f'''
vendor = gcp.secretmanager.Secret("vendor-key", secret_id="vendor-key", replication={{"auto": {{}}}}, labels={{"app": "toltek", "env": cfg.env}}, {OPTS})
gcp.secretmanager.SecretIamMember("api-reads-vendor", secret_id=vendor.name, role="roles/secretmanager.secretAccessor", member={sa("pl-shop-api")}, {OPTS})
'''), expect=("registry-pipeline-grants", "iam-principal-allowance"))

# --- principals ----------------------------------------------------------------------------------
case("principal", "the whole company domain reads the marts", program(f'''
gcp.bigquery.DatasetIamMember(
    "company-reads-marts", project=cfg.warehouse_project, dataset_id="marts", role="roles/bigquery.dataViewer", member="domain:toltek.example", {OPTS}
)
'''), expect=("iam-no-domain-principals",))
case("principal", "a domain written with a leading at-sign edits raw data", program(f'''
gcp.bigquery.DatasetIamMember("domain-edits-raw", dataset_id="raw_shop_api", role="roles/bigquery.dataEditor", member="domain:@toltek.example", {OPTS})
'''), expect=("iam-no-domain-principals",))
case("principal", "every identity of a CI workload pool (principalSet wildcard)", program(f'''
gcp.projects.IAMMember(
    "ci-pool-jobs", project=cfg.datalake_project, role="roles/bigquery.jobUser",
    member="principalSet://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/*", {OPTS}
)
'''), expect=("iam-no-federated-principals",))
case("principal", "one federated subject impersonating a pipeline account", program(f'''
gcp.serviceaccount.IAMMember(
    "ci-acts-as-api", service_account_id=jobs["shop_api"].account.name, role="roles/iam.workloadIdentityUser",
    member="principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/subject/repo:toltek/data:ref:refs/heads/main",
    {OPTS}
)
'''), expect=("iam-no-federated-principals", "iam-no-project-impersonation"))
case("principal", "a vendor's service account reads raw data", program(f'''
gcp.bigquery.DatasetIamMember(
    "vendor-reads-raw", dataset_id="raw_shop_api", role="roles/bigquery.dataViewer",
    member="serviceAccount:etl@vendor-analytics.iam.gserviceaccount.com", {OPTS}
)
'''), expect=("iam-no-external-service-accounts",))
case("principal", "an analysts group edits raw data", program(f'''
gcp.bigquery.DatasetIamMember("analysts-edit-raw", dataset_id="raw_shop_api", role="roles/bigquery.dataEditor", member="group:analysts@toltek.example", {OPTS})
'''), expect=("iam-groups-read-only",))
case("principal", "a person reads the API token (AVD-GCP-0003)", program(f'''
gcp.secretmanager.SecretIamMember(
    "ana-reads-token", secret_id="shop-api-token", role="roles/secretmanager.secretAccessor", member="user:ana@toltek.example", {OPTS}
)
'''), expect=("iam-no-user-principals",))
case("principal", "a gmail account reads the marts (CIS 1.1)", program(f'''
gcp.bigquery.DatasetIamMember(
    "friend-reads-marts", project=cfg.warehouse_project, dataset_id="marts", role="roles/bigquery.dataViewer", member="user:data.friend@gmail.com", {OPTS}
)
'''), expect=("iam-no-personal-accounts", "iam-no-user-principals"))
case("principal", "the default compute account gets jobUser (CKV_GCP_46)", program(f'''
gcp.projects.IAMMember(
    "default-compute-jobs", project=cfg.datalake_project, role="roles/bigquery.jobUser",
    member="serviceAccount:112391120920-compute@developer.gserviceaccount.com", {OPTS}
)
'''), expect=("iam-no-default-service-accounts",))
case("principal", "an account of the stack of no known kind", program(f'''
gcp.projects.IAMMember("backfill-jobs", project=cfg.datalake_project, role="roles/bigquery.jobUser", member={sa("backfill")}, {OPTS})
'''), expect=("iam-principal-allowance",))


# --- found by review against CIS / Checkov classes (convenience principals, secret writes) -------
case("principal", "every viewer of the datalake project reads the API token (projectViewer:)", program(f'''
gcp.secretmanager.SecretIamMember(
    "token-project-viewers", project=cfg.datalake_project, secret_id="shop-api-token",
    role="roles/secretmanager.secretAccessor", member=f"projectViewer:{{cfg.datalake_project}}", {OPTS}
)
'''), expect=("iam-no-convenience-principals",))
case("principal", "the project's writers edit raw data (BigQuery's projectWriters)", program(f'''
gcp.bigquery.DatasetIamMember(
    "raw-project-writers", project=cfg.datalake_project, dataset_id="raw_shop_api", role="roles/bigquery.dataEditor",
    member="projectWriters", {OPTS}
)
'''), expect=("iam-no-convenience-principals",))
case("permission", "a stewards group with a custom role that edits dataset access (datasets.update)", program(f'''
steward = gcp.projects.IAMCustomRole(
    "raw-steward", project=cfg.datalake_project, role_id="rawSteward", title="Raw data steward",
    permissions=["bigquery.datasets.get", "bigquery.datasets.update", "bigquery.tables.list"], {OPTS}
)
gcp.bigquery.DatasetIamMember(
    "stewards-raw-api", project=cfg.datalake_project, dataset_id="raw_shop_api", role=steward.name,
    member="group:data-stewards@toltek.example", {OPTS}
)
'''), expect=("iam-custom-role-risky-permissions", "iam-groups-read-only", "iam-access-changes-stay-in-project"))
case("permission", "a group may add and destroy versions of the API token (secretVersionManager)", program(f'''
gcp.secretmanager.SecretIamMember(
    "token-version-managers", project=cfg.datalake_project, secret_id="shop-api-token",
    role="roles/secretmanager.secretVersionManager", member="group:data-eng@toltek.example", {OPTS}
)
'''), expect=("iam-groups-read-only",))
