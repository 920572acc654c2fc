"""The real Pulumi program for both stacks, under Pulumi's mocks: resources and every IAM grant."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import TOLTEK, toltek_env

from infra.grants import stack_grants
from infra.plan import run_plan
from pipelines import naming

IAM_TYPES = {
    "gcp:projects/iAMMember:IAMMember": ("project", "project"),
    "gcp:bigquery/datasetIamMember:DatasetIamMember": ("dataset", "datasetId"),
    "gcp:secretmanager/secretIamMember:SecretIamMember": ("secret", "secretId"),
    "gcp:cloudrunv2/jobIamMember:JobIamMember": ("job", "name"),
    "gcp:storage/bucketIAMMember:BucketIAMMember": ("bucket", "bucket"),
}
DATA_ROLES = ("roles/bigquery.data", "roles/bigquery.admin", "roles/secretmanager.secretAccessor")


@pytest.fixture(scope="module")
def plans():
    return {stack: run_plan(stack) for stack in ("dev", "prd")}


@pytest.fixture(scope="module")
def pipelines_by_stack():
    from pipelines.registry import discover

    reg = discover()
    return {stack: reg.select(None, stack) for stack in ("dev", "prd")}


def one(plan, type_, **inputs):
    found = [r for r in plan.of_type(type_) if all(r.inputs.get(k) == v for k, v in inputs.items())]
    assert len(found) == 1, (type_, inputs, [r.name for r in found])
    return found[0]


def planned_grants(plan):
    grants = set()
    for type_, (scope, key) in IAM_TYPES.items():
        for r in plan.of_type(type_):
            grants.add((r.project, scope, r.inputs[key], r.inputs["role"], r.inputs["member"]))
    return grants


@pytest.mark.parametrize("stack", ["dev", "prd"])
def test_every_pipeline_gets_its_account_job_schedule_and_alert(plans, pipelines_by_stack, stack):
    plan = plans[stack]
    project = f"toltek-datalake-{stack}"
    scheduler_email = f"toltek-scheduler@{project}.iam.gserviceaccount.com"
    for pipeline in pipelines_by_stack[stack]:
        sa = one(plan, "gcp:serviceaccount/account:Account", accountId=naming.service_account_id(pipeline.name))
        assert sa.project == project
        email = f"{naming.service_account_id(pipeline.name)}@{project}.iam.gserviceaccount.com"
        job_name = naming.job_name(pipeline.name, stack)
        job = one(plan, "gcp:cloudrunv2/job:Job", name=job_name)
        assert job.project == project and job.parent == job_name
        template = job.inputs["template"]
        assert (template["taskCount"], template["parallelism"]) == (1, 1)
        task = template["template"]
        assert task["serviceAccount"] == email
        assert task["maxRetries"] == pipeline.resources.max_retries
        assert task["timeout"] == f"{pipeline.resources.timeout_seconds}s"
        (container,) = task["containers"]
        assert "@sha256:" in container["image"] and container["image"].split("/")[1] == project
        assert container["args"] == ["run", pipeline.name, "--env", stack, "--skip-transform"]
        assert container["resources"]["limits"] == {"cpu": pipeline.resources.cpu, "memory": pipeline.resources.memory}
        envs = {e["name"]: e for e in container["envs"]}
        assert envs["TOLTEK_DATALAKE_PROJECT"]["value"] == project
        for secret, key in pipeline.secrets.items():
            ref = envs[naming.env_var_for_config_key(key)]["valueSource"]["secretKeyRef"]
            assert ref == {"secret": secret, "version": "latest"}

        scheduler = one(plan, "gcp:cloudscheduler/job:Job", name=naming.scheduler_job_name(pipeline.name, stack))
        assert (scheduler.inputs["schedule"], scheduler.inputs["timeZone"]) == (pipeline.schedule.cron, pipeline.schedule.time_zone)
        target = scheduler.inputs["httpTarget"]
        assert target["httpMethod"] == "POST"
        assert target["uri"] == f"https://run.googleapis.com/v2/projects/{project}/locations/europe-west1/jobs/{job_name}:run"
        assert target["oauthToken"]["serviceAccountEmail"] == scheduler_email

        invoker = one(plan, "gcp:cloudrunv2/jobIamMember:JobIamMember", name=job_name)
        assert (invoker.inputs["role"], invoker.inputs["member"]) == ("roles/run.invoker", f"serviceAccount:{scheduler_email}")
        editor = one(plan, "gcp:bigquery/datasetIamMember:DatasetIamMember", datasetId=pipeline.dataset, member=f"serviceAccount:{email}")
        assert editor.inputs["role"] == "roles/bigquery.dataEditor" and editor.project == project
        for secret in pipeline.secrets:
            accessor = one(plan, "gcp:secretmanager/secretIamMember:SecretIamMember", secretId=secret, member=f"serviceAccount:{email}")
            assert accessor.inputs["role"] == "roles/secretmanager.secretAccessor"
        alert = one(plan, "gcp:monitoring/alertPolicy:AlertPolicy", displayName=f"{job_name} failed")
        assert f'resource.labels.job_name="{job_name}"' in alert.inputs["conditions"][0]["conditionThreshold"]["filter"]


@pytest.mark.parametrize("stack", ["dev", "prd"])
def test_iam_in_the_plan_is_exactly_the_derived_grants(plans, pipelines_by_stack, stack):
    from infra.config import parse
    from infra.plan import read_stack_file

    raw = read_stack_file(stack)
    cfg = parse(stack, {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("toltek:")})
    expected = {(g.project, g.scope, g.resource, g.role, g.member) for g in stack_grants(pipelines_by_stack[stack], cfg)}
    assert planned_grants(plans[stack]) == expected


@pytest.mark.parametrize("stack", ["dev", "prd"])
def test_no_bigquery_data_role_or_secret_access_at_project_level(plans, stack):
    for r in plans[stack].of_type("gcp:projects/iAMMember:IAMMember"):
        assert not r.inputs["role"].startswith(DATA_ROLES), r.name


def test_prd_spans_datalake_and_warehouse_and_dev_only_its_datalake(plans):
    assert plans["prd"].projects() == {"toltek-datalake-prd", "toltek-dwh-prd"}
    assert plans["dev"].projects() == {"toltek-datalake-dev"}
    dbt = one(plans["prd"], "gcp:cloudrunv2/job:Job", name="toltek-dbt-prd")
    assert dbt.project == "toltek-dwh-prd"
    assert dbt.inputs["template"]["template"]["containers"][0]["args"] == ["build", "--target", "prd"]
    datasets = {(r.project, r.inputs["datasetId"]) for r in plans["prd"].of_type("gcp:bigquery/dataset:Dataset")}
    assert {("toltek-dwh-prd", "staging"), ("toltek-dwh-prd", "marts")} <= datasets
    assert ("toltek-datalake-dev", "dbt_dev") in {(r.project, r.inputs["datasetId"]) for r in plans["dev"].of_type("gcp:bigquery/dataset:Dataset")}


@pytest.mark.parametrize("stack", ["dev", "prd"])
def test_every_gcp_resource_names_its_provider(plans, stack):
    """Default providers are disabled in the stack config: a forgotten `provider=` would fail."""
    for r in plans[stack].resources:
        if r.custom and r.type.startswith("gcp:"):
            assert r.provider_urn and r.provider_urn.endswith(f"pulumi:providers:gcp::gcp-{r.project}"), r.name


def test_stack_outputs_name_each_pipelines_job_account_and_scheduler(plans):
    outputs = plans["prd"].outputs
    assert outputs["pipelines"]["shop_api"] == {
        "job": "toltek-shop-api-prd",
        "service_account": "pl-shop-api@toltek-datalake-prd.iam.gserviceaccount.com",
        "scheduler": "toltek-shop-api-prd",
    }
    assert sorted(outputs["pipelines"]) == ["shop_api", "shop_files", "shop_sheets"]
    assert "raw_shop_api" in outputs["datasets"]["toltek-datalake-prd"]
    assert outputs["datasets"]["toltek-dwh-prd"] == ["marts", "staging"]
    assert outputs["pipeline_image"].startswith("europe-west1-docker.pkg.dev/toltek-datalake-prd/toltek/pipeline@sha256:")
    assert outputs["dbt_image"].startswith("europe-west1-docker.pkg.dev/toltek-dwh-prd/toltek/dbt@sha256:")
    assert outputs["dbt_job"] == "toltek-dbt-prd"
    assert plans["dev"].outputs["datasets"]["toltek-datalake-dev"][0] == "dbt_dev"


def test_plan_json_lists_each_resource_with_type_name_parent_project_inputs(tmp_path):
    done = subprocess.run([str(TOLTEK), "plan", "-s", "prd", "--json"], capture_output=True, text=True, env=toltek_env(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"stack", "resources", "findings", "secret_versions"} and document["stack"] == "prd"
    assert document["findings"] == []
    assert [v["secret"] for v in document["secret_versions"]] == ["shop-api-token"]
    resources = document["resources"]
    assert all(set(r) == {"type", "name", "parent", "project", "inputs"} for r in resources)
    for pipeline in ("shop_api", "shop_files", "shop_sheets"):
        mine = [r for r in resources if r["parent"] == naming.job_name(pipeline, "prd")]
        types = [r["type"] for r in mine]
        for type_ in ("gcp:serviceaccount/account:Account", "gcp:cloudrunv2/job:Job", "gcp:cloudscheduler/job:Job"):
            assert types.count(type_) == 1, (pipeline, type_)
        assert any(r["type"] == "gcp:cloudrunv2/jobIamMember:JobIamMember" and r["inputs"]["role"] == "roles/run.invoker" for r in mine)
        assert any(
            r["type"] == "gcp:bigquery/datasetIamMember:DatasetIamMember"
            and r["inputs"]["role"] == "roles/bigquery.dataEditor"
            and r["inputs"]["datasetId"] == f"raw_{pipeline}"
            for r in mine
        )
    assert {r["project"] for r in resources if r["project"]} == {"toltek-datalake-prd", "toltek-dwh-prd"}
    assert "@" in done.stdout and "[secret]" not in done.stdout


def test_plan_human_output_groups_by_project_and_component(tmp_path):
    done = subprocess.run([str(TOLTEK), "plan", "-s", "dev"], capture_output=True, text=True, env=toltek_env(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr
    assert "toltek-datalake-dev" in done.stdout and "toltek-dwh-prd" not in done.stdout
    assert "toltek:pipelines:PipelineJob" in done.stdout and "toltek-shop-api-dev" in done.stdout


def test_plan_with_an_unknown_stack_is_one_line_and_exit_2(tmp_path):
    done = subprocess.run([str(TOLTEK), "plan", "-s", "qa"], capture_output=True, text=True, env=toltek_env(tmp_path), timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: unknown stack 'qa' (choose from: dev, prd)"


def test_secret_values_are_masked_and_wire_numbers_are_integers():
    from infra.plan import RESOURCE_SIG, SECRET_SIG, SIG_KEY, _wire

    wire = {
        "password": {SIG_KEY: SECRET_SIG, "value": "hunter2"},
        "nested": [{"token": {SIG_KEY: SECRET_SIG, "value": "abc"}}],
        "provider": {SIG_KEY: RESOURCE_SIG, "urn": "urn:pulumi:prd::toltek::pulumi:providers:gcp::p", "id": "x"},
        "count": 3.0,
        "ratio": 0.5,
    }
    assert _wire(wire) == {
        "password": "[secret]",
        "nested": [{"token": "[secret]"}],
        "provider": "urn:pulumi:prd::toltek::pulumi:providers:gcp::p",
        "count": 3,
        "ratio": 0.5,
    }


def test_warehouse_copies_land_at_least_an_hour_before_dbt_runs_in_every_season():
    """Data Transfer Service schedules are UTC; dbt's is local time, which shifts with daylight saving."""
    from datetime import timedelta, timezone

    from infra.components.warehouse import COPY_SCHEDULE, DBT_SCHEDULE

    every, day, clock = COPY_SCHEDULE.split()
    assert (every, day) == ("every", "day")
    hour, minute = map(int, clock.split(":"))
    runs = DBT_SCHEDULE.upcoming_runs()[:366]
    assert len(runs) == 366
    for run in runs:
        utc = run.astimezone(timezone.utc)
        copy = utc.replace(hour=hour, minute=minute, second=0, microsecond=0)
        assert copy + timedelta(hours=1) <= utc, (run, copy)
        assert utc - copy < timedelta(hours=12), (run, copy)  # the same morning's copy, not yesterday's
    assert {run.utcoffset() for run in runs} == {timedelta(hours=1), timedelta(hours=2)}  # both seasons


