"""An adversarial corpus for `toltek plan -s prd --diff BASE`: edits an engineer might make to
this repository, and whether the diff says IAM widens (exit 3) and by which rules.

Each case edits a copy of the repository (the grant derivation in `infra/grants.py`, a component,
a pipeline package, code appended to `infra/program.py`) and is diffed against the copy before
the edit; a case with `base` edits is diffed against a copy with those edits (a stack that already
holds what the case builds on: a custom role, an impersonation grant, a second secret). The
classes come from outside the diff's own rule list: the CIS Google Cloud Platform Foundations
Benchmark's IAM, storage and BigQuery items, Checkov's and Trivy's GCP IAM checks, and the Google
Cloud IAM documentation (conditions, service-account impersonation, workload identity federation,
resource-level IAM, `*IamMember` / `*IamBinding` / `*IamPolicy`, custom roles).

`rules` is the set of widening rules the flagged grants name, all of them: empty means the edit
must not widen (exit 0). Every edit is one the deploy checks pass (a finding would exit 1 and hide
the widening): appended resources wait for what they need (`AFTER`), new resource types go in the
API table (`api_table`). A `not-widening` case titled `FLAGGED:` is a narrowing the diff cannot
tell from a widening, so it asks for review by design. The runner is `diff_corpus_runner.py`, the
test `test_plan_diff_corpus.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from corpus_model import GRANTS, Edit, edit, new_file, program, sa

IAM = "infra/components/iam.py"
SHOP_FILES = "pipelines/shop_files/pipeline.py"
LANDING = "toltek-landing-prd"
OBJECTS = f"projects/_/buckets/{LANDING}/objects"
DBT = 'f"serviceAccount:toltek-dbt@{cfg.warehouse_project}.iam.gserviceaccount.com"'
# What the deploy checks ask of a resource appended to the program: created after the API it
# needs, the account it names and the resource it is on (so each case exits 3, not 1).
AFTER = (
    "opts=pulumi.ResourceOptions(provider=lake_provider, depends_on=[*lake.services, lake.scheduler_account, lake.landing_bucket, "
    "*lake.datasets.values(), *lake.secrets.values(), *jobs.values(), warehouse])"
)
# ... and each new resource type in the deploy checks' API table, as `api-known-type` asks.
APIS = "infra/deploy/apis.py"
API_ANCHOR = '    "gcp:cloudscheduler/job:Job": ("cloudscheduler.googleapis.com", "roles/cloudscheduler.admin"),\n'
API_OF = {
    "gcp:serviceaccount/iAMMember:IAMMember": ("iam.googleapis.com", "roles/iam.serviceAccountAdmin"),
    "gcp:serviceaccount/iAMPolicy:IAMPolicy": ("iam.googleapis.com", "roles/iam.serviceAccountAdmin"),
    "gcp:projects/iAMCustomRole:IAMCustomRole": ("iam.googleapis.com", "roles/iam.roleAdmin"),
    "gcp:projects/iAMBinding:IAMBinding": ("cloudresourcemanager.googleapis.com", "roles/resourcemanager.projectIamAdmin"),
    "gcp:projects/iAMPolicy:IAMPolicy": ("cloudresourcemanager.googleapis.com", "roles/resourcemanager.projectIamAdmin"),
    "gcp:folder/iAMMember:IAMMember": ("cloudresourcemanager.googleapis.com", "roles/resourcemanager.folderIamAdmin"),
    "gcp:bigquery/datasetIamBinding:DatasetIamBinding": ("bigquery.googleapis.com", "roles/bigquery.dataOwner"),
    "gcp:storage/bucketIAMBinding:BucketIAMBinding": ("storage.googleapis.com", "roles/storage.admin"),
    "gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding": ("cloudkms.googleapis.com", "roles/cloudkms.admin"),
}
# A warehouse grant in the datalake project waits for the datalake's APIs too (`api-ordered`).
WAIT_FOR_LAKE = edit(
    "infra/components/warehouse.py",
    "            waits = [r for r in (principals.get(grant.member), targets.get((grant.project, grant.scope, grant.resource))) if r is not None]\n",
    "            waits = [r for r in (principals.get(grant.member), targets.get((grant.project, grant.scope, grant.resource))) if r is not None]\n"
    "            waits += args.datalake.services if grant.project == cfg.datalake_project else []\n",
)


def api_table(*types: str) -> Edit:
    """`types` added to the deploy checks' API table."""
    rows = "".join(f'    "{t}": ("{API_OF[t][0]}", "{API_OF[t][1]}"),\n' for t in types)
    return edit(APIS, API_ANCHOR, API_ANCHOR + rows)


