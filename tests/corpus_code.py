"""Corpus cases on code: new resource types, derivation edits, secrets in code, registry least privilege."""

from __future__ import annotations

from corpus_model import GRANTS, OPTS, Case, collector, edit, new_file, program, sa

CASES: list[Case] = []
case = collector(CASES)


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


# --- found by review against CIS / Checkov classes (public service, token leak, audit gaps) -----
case("type", "a Cloud Run v2 service with the invoker IAM check off (CKV_GCP_102)", program(f'''
gcp.cloudrunv2.Service(
    "hook", project=cfg.datalake_project, location="europe-west1", name="hook", ingress="INGRESS_TRAFFIC_ALL",
    invoker_iam_disabled=True,
    template={{"service_account": jobs["shop_api"].account.email, "containers": [{{"image": jobs["shop_api"].job.template.template.containers[0].image}}]}},
    {OPTS},
)
'''), expect=("run-service-invoker-iam",))
case("derivation", "the schedule posts its OAuth token to a relay outside Google", edit(
    "infra/components/jobs.py", 'return f"https://run.googleapis.com/v2/projects/{project}/locations/{region}/jobs/{job}:run"',
    'return f"https://relay.toltek.example/v2/projects/{project}/locations/{region}/jobs/{job}:run"',
), expect=("scheduler-oauth-dedicated-account",))
case("derivation", "a pipeline account exempted from the data access logs (CIS 2.1)", edit(
    "infra/components/datalake.py", 'audit_log_configs=[{"log_type": t} for t in ("ADMIN_READ", "DATA_READ", "DATA_WRITE")],',
    'audit_log_configs=[{"log_type": t, "exempted_members": ["group:data-eng@toltek.example"]} for t in ("ADMIN_READ", "DATA_READ", "DATA_WRITE")],',
), expect=("audit-logging-no-exemptions",))