def test_a_plan_after_a_preview_in_the_same_process_still_has_its_outputs():
    run_plan("prd", preview=True)
    assert sorted(run_plan("dev").outputs) == ["datasets", "pipeline_image", "pipelines"]


def test_dependencies_per_resource_do_not_grow_with_the_registry(registry):
    """Each resource waits for what it uses, never for every pipeline's resources: a stack of many
    pipelines stays linear for Pulumi (and for the deploy checks that walk the graph)."""
    from pipelines.base import Pipeline
    from pipelines.declarations import Schedule

    def widest(plan):
        return max(len(r.dependencies) for r in plan.resources)

    before = widest(run_plan("prd", preview=True))
    for n in range(12):
        extras = {"secrets": {f"extra-{n}-token": f"sources.extra_{n}.token"}} if n % 3 == 0 else {}
        extras |= {"landing_prefix": f"extra-{n}"} if n % 3 == 1 else {}
        extras |= {"transfer": "copy"} if n % 4 == 0 else {}
        type(f"Extra{n}", (Pipeline,), {
            "__doc__": "An extra pipeline.", "name": f"extra_{n}", "schedule": Schedule("0 4 * * *"),
            "dataset": f"raw_extra_{n}", "source": lambda self, env: None, **extras,
        })
    after = run_plan("prd", preview=True)
    assert len(after.resources) > 2 * 87
    assert widest(after) <= before + 2  # a copy pipeline adds its own transfer, not a dependency per pipeline