CLASSES = {
    "condition": "IAM conditions: changed, removed, or on another's resource (Google Cloud IAM conditions)",
    "impersonation": "acting as another service account (CIS 1.6, Checkov CKV_GCP_41/49, Trivy no-*-level-service-account-impersonation)",
    "authoritative": "*IamBinding and *IamPolicy that replace members (Google Cloud IAM docs, Checkov and Trivy on IAM policies)",
    "custom-role": "custom roles defined in the stack (Google Cloud IAM custom roles, CIS 1.x least privilege)",
    "scope": "the level a role is granted at: resource, project, folder (CIS 1.5-1.6, Trivy no-folder/org-level-* checks)",
    "principal": "who gets access: public, people, other projects (CIS 1.1, 5.1, 7.1; Checkov CKV_GCP_15/28; Trivy no-user-granted-permissions)",
    "not-widening": "ordinary changes that must not ask for a second reviewer",
}


@dataclass(frozen=True)
class DiffCase:
    cls: str
    what: str
    edits: tuple[Edit, ...]
    rules: frozenset[str]
    base: tuple[Edit, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.cls}: {self.what}"

    @property
    def exit_code(self) -> int:
        return 3 if self.rules else 0


CASES: list[DiffCase] = []


def case(cls: str, what: str, *edits: Edit, rules: tuple[str, ...], base: tuple[Edit, ...] = ()) -> None:
    assert cls in CLASSES, cls
    CASES.append(DiffCase(cls, what, tuple(edits), frozenset(rules), tuple(base)))


def pipeline(package: str, text: str) -> tuple[Edit, Edit]:
    """A new pipeline package (the way `toltek new` or a copy of another one makes it)."""
    return new_file(f"pipelines/{package}/__init__.py", ""), new_file(f"pipelines/{package}/pipeline.py", text)


def file_pipeline(name: str, cls: str, prefix: str) -> tuple[Edit, Edit]:
    """shop_files copied under another name, reading `prefix` of the landing bucket."""
    return pipeline(name, f'''
from pipelines.base import Pipeline
from pipelines.declarations import Resources, Schedule


class {cls}(Pipeline):
    """{name}: files the partner drops in the landing bucket."""

    name = "{name}"
    schedule = Schedule("45 */4 * * *", "Europe/Amsterdam")
    dataset = "raw_{name}"
    landing_prefix = "{prefix}"
    resources = Resources(cpu="1", memory="1Gi", timeout_seconds=1800, max_retries=2)

    def source(self, env):
        from pipelines.shop_files.source import shop_files

        return shop_files(bucket_url=env.landing_url(self.landing_prefix))
''')


FILES_CONDITION = "OBJECT_VIEWER, sa, landing_condition(bucket, pipeline.landing_prefix)))"


