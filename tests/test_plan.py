"""The real Pulumi program for both stacks, under Pulumi's mocks: resources and every IAM grant."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import REPO_ROOT, TOLTEK, toltek_env

from infra.grants import stack_grants
from infra.plan import _digest, run_plan
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
        assert envs["TOLTEK_REGION"]["value"] == "europe-west1"
        for secret, key in pipeline.secrets.items():
            ref = envs[naming.env_var_for_config_key(key)]["valueSource"]["secretKeyRef"]
            assert ref == {"secret": secret, "version": "latest"}

        scheduler = one(plan, "gcp:cloudscheduler/job:Job", name=naming.scheduler_job_name(pipeline.name, stack))
        assert (scheduler.inputs["schedule"], scheduler.inputs["timeZone"]) == (pipeline.schedule.cron, pipeline.schedule.time_zone)
        target = scheduler.inputs["httpTarget"]
        assert target["httpMethod"] == "POST"
        assert target["uri"] == f"https://run.googleapis.com/v2/projects/{project}/locations/europe-west1/jobs/{job_name}:run"
        assert target["oauthToken"]["serviceAccountEmail"] == scheduler_email

        invoker = one(plan, "gcp:cloudrunv2/jobIamMember:JobIamMember", name=job_name, role="roles/run.invoker")
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
    (container,) = dbt.inputs["template"]["template"]["containers"]
    assert container["args"] == ["transform", "--env", "prd"]
    assert {e["name"]: e.get("value") for e in container["envs"]}["TOLTEK_REGION"] == "europe-west1"
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
    assert set(document) == {"version", "stack", "resources", "findings", "secret_versions", "cost"} and document["stack"] == "prd"
    assert document["version"] == 1
    cost = document["cost"]
    assert (cost["estimate"], cost["currency"], cost["prices_date"]) == (True, "USD", "2026-11-26") and cost["excludes"]
    assert sorted(cost["pipelines"]) == ["shop_api", "shop_files", "shop_sheets"] and 0 < cost["total_monthly"] < cost["upper_monthly"]
    assert cost["total_monthly"] == pytest.approx(sum(cost["pipelines"].values()) + cost["shared_monthly"], abs=0.03)
    assert all({"what", "pipeline", "quantity", "unit", "monthly"} <= set(item) for item in cost["items"])
    assert document["findings"] == []
    assert [v["secret"] for v in document["secret_versions"]] == ["shop-api-token"]
    resources = document["resources"]
    assert all(set(r) == {"urn", "type", "name", "custom", "parent", "project", "protect", "inputs"} for r in resources)
    assert len({r["urn"] for r in resources}) == len(resources)
    [image] = [r for r in resources if r["name"] == "toltek-dwh-prd-dbt-image"]  # paths relative to the repository
    assert image["inputs"]["build"]["context"] == "." and image["inputs"]["build"]["dockerfile"] == "images/dbt/Dockerfile"
    assert str(REPO_ROOT) not in done.stdout
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


@pytest.mark.parametrize("stack", ["dev", "prd"])
def test_every_pipeline_gets_a_rows_metric_and_a_freshness_alert_from_its_schedule(plans, pipelines_by_stack, stack):
    from infra.monitoring import MAX_ABSENCE_SECONDS, metric_name, promql_name
    from pipelines import freshness

    plan = plans[stack]
    project = f"toltek-datalake-{stack}"
    channel = one(plan, "gcp:monitoring/notificationChannel:NotificationChannel", project=project)
    channel_id = _digest(channel.name)[:12]
    for pipeline in pipelines_by_stack[stack]:
        job_name = naming.job_name(pipeline.name, stack)
        metric = one(plan, "gcp:logging/metric:Metric", name=metric_name(pipeline))
        assert metric.project == project and metric.parent == job_name
        assert metric.inputs["filter"] == (
            f'resource.type="cloud_run_job" AND resource.labels.job_name="{job_name}" AND jsonPayload.toltek.event="summary"'
        )
        assert metric.inputs["valueExtractor"] == "EXTRACT(jsonPayload.toltek.rows)"
        assert metric.inputs["metricDescriptor"]["valueType"] == "DISTRIBUTION" and metric.inputs["bucketOptions"]

        alert = one(plan, "gcp:monitoring/alertPolicy:AlertPolicy", displayName=f"{job_name} stale")
        assert alert.project == project and metric.urn in alert.dependencies  # created after the metric it reads
        failed = one(plan, "gcp:monitoring/alertPolicy:AlertPolicy", displayName=f"{job_name} failed")
        assert alert.inputs["notificationChannels"] == failed.inputs["notificationChannels"] == [f"projects/{project}/notificationChannels/{channel_id}"]
        (condition,) = alert.inputs["conditions"]
        error_after = freshness.of(pipeline).error_after_seconds
        metric_type = f"logging.googleapis.com/user/{metric_name(pipeline)}"
        if error_after <= MAX_ABSENCE_SECONDS:
            assert condition["conditionAbsent"]["duration"] == f"{error_after}s"
            assert f'metric.type="{metric_type}"' in condition["conditionAbsent"]["filter"]
        else:  # longer than an absence condition can wait: PromQL over the whole error age
            query = condition["conditionPrometheusQueryLanguage"]["query"]
            assert query == f'absent_over_time({promql_name(metric_type)}_count{{monitored_resource="cloud_run_job"}}[{error_after}s])'


def test_the_sample_schedules_use_both_kinds_of_freshness_condition(plans):
    kinds = {next(k for k in c if k.startswith("condition")) for r in plans["prd"].of_type("gcp:monitoring/alertPolicy:AlertPolicy")
             if r.inputs["displayName"].endswith(" stale") for c in r.inputs["conditions"]}
    assert kinds == {"conditionAbsent", "conditionPrometheusQueryLanguage"}  # hourly and 4-hourly; daily (100 h)


@pytest.mark.parametrize("stack", ["dev", "prd"])
def test_the_stack_has_a_dashboard_with_a_row_of_tiles_per_pipeline(plans, pipelines_by_stack, stack):
    [dashboard] = plans[stack].of_type("gcp:monitoring/dashboard:Dashboard")
    assert dashboard.project == f"toltek-datalake-{stack}"
    document = json.loads(dashboard.inputs["dashboardJson"])
    tiles = document["mosaicLayout"]["tiles"]
    titles = [t["widget"]["title"] for t in tiles]
    for pipeline in pipelines_by_stack[stack]:
        mine = [t for t in titles if t.startswith(f"{pipeline.name}: ")]
        assert len(mine) == 4, (pipeline.name, mine)
        assert {t.split(": ", 1)[1].split(" ")[0] for t in mine} == {"executions", "failed", "rows", "successful"}
    assert len(tiles) == 1 + 4 * len(pipelines_by_stack[stack])


def test_a_thousand_pipelines_split_into_dashboards_under_the_widget_limit():
    from infra.monitoring import GRID_COLUMNS, MAX_WIDGETS, dashboards

    pipelines = [type(f"P{n}", (), {"name": f"gen_{n}", "schedule": None}) for n in range(1000)]
    import infra.monitoring as monitoring

    original = monitoring.pipeline_widgets
    monitoring.pipeline_widgets = lambda p, env: [{"title": f"{p.name}: {k}", "text": {"content": k}} for k in range(4)]
    try:
        boards = dashboards(pipelines, "prd")
    finally:
        monitoring.pipeline_widgets = original
    assert len(boards) == 42  # 24 pipelines (96 tiles and a heading) each
    assert all(len(b["mosaicLayout"]["tiles"]) <= MAX_WIDGETS for b in boards)
    assert sum(len(b["mosaicLayout"]["tiles"]) - 1 for b in boards) == 4000
    assert all(t["xPos"] + t["width"] <= GRID_COLUMNS for b in boards for t in b["mosaicLayout"]["tiles"])
    assert len({b["displayName"] for b in boards}) == 42


def test_dbt_may_view_each_pipeline_jobs_executions_and_nothing_more_in_the_datalake(plans, pipelines_by_stack):
    dbt = "serviceAccount:toltek-dbt@toltek-dwh-prd.iam.gserviceaccount.com"
    viewers = [r for r in plans["prd"].of_type("gcp:cloudrunv2/jobIamMember:JobIamMember") if r.inputs["member"] == dbt]
    assert {(r.project, r.inputs["name"], r.inputs["role"]) for r in viewers} == {
        ("toltek-datalake-prd", naming.job_name(p.name, "prd"), "roles/run.viewer") for p in pipelines_by_stack["prd"]
    }
    jobs = {r.inputs["name"]: r.urn for r in plans["prd"].of_type("gcp:cloudrunv2/job:Job")}
    assert all(jobs[r.inputs["name"]] in r.dependencies for r in viewers)  # each waits for its job
