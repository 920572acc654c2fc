"""An adversarial corpus: insecure changes made the way an engineer makes them.

Each case edits a copy of the repository — code appended to the real program, a new pipeline
file, an edit to the grant derivation, a new component — and is run through
`toltek policy -s prd` there. Every case must exit 1 naming the listed rules. The cases are
written from the classes of holes a review found and from CIS GCP 3.0, Checkov and Trivy GCP
rules, not from the pack's own rule list.
"""

from __future__ import annotations

from dataclasses import dataclass

PROGRAM = "infra/program.py"
GRANTS = "infra/grants.py"
ANCHOR = "    return outputs\n"

CLASSES = {
    "scope": "IAM scopes beyond project and dataset",
    "type": "resource types the pack has no rules for",
    "derivation": "edits to the code the pack checks (grant derivation)",
    "permission": "roles judged by permissions, custom roles",
    "unknown": "targets and members only known after apply",
    "principal": "principal kinds",
    "secret": "secrets in code",
    "registry": "least privilege the registry can express",
}


@dataclass(frozen=True)
class Edit:
    path: str
    old: str | None  # None: create the file (or append when it exists)
    new: str


@dataclass(frozen=True)
class Case:
    cls: str
    what: str
    edits: tuple[Edit, ...]
    expect: frozenset[str]

    @property
    def id(self) -> str:
        return f"{self.cls}: {self.what}"


def program(code: str) -> Edit:
    """Code appended to the program's build(), before it returns (cfg, lake_provider, lake, jobs in scope)."""
    body = "".join(f"    {line}\n" if line.strip() else "\n" for line in code.strip("\n").splitlines())
    return Edit(PROGRAM, ANCHOR, "    # --- change under review ---\n" + body + ANCHOR)


def edit(path: str, old: str, new: str) -> Edit:
    return Edit(path, old, new)


def new_file(path: str, text: str) -> Edit:
    return Edit(path, None, text)


CASES: list[Case] = []


def case(cls: str, what: str, *edits: Edit, expect: tuple[str, ...]) -> None:
    assert cls in CLASSES, cls
    CASES.append(Case(cls, what, tuple(edits), frozenset(expect)))


OPTS = "opts=pulumi.ResourceOptions(provider=lake_provider)"
PL = 'f"serviceAccount:pl-{name}@{cfg.datalake_project}.iam.gserviceaccount.com"'


def sa(name: str) -> str:
    return f'f"serviceAccount:{name}@{{cfg.datalake_project}}.iam.gserviceaccount.com"'


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

# --- resource types ------------------------------------------------------------------------------
case("type", "a debug VM in the datalake (CIS 4.x surface)", program(f'''
gcp.compute.Instance(
    "debug-vm", zone="europe-west1-b", machine_type="e2-small",
    boot_disk={{"initialize_params": {{"image": "debian-cloud/debian-12"}}}},
    network_interfaces=[{{"network": "default", "access_configs": [{{}}]}}], {OPTS}
)
'''), expect=("pack-known-resource-types",))
case("type", "a Cloud Run v1 service (no ingress or auth rules read it)", program(f'''
gcp.cloudrun.Service(
    "api-v1", location=cfg.region,
    template={{"spec": {{"containers": [{{"image": "europe-west1-docker.pkg.dev/x/toltek/api:latest"}}]}}}}, {OPTS}
)
'''), expect=("pack-known-resource-types",))
case("type", "a Cloud SQL instance with a public IP (CIS 6.5)", program(f'''
gcp.sql.DatabaseInstance(
    "shop-replica", database_version="POSTGRES_15", region=cfg.region, deletion_protection=False,
    settings={{"tier": "db-f1-micro", "ip_configuration": {{"ipv4_enabled": True, "authorized_networks": [{{"value": "0.0.0.0/0"}}]}}}}, {OPTS}
)
'''), expect=("pack-known-resource-types",))
case("type", "a firewall open to the internet on SSH (CIS 3.6)", program(f'''
gcp.compute.Firewall(
    "allow-ssh", network="default", source_ranges=["0.0.0.0/0"], allows=[{{"protocol": "tcp", "ports": ["22"]}}], {OPTS}
)
'''), expect=("pack-known-resource-types",))
case("type", "a Pub/Sub topic for load events", program(f'''
gcp.pubsub.Topic("load-events", {OPTS})
'''), expect=("pack-known-resource-types",))
case("type", "a new component: a debugging notebook bucket and object", new_file("infra/components/debugging.py", '''
"""Scratch space for debugging loads."""
import pulumi
import pulumi_gcp as gcp


class Debugging(pulumi.ComponentResource):
    def __init__(self, name, provider):
        super().__init__("toltek:debug:Debugging", name, None, None)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        gcp.storage.BucketObject(f"{name}-notes", bucket="toltek-landing-prd", name="debug/notes.txt", content="notes", opts=child)
'''), program('''
from infra.components.debugging import Debugging
Debugging("debugging", lake_provider)
'''), expect=("pack-known-resource-types",))
case("type", "a second-generation Cloud Function in the datalake", program(f'''
gcp.cloudfunctionsv2.Function("webhook", location=cfg.region, build_config={{"runtime": "python311", "entry_point": "main"}}, {OPTS})
'''), expect=("pack-known-resource-types",))
case("type", "a service account key for a local run (CIS 1.4)", program(f'''
gcp.serviceaccount.Key("api-key", service_account_id=jobs["shop_api"].account.name, {OPTS})
'''), expect=("sa-no-keys",))