# --- IAM conditions ------------------------------------------------------------------------------
case("condition", "the landing condition loses the slash after the prefix (shipments-archive/ too)", edit(
    GRANTS, "f'resource.name == \"{objects}\" || resource.name.startsWith(\"{objects}/\")'",
    "f'resource.name == \"{objects}\" || resource.name.startsWith(\"{objects}\")'",
), rules=("changed-condition",))
case("condition", "the landing condition shortened to the bucket's objects/ (every folder)", edit(
    GRANTS, FILES_CONDITION, "OBJECT_VIEWER, sa, f'resource.name.startsWith(\"projects/_/buckets/{bucket}/objects/\")'))",
), rules=("changed-condition",))
case("condition", "the bucket grant's condition set to true while a partner is onboarded", edit(
    IAM, "description=\"objects under this pipeline's landing prefix\", expression=grant.condition",
    "description=\"objects under this pipeline's landing prefix\", expression=\"true\"",
), rules=("changed-condition",))
case("condition", "an || clause: shop_files also reads the exports/ folder", edit(
    GRANTS, FILES_CONDITION,
    "OBJECT_VIEWER, sa,\n"
    "                                landing_condition(bucket, pipeline.landing_prefix)\n"
    "                                + f' || resource.name.startsWith(\"projects/_/buckets/{bucket}/objects/exports/\")'))",
), rules=("changed-condition",))
case("condition", "a second conditional grant beside the landing one, its folder || true", program(f'''
gcp.storage.BucketIAMMember(
    "files-reads-or-true", bucket="{LANDING}", role="roles/storage.objectViewer", member={sa("pl-shop-files")},
    condition={{"title": "landing", "expression": 'resource.name.startsWith("{OBJECTS}/shipments/") || true'}}, {AFTER}
)
'''), rules=("changed-condition",))
case("condition", "the landing bucket grant without its condition", edit(
    GRANTS, FILES_CONDITION, "OBJECT_VIEWER, sa))",
), rules=("wider-scope",))
case("condition", "shop_files reads one table of raw_shop_api, by a condition on the table name", program(f'''
gcp.bigquery.DatasetIamMember(
    "files-reads-api-orders", project=cfg.datalake_project, dataset_id="raw_shop_api", role="roles/bigquery.dataViewer",
    member={sa("pl-shop-files")},
    condition={{"title": "orders only", "expression": 'resource.name.startsWith("projects/toltek-datalake-prd/datasets/raw_shop_api/tables/orders")'}},
    {AFTER},
)
'''), rules=("existing-resource",))
case("condition", "shop_sheets reads the API token until the end of the quarter (a time-bound grant)", program(f'''
gcp.secretmanager.SecretIamMember(
    "sheets-reads-api-token", project=cfg.datalake_project, secret_id="shop-api-token",
    role="roles/secretmanager.secretAccessor", member={sa("pl-shop-sheets")},
    condition={{"title": "until Q3", "expression": 'request.time < timestamp("2025-10-01T00:00:00Z")'}}, {AFTER}
)
'''), base=(edit(
    "pipelines/shop_sheets/pipeline.py", '    dataset = "raw_shop_sheets"\n',
    '    dataset = "raw_shop_sheets"\n    secrets = {"shop-sheets-key": "sources.shop_sheets.credentials"}\n',
),), rules=("existing-resource",))
case("condition", "a new file pipeline copied from shop_files, its prefix left at shipments", *file_pipeline(
    "shop_returns", "ShopReturns", "shipments"), rules=("existing-resource",))
# A pipeline class with a folder inside shop_files' is refused at declaration (the registry); a
# grant written by hand is not.
case("condition", "a returns account granted a folder inside shop_files' (shipments/returns/) by hand", program(f'''
returns = gcp.serviceaccount.Account("returns-reader", project=cfg.datalake_project, account_id="returns-reader", {AFTER})
gcp.storage.BucketIAMMember(
    "returns-reads-returns", bucket="{LANDING}", role="roles/storage.objectViewer", member=returns.member,
    condition={{"title": "returns", "expression": 'resource.name.startsWith("{OBJECTS}/shipments/returns/")'}}, {AFTER}
)
'''), rules=("existing-resource",))
case("condition", "a partner's export account, its condition shop_files' with the folder renamed in all but one place", program(f'''
exporter = gcp.serviceaccount.Account("partner-exporter", project=cfg.datalake_project, account_id="partner-exporter", {AFTER})
listed = 'api.getAttribute("storage.googleapis.com/objectListPrefix", "")'
gcp.storage.BucketIAMMember(
    "exporter-reads-exports", bucket="{LANDING}", role="roles/storage.objectViewer", member=exporter.member,
    condition={{"title": "exports", "expression": (
        'resource.name == "{OBJECTS}/exports" || resource.name.startsWith("{OBJECTS}/shipments/")'
        f' || {{listed}} == "exports" || {{listed}}.startsWith("exports/")'
    )}}, {AFTER}
)
'''), rules=("existing-resource",))
case("condition", "a new file pipeline whose bucket grant is unconditional", *file_pipeline(
    "shop_returns", "ShopReturns", "returns"), edit(
    GRANTS, FILES_CONDITION,
    "OBJECT_VIEWER, sa, None if pipeline.name == \"shop_returns\" else landing_condition(bucket, pipeline.landing_prefix)))",
), rules=("wider-scope", "existing-resource"))

# --- service-account impersonation ---------------------------------------------------------------
case("impersonation", "shop_files may mint tokens for shop_api's account", program(f'''
gcp.serviceaccount.IAMMember(
    "files-impersonates-api", service_account_id=jobs["shop_api"].account.name,
    role="roles/iam.serviceAccountTokenCreator", member={sa("pl-shop-files")}, {AFTER}
)
'''), api_table("gcp:serviceaccount/iAMMember:IAMMember"), rules=("new-role", "existing-resource"))
case("impersonation", "service account user on the datalake project for the scheduler (CIS 1.6, CKV_GCP_41)", program(f'''
gcp.projects.IAMMember(
    "scheduler-acts-as-all", project=cfg.datalake_project, role="roles/iam.serviceAccountUser", member={sa("toltek-scheduler")}, {AFTER}
)
'''), rules=("new-role",))
case("impersonation", "GitHub Actions impersonates the dbt account (workload identity federation)", program(f'''
gcp.serviceaccount.IAMMember(
    "github-acts-as-dbt",
    service_account_id=f"projects/{{cfg.warehouse_project}}/serviceAccounts/toltek-dbt@{{cfg.warehouse_project}}.iam.gserviceaccount.com",
    role="roles/iam.workloadIdentityUser",
    member="principalSet://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/attribute.repository/toltek/data-stack",
    {AFTER},
)
'''), api_table("gcp:serviceaccount/iAMMember:IAMMember"), rules=("new-principal-kind", "new-role", "existing-resource"))
# BASE: dbt runs copies as the copier, by minting its tokens.
COPIER = (program(f'''
copier = gcp.serviceaccount.Account("toltek-copier-sa", project=cfg.warehouse_project, account_id="toltek-copier", {AFTER})
gcp.serviceaccount.IAMMember(
    "dbt-impersonates-copier", service_account_id=copier.name, role="roles/iam.serviceAccountTokenCreator", member={DBT}, {AFTER}
)
'''), api_table("gcp:serviceaccount/iAMMember:IAMMember"))
case("impersonation", "dbt, which impersonates the copier, may also impersonate shop_api's account", program(f'''
gcp.serviceaccount.IAMMember(
    "dbt-impersonates-api", service_account_id=jobs["shop_api"].account.name,
    role="roles/iam.serviceAccountTokenCreator", member={DBT}, {AFTER}
)
'''), base=COPIER, rules=("existing-resource",))
case("impersonation", "the scheduler may act as the dbt account, through an authoritative policy", program(f'''
gcp.serviceaccount.IAMPolicy(
    "dbt-account-policy",
    service_account_id=f"projects/{{cfg.warehouse_project}}/serviceAccounts/toltek-dbt@{{cfg.warehouse_project}}.iam.gserviceaccount.com",
    policy_data=pulumi.Output.json_dumps({{"bindings": [{{"role": "roles/iam.serviceAccountUser", "members": [{sa("toltek-scheduler")}]}}]}}),
    {AFTER},
)
'''), api_table("gcp:serviceaccount/iAMPolicy:IAMPolicy"), rules=("new-role", "existing-resource"))