# --- derivation edits ----------------------------------------------------------------------------
case("derivation", "pipelines get bigquery.user instead of jobUser (creates datasets)", edit(
    GRANTS, 'grants.append(Grant(lake, "project", lake, JOB_USER, sa))', 'grants.append(Grant(lake, "project", lake, "roles/bigquery.user", sa))'
), expect=("iam-principal-allowance",))
case("derivation", "pipelines own their datasets instead of editing them", edit(
    GRANTS, "grants = [Grant(lake, \"dataset\", dataset, DATA_EDITOR, sa) for dataset in datasets_of(pipeline)]",
    "grants = [Grant(lake, \"dataset\", dataset, DATA_OWNER, sa) for dataset in datasets_of(pipeline)]",
), expect=("iam-principal-allowance",))
case("derivation", "dbt writes the raw datasets", edit(
    GRANTS, 'grants.append(Grant(lake, "dataset", pipeline.dataset, DATA_VIEWER, dbt))',
    'grants.append(Grant(lake, "dataset", pipeline.dataset, DATA_EDITOR, dbt))',
), expect=("iam-principal-allowance",))
case("derivation", "the landing grant loses its prefix condition", edit(
    GRANTS, "OBJECT_VIEWER, sa, landing_condition(bucket, pipeline.landing_prefix)))", "OBJECT_VIEWER, sa))",
), expect=("iam-principal-allowance",))  # the stack still matches the derivation: only the table catches it
case("derivation", "the scheduler may start every job of the project", edit(
    GRANTS, 'grants.append(Grant(lake, "job", job, RUN_INVOKER, member(SCHEDULER_ACCOUNT, lake)))',
    'grants.append(Grant(lake, "project", lake, RUN_INVOKER, member(SCHEDULER_ACCOUNT, lake)))',
), expect=("iam-principal-allowance", "iam-run-invoker-on-jobs-only"))
case("derivation", "dbt queries in the datalake project too", edit(
    GRANTS, "grants = [Grant(dwh, \"project\", dwh, JOB_USER, dbt)]",
    "grants = [Grant(dwh, \"project\", dwh, JOB_USER, dbt), Grant(lake, \"project\", lake, JOB_USER, dbt)]",
), expect=("iam-principal-allowance", "registry-cross-project-grants"))
case("derivation", "pipelines read every raw dataset, not only theirs", edit(
    GRANTS, "    grants.append(Grant(lake, \"project\", lake, JOB_USER, sa))\n",
    "    grants.append(Grant(lake, \"project\", lake, JOB_USER, sa))\n"
    "    grants += [Grant(lake, \"dataset\", d, DATA_VIEWER, sa) for d in (\"raw_shop_api\", \"raw_shop_files\", \"raw_shop_sheets\") if d != pipeline.dataset]\n",
), expect=("iam-principal-allowance",))

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
case("principal", "a domain written with an @ edits raw data", program(f'''
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

# --- secrets in code -----------------------------------------------------------------------------
case("secret", "the API token's value written by the program", program(f'''
gcp.secretmanager.SecretVersion("token-v1", secret=lake.secrets["shop-api-token"].id, secret_data="sk_live_0123456789abcdefABCDEF", {OPTS})
'''), expect=("secret-no-version-in-code",))
case("secret", "a regional secret version from a config value", program(f'''
gcp.secretmanager.RegionalSecretVersion(
    "vendor-v1", secret=f"projects/{{cfg.datalake_project}}/locations/europe-west1/secrets/vendor", secret_data="hunter2-hunter2", {OPTS}
)
'''), expect=("secret-no-version-in-code",))
case("secret", "a database URL with its password in every pipeline's environment", edit(
    "infra/components/pipeline_job.py", '        env["TOLTEK_WAREHOUSE_PROJECT"] = cfg.warehouse_project\n    return env\n',
    '        env["TOLTEK_WAREHOUSE_PROJECT"] = cfg.warehouse_project\n'
    '    env["SHOP_DB_URL"] = "postgresql://etl:Tr0ub4dor-3@shop-db.internal:5432/shop"\n    return env\n',
), expect=("run-no-plaintext-secrets",))
case("secret", "a GitHub token for a private source in the environment", edit(
    "infra/components/pipeline_job.py", '        env["TOLTEK_WAREHOUSE_PROJECT"] = cfg.warehouse_project\n    return env\n',
    '        env["TOLTEK_WAREHOUSE_PROJECT"] = cfg.warehouse_project\n'
    '    env["SOURCES__REPO__URL_SUFFIX"] = "ghp_' + "0aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV1wX2" + '"\n    return env\n',
), expect=("run-no-plaintext-secrets",))
case("secret", "a random API key pasted as a plain variable", edit(
    "infra/components/pipeline_job.py", '        env["TOLTEK_WAREHOUSE_PROJECT"] = cfg.warehouse_project\n    return env\n',
    '        env["TOLTEK_WAREHOUSE_PROJECT"] = cfg.warehouse_project\n'
    '    env["SHOP_PARTNER_ID"] = "q8Zr4Lw0Xv7Tn2Kp9Sd3Fg6Hj1Mb5Cv8"\n    return env\n',
), expect=("run-no-plaintext-secrets",))
case("secret", "a token passed as a job argument", edit(
    "infra/components/pipeline_job.py", '    return ["run", pipeline.name, "--env", env, "--skip-transform"]',
    '    return ["run", pipeline.name, "--env", env, "--skip-transform", "--header=Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0b2x0ZWsifQ.c2lnbmF0dXJl"]',
), expect=("run-no-plaintext-secrets",))

# --- least privilege the registry can express ----------------------------------------------------
case("registry", "shop_files reads the whole landing bucket", program(f'''
gcp.storage.BucketIAMMember("files-reads-bucket", bucket=lake.landing_bucket.name, role="roles/storage.objectViewer", member={sa("pl-shop-files")}, {OPTS})
'''), expect=("iam-principal-allowance", "registry-pipeline-grants"))
case("registry", "shop_files' condition widened to every object", program(f'''
gcp.storage.BucketIAMMember(
    "files-reads-all-objects", bucket="toltek-landing-prd", role="roles/storage.objectViewer", member={sa("pl-shop-files")},
    condition={{"title": "landing", "expression": 'resource.name.startsWith("projects/_/buckets/toltek-landing-prd/objects/")'}}, {OPTS}
)
'''), expect=("iam-principal-allowance", "registry-pipeline-grants"))
case("registry", "shop_api, not a file pipeline, reads the landing bucket", program(f'''
gcp.storage.BucketIAMMember(
    "api-reads-landing", bucket="toltek-landing-prd", role="roles/storage.objectViewer", member={sa("pl-shop-api")},
    condition={{"title": "landing", "expression": 'resource.name.startsWith("projects/_/buckets/toltek-landing-prd/objects/shipments/")'}}, {OPTS}
)
'''), expect=("iam-principal-allowance", "registry-pipeline-grants"))
case("registry", "a condition that also admits everything (|| true)", program(f'''
gcp.storage.BucketIAMMember(
    "files-reads-or-true", bucket="toltek-landing-prd", role="roles/storage.objectViewer", member={sa("pl-shop-files")},
    condition={{"title": "landing", "expression": 'resource.name.startsWith("projects/_/buckets/toltek-landing-prd/objects/shipments/") || true'}}, {OPTS}
)
'''), expect=("iam-principal-allowance", "registry-pipeline-grants"))
case("registry", "a new pipeline reading another team's folder of the landing bucket", new_file("pipelines/shop_returns/__init__.py", ""), new_file(
    "pipelines/shop_returns/pipeline.py", '''
from pipelines.base import Pipeline
from pipelines.declarations import Schedule


class ShopReturns(Pipeline):
    """Returns dropped by the warehouse team."""

    name = "shop_returns"
    schedule = Schedule("0 5 * * *", "Europe/Amsterdam")
    dataset = "raw_shop_returns"
    landing_prefix = "returns"

    def source(self, env):
        raise NotImplementedError
'''), program(f'''
gcp.storage.BucketIAMMember(
    "returns-reads-shipments", bucket="toltek-landing-prd", role="roles/storage.objectViewer", member={sa("pl-shop-returns")},
    condition={{"title": "landing", "expression": 'resource.name.startsWith("projects/_/buckets/toltek-landing-prd/objects/shipments/")'}}, {OPTS}
)
'''), expect=("iam-principal-allowance", "registry-pipeline-grants"))
case("registry", "shop_api reads a second pipeline's secret, granted by hand", program(f'''
gcp.secretmanager.SecretIamMember(
    "api-reads-sheets-key", secret_id="shop-sheets-key", role="roles/secretmanager.secretAccessor", member={sa("pl-shop-api")}, {OPTS}
)
'''), expect=("iam-principal-allowance", "registry-pipeline-grants"))
case("registry", "shop_api writes the warehouse's marts", program(f'''
gcp.bigquery.DatasetIamMember(
    "api-writes-marts", project=cfg.warehouse_project, dataset_id="marts", role="roles/bigquery.dataEditor", member={sa("pl-shop-api")}, {OPTS}
)
'''), expect=("iam-principal-allowance", "registry-pipeline-grants", "registry-cross-project-grants"))
case("registry", "the copier is granted without any copy pipeline", program(f'''
gcp.bigquery.DatasetIamMember(
    "copier-reads-api", dataset_id="raw_shop_api", role="roles/bigquery.dataViewer",
    member=f"serviceAccount:toltek-copier@{{cfg.warehouse_project}}.iam.gserviceaccount.com", {OPTS}
)
'''), expect=("iam-principal-allowance",))