# --- authoritative bindings and policies ---------------------------------------------------------
case("authoritative", "a binding of dataViewer on raw_shop_api for dbt that also lists shop_files", program(f'''
gcp.bigquery.DatasetIamBinding(
    "raw-shop-api-readers", project=cfg.datalake_project, dataset_id="raw_shop_api", role="roles/bigquery.dataViewer",
    members=[{DBT}, {sa("pl-shop-files")}], {AFTER}
)
'''), api_table("gcp:bigquery/datasetIamBinding:DatasetIamBinding"), rules=("existing-resource",))
case("authoritative", "marts readable by the analysts' group through an authoritative binding", program(f'''
gcp.bigquery.DatasetIamBinding(
    "marts-readers", project=cfg.warehouse_project, dataset_id="marts", role="roles/bigquery.dataViewer",
    members=["group:analysts@toltek.example"], {AFTER}
)
'''), api_table("gcp:bigquery/datasetIamBinding:DatasetIamBinding"), rules=("new-principal-kind", "existing-resource"))
case("authoritative", "jobUser on the datalake project as one binding for every account, dbt included", program(f'''
gcp.projects.IAMBinding(
    "lake-job-users", project=cfg.datalake_project, role="roles/bigquery.jobUser",
    members=[{sa("pl-shop-api")}, {sa("pl-shop-files")}, {sa("pl-shop-sheets")}, {DBT}], {AFTER}
)
'''), api_table("gcp:projects/iAMBinding:IAMBinding"), rules=("existing-resource",))
case("authoritative", "a project IAM policy that gives an engineer jobUser", program(f'''
gcp.projects.IAMPolicy(
    "lake-policy", project=cfg.datalake_project,
    policy_data=pulumi.Output.json_dumps({{"bindings": [
        {{"role": "roles/bigquery.jobUser", "members": [{sa("pl-shop-api")}, "user:ana@toltek.example"]}},
    ]}}), {AFTER}
)
'''), api_table("gcp:projects/iAMPolicy:IAMPolicy"), rules=("new-principal-kind",))
case("authoritative", "a bucket binding of shop_files' folder for shop_files and shop_api", program(f'''
gcp.storage.BucketIAMBinding(
    "landing-readers", bucket="{LANDING}", role="roles/storage.objectViewer",
    members=[{sa("pl-shop-files")}, {sa("pl-shop-api")}],
    condition={{"title": "shipments", "expression": 'resource.name.startsWith("{OBJECTS}/shipments/")'}}, {AFTER}
)
'''), api_table("gcp:storage/bucketIAMBinding:BucketIAMBinding"), rules=("new-role", "existing-resource"))

# --- custom roles --------------------------------------------------------------------------------
# BASE: the scheduler watches job executions with a custom role of the stack.
WATCHER = (program(f'''
watcher = gcp.projects.IAMCustomRole(
    "job-watcher", project=cfg.datalake_project, role_id="toltekJobWatcher", title="Toltek job watcher",
    permissions=["run.executions.get", "run.executions.list", "run.jobs.get"], {AFTER}
)
gcp.projects.IAMMember("scheduler-watches", project=cfg.datalake_project, role=watcher.name, member={sa("toltek-scheduler")}, {AFTER})
'''), api_table("gcp:projects/iAMCustomRole:IAMCustomRole"))
case("custom-role", "the scheduler's job-watcher role may now also run jobs with overrides", edit(
    "infra/program.py", '"run.jobs.get"]', '"run.jobs.get", "run.jobs.runWithOverrides"]'
), base=WATCHER, rules=("custom-role-grows",))
case("custom-role", "the job-watcher role gains every run.jobs permission by a wildcard", edit(
    "infra/program.py", '"run.jobs.get"]', '"run.jobs.*"]'
), base=WATCHER, rules=("custom-role-grows",))
case("custom-role", "the job-watcher role, grown, granted to shop_api too", edit(
    "infra/program.py", '"run.jobs.get"]', '"run.jobs.get", "iam.serviceAccounts.actAs"]'
), program(f'''
gcp.projects.IAMMember("api-watches", project=cfg.datalake_project, role=watcher.name, member={sa("pl-shop-api")}, {AFTER})
'''), base=WATCHER, rules=("custom-role-grows", "new-role"))
case("custom-role", "the scheduler moved to a new custom role that may also run jobs", edit(
    "infra/program.py", '"job-watcher", project=cfg.datalake_project, role_id="toltekJobWatcher", title="Toltek job watcher"',
    '"job-runner", project=cfg.datalake_project, role_id="toltekJobRunner", title="Toltek job runner"',
), edit("infra/program.py", '"run.jobs.get"]', '"run.jobs.get", "run.jobs.run"]'), base=WATCHER, rules=("new-role",))

# --- the level a role is granted at, and how strong it is ----------------------------------------
case("scope", "dbt reads the whole datalake project instead of each raw dataset", edit(
    GRANTS, 'grants.append(Grant(lake, "dataset", pipeline.dataset, DATA_VIEWER, dbt))',
    'grants.append(Grant(lake, "project", lake, DATA_VIEWER, dbt))',
), WAIT_FOR_LAKE, rules=("wider-scope",))
case("scope", "pipelines edit the datalake project, under a condition naming their dataset", edit(
    IAM, '''    if grant.scope == "dataset":
        return gcp.bigquery.DatasetIamMember(''', '''    if grant.scope == "dataset" and grant.role == "roles/bigquery.dataEditor" and "pl-" in grant.member:
        return gcp.projects.IAMMember(
            name, project=grant.project, role=grant.role, member=grant.member, opts=opts,
            condition={"title": "its dataset", "expression": f'resource.name.startsWith("projects/{grant.project}/datasets/{grant.resource}")'},
        )
    if grant.scope == "dataset":
        return gcp.bigquery.DatasetIamMember(''',
), rules=("wider-scope",))
case("scope", "shop_api reads its token from the project, not the secret", edit(
    GRANTS, 'grants += [Grant(lake, "secret", secret, SECRET_ACCESSOR, sa) for secret in sorted(pipeline.secrets)]',
    'grants += [Grant(lake, "project", lake, SECRET_ACCESSOR, sa) for secret in sorted(pipeline.secrets)]',
), rules=("wider-scope",))
case("scope", "jobUser for the pipelines on the folder (Trivy no-folder-level-*)", program(f'''
for name in ("pl-shop-api", "pl-shop-files", "pl-shop-sheets"):
    gcp.folder.IAMMember(
        f"{{name}}-folder-jobuser", folder="folders/987654321", role="roles/bigquery.jobUser",
        member=f"serviceAccount:{{name}}@{{cfg.datalake_project}}.iam.gserviceaccount.com", {AFTER}
    )
'''), api_table("gcp:folder/iAMMember:IAMMember"), rules=("wider-scope",))
case("scope", "dbt runs its queries in the datalake project too (same level, another project)", edit(
    GRANTS, "grants = [Grant(dwh, \"project\", dwh, JOB_USER, dbt)]",
    "grants = [Grant(dwh, \"project\", dwh, JOB_USER, dbt), Grant(lake, \"project\", lake, JOB_USER, dbt)]",
), WAIT_FOR_LAKE, rules=("existing-resource",))
case("scope", "dbt writes the raw datasets it reads (CIS 1.5 least privilege)", edit(
    GRANTS, 'grants.append(Grant(lake, "dataset", pipeline.dataset, DATA_VIEWER, dbt))',
    'grants.append(Grant(lake, "dataset", pipeline.dataset, DATA_EDITOR, dbt))',
), rules=("stronger-role",))
case("scope", "pipelines own their raw datasets (dataOwner: they may change who reads them)", edit(
    GRANTS, "grants = [Grant(lake, \"dataset\", dataset, DATA_EDITOR, sa) for dataset in datasets_of(pipeline)]",
    "grants = [Grant(lake, \"dataset\", dataset, DATA_OWNER, sa) for dataset in datasets_of(pipeline)]",
), rules=("new-role",))

# --- principals ----------------------------------------------------------------------------------
case("principal", "the landing bucket readable by allUsers (CIS 5.1, CKV_GCP_28)", program(f'''
gcp.storage.BucketIAMMember("landing-public", bucket="{LANDING}", role="roles/storage.objectViewer", member="allUsers", {AFTER})
'''), rules=("public", "new-principal-kind", "wider-scope", "existing-resource"))
case("principal", "marts readable by all authenticated users (CIS 7.1, CKV_GCP_15)", program(f'''
gcp.bigquery.DatasetIamMember(
    "marts-everyone", project=cfg.warehouse_project, dataset_id="marts", role="roles/bigquery.dataViewer",
    member="allAuthenticatedUsers", {AFTER}
)
'''), rules=("public", "new-principal-kind", "existing-resource"))
case("principal", "an analyst's personal account reads marts (CIS 1.1, Trivy no-user-granted-permissions)", program(f'''
gcp.bigquery.DatasetIamMember(
    "analyst-reads-marts", project=cfg.warehouse_project, dataset_id="marts", role="roles/bigquery.dataViewer",
    member="user:ana.analyst@gmail.com", {AFTER}
)
'''), rules=("new-principal-kind", "existing-resource"))
case("principal", "another project's account decrypts with the datalake key (CIS 1.9)", program(f'''
gcp.kms.CryptoKeyIAMMember(
    "partner-decrypts", crypto_key_id=lake.key.key.id, role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
    member="serviceAccount:etl@partner-project.iam.gserviceaccount.com", {AFTER}
)
'''), rules=("new-principal-kind", "existing-resource"))

REFUNDS = pipeline("shop_refunds", '''
from pipelines.base import Pipeline
from pipelines.declarations import Resources, Schedule


class ShopRefunds(Pipeline):
    """Refunds from the shop's REST API."""

    name = "shop_refunds"
    schedule = Schedule("20 * * * *", "Europe/Amsterdam")
    dataset = "raw_shop_refunds"
    secrets = {"shop-refunds-token": "sources.shop_refunds.access_token"}
    resources = Resources(cpu="1", memory="1Gi", timeout_seconds=900, max_retries=2)

    def source(self, env):
        raise NotImplementedError
''')
case("scope", "a new pipeline whose account also runs BigQuery jobs in the warehouse project", *REFUNDS, program(f'''
gcp.projects.IAMMember(
    "refunds-runs-warehouse-jobs", project=cfg.warehouse_project, role="roles/bigquery.jobUser", member={sa("pl-shop-refunds")}, {AFTER}
)
'''), rules=("existing-resource",))

# --- not widening --------------------------------------------------------------------------------
case("not-widening", "a new API pipeline copied from shop_api", *REFUNDS, rules=())
case("not-widening", "a new file pipeline copied from shop_files, reading its own prefix", *file_pipeline(
    "shop_returns", "ShopReturns", "returns"), rules=())
case("not-widening", "shop_api's API no longer needs a token (its secret and grant removed)", edit(
    "pipelines/shop_api/pipeline.py", '    secrets = {"shop-api-token": "sources.shop_api.access_token"}\n', "",
), rules=())
case("not-widening", "the key's grants to the service agents made authoritative (*IamBinding, same members)", edit(
    "infra/components/encryption.py",
    "gcp.kms.CryptoKeyIAMMember(f\"{project}-data-key-{service}\", crypto_key_id=key.id, role=ENCRYPTER, member=member, opts=opts)",
    "gcp.kms.CryptoKeyIAMBinding(f\"{project}-data-key-{service}\", crypto_key_id=key.id, role=ENCRYPTER, members=[member], opts=opts)",
), api_table("gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding"), rules=())
case("not-widening", "the landing condition narrowed: listings no longer allowed (alternatives dropped)", edit(
    GRANTS, "f' || {listed} == \"{folder}\" || {listed}.startsWith(\"{folder}/\")'", "",
), rules=())
case("not-widening", "the landing condition narrowed by a time bound (&& request.time < ...)", edit(
    GRANTS, FILES_CONDITION,
    "OBJECT_VIEWER, sa,\n"
    "                                f'({landing_condition(bucket, pipeline.landing_prefix)}) && request.time < timestamp(\"2026-01-01T00:00:00Z\")'))",
), rules=())
case("not-widening", "a custom role losing a permission", edit(
    "infra/program.py", '["run.executions.get", "run.executions.list", "run.jobs.get"]', '["run.executions.get", "run.executions.list"]'
), base=WATCHER, rules=())
# Flagged although narrower: shipments/eu/ is inside shipments/, but the diff compares conditions
# as text and cannot tell a longer prefix from another one, so a changed value asks for review.
case("not-widening", "FLAGGED: the landing prefix made longer (shipments/eu, narrower)", edit(
    SHOP_FILES, 'landing_prefix = "shipments"', 'landing_prefix = "shipments/eu"',
), rules=("changed-condition",))
