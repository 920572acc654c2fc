"""Data-aware dbt on DuckDB: a stale or failed source leaves out its own models, the rest of the
warehouse is built, the run says what it skipped and why, and exits 1."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest
from conftest import TOLTEK, copy_of_loaded_home, toltek_env

from pipelines import dbt_sources, freshness
from pipelines.registry import discover


def toltek(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(TOLTEK), *args], capture_output=True, text=True, env=toltek_env(home), timeout=600)


def age_loads(home: Path, dataset: str, days: float) -> None:
    """Date every load of `dataset` `days` ago (and a minute), as if its pipeline had stopped then."""
    with duckdb.connect(str(home / "datalake.duckdb")) as con:
        con.execute(f"update {dataset}._dlt_loads set inserted_at = now() - to_seconds(?::bigint)", [int(days * 86400) + 60])


def built_models(home: Path) -> set[str]:
    """Models dbt ran in the last invocation that wrote run results (the build)."""
    results = json.loads((home / "dbt" / "target" / "run_results.json").read_text())
    return {r["unique_id"].split(".")[-1] for r in results["results"] if r["unique_id"].startswith("model.")}


ALL_MODELS = {
    "stg_shop_api__customers", "stg_shop_api__orders", "stg_shop_api__order_items", "stg_shop_api__products",
    "stg_shop_files__shipments", "stg_shop_sheets__sales_targets", "dim_customers", "fct_orders", "mart_sales_vs_targets",
}


def test_run_skips_an_error_stale_sources_models_builds_a_warn_stale_one_and_the_rest_and_fails(loaded_home, tmp_path):
    home = copy_of_loaded_home(loaded_home, tmp_path / "home")
    age_loads(home, "raw_shop_sheets", 30)  # daily: warn after 2d 2h, error after 4d 4h
    age_loads(home, "raw_shop_files", 0.625)  # every 4 h: warn after 10 h, error after 20 h
    done = toltek(home, "run", "shop_api", "--force-transform")
    assert done.returncode == 1, done.stderr
    assert (
        "source shop_sheets: last completed load 30d ago (warn after 2d 2h, error after 4d 4h); "
        "skipped 2 model(s): mart_sales_vs_targets, stg_shop_sheets__sales_targets"
    ) in done.stderr
    assert "source shop_files: stale, last completed load 15h 1m ago (warn after 10h, error after 20h); built anyway" in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "failed: 2 model(s) not built: source(s) shop_sheets unhealthy (see above)"
    assert built_models(home) == ALL_MODELS - {"mart_sales_vs_targets", "stg_shop_sheets__sales_targets"}


def test_transform_leaves_out_a_stale_sources_models_and_fails(loaded_home, tmp_path):
    home = copy_of_loaded_home(loaded_home, tmp_path / "home")
    age_loads(home, "raw_shop_api", 0.5)  # hourly: error after 4 h
    done = toltek(home, "transform", "--json")
    assert done.returncode == 1, done.stderr
    assert "source shop_api: last completed load 12h 1m ago (warn after 2h, error after 4h); skipped 7 model(s)" in done.stderr
    assert built_models(home) == {"stg_shop_files__shipments", "stg_shop_sheets__sales_targets"}
    outcome = json.loads(done.stdout)
    assert outcome["ok"] is False and outcome["transform"]["passed"]["model"] == 2
    health = {s["pipeline"]: (s["health"], len(s["skipped_models"])) for s in outcome["transform"]["sources"]}
    assert health == {"shop_api": ("error", 7), "shop_files": ("pass", 0), "shop_sheets": ("pass", 0)}


def test_the_dbt_sources_carry_the_freshness_each_schedule_implies():
    pipelines = dbt_sources.feeding_the_warehouse(discover().all())
    assert dbt_sources.drift(pipelines) == []
    sheets = next(p for p in pipelines if p.name == "shop_sheets")
    assert freshness.of(sheets).as_dbt()["error_after"] == {"count": 100, "period": "hour"}  # 4 x 25 h (autumn change)


def test_a_drifted_source_file_is_found_and_rewritten_keeping_the_rest(tmp_path):
    import shutil

    import yaml

    staging = tmp_path / "staging"
    shutil.copytree(dbt_sources.STAGING_DIR, staging)
    pipelines = dbt_sources.feeding_the_warehouse(discover().all())
    path = staging / "shop_api" / "_shop_api__sources.yml"
    before = yaml.safe_load(path.read_text())
    path.write_text(path.read_text().replace("count: 4", "count: 40"))
    (drift,) = dbt_sources.drift(pipelines, staging)
    assert drift.pipeline == "shop_api" and "differs from the schedule" in drift.problem
    assert dbt_sources.write(pipelines, staging) == [path]
    assert dbt_sources.drift(pipelines, staging) == []
    assert yaml.safe_load(path.read_text()) == before


@pytest.mark.parametrize("broken", ["no file", "no source"])
def test_writing_needs_the_source_to_exist(tmp_path, broken):
    import shutil

    from pipelines.errors import UserError

    staging = tmp_path / "staging"
    shutil.copytree(dbt_sources.STAGING_DIR, staging)
    path = staging / "shop_files" / "_shop_files__sources.yml"
    if broken == "no file":
        path.unlink()
    else:
        path.write_text("version: 2\nsources: []\n")
    with pytest.raises(UserError, match="add the pipeline's dbt source first"):
        dbt_sources.write(dbt_sources.feeding_the_warehouse(discover().all()), staging)


def test_the_dbt_jobs_upstream_check_reads_each_pipeline_jobs_latest_execution(loaded_home, tmp_path, monkeypatch):
    """The cloud's run check, with the real google-cloud-run client against the fake Cloud Run,
    deciding a real dbt build on DuckDB: a failed latest execution leaves its models out, a
    running one is waited for, a job that was never deployed is named."""
    import io
    from datetime import datetime, timedelta, timezone

    from fake_cloud import FakeCloud
    from rich.console import Console

    from pipelines import environments, orchestration
    from pipelines.run import transform_only

    home = copy_of_loaded_home(loaded_home, tmp_path / "home")
    monkeypatch.setenv("TOLTEK_HOME", str(home))
    cloud = FakeCloud()
    cloud.start()
    try:
        now = datetime.now(timezone.utc)
        project, region = "toltek-datalake-prd", "europe-west1"
        api = cloud.add_job(project, region, "toltek-shop-api-prd")
        files = cloud.add_job(project, region, "toltek-shop-files-prd")
        cloud.add_execution(api, "ok1", "succeeded", start=now - timedelta(hours=3), completion=now - timedelta(hours=2.9))
        cloud.add_execution(api, "bad", "failed", start=now - timedelta(hours=1), completion=now - timedelta(minutes=50), failed_tasks=1)
        cloud.add_execution(files, "busy", "running", start=now - timedelta(minutes=5))
        cloud.runs[files][-1].steps = ["running", "succeeded"]  # done on the second look
        check = orchestration.cloud_run_check(project, region, "prd", wait_seconds=30, poll_seconds=0, endpoint=cloud.address)
        env = environments.get("local")
        every = discover().select(None, "local")
        out, err = io.StringIO(), io.StringIO()
        ok = transform_only(env, every, out=Console(file=out, width=300), err=Console(file=err, width=300), run_check=check)
    finally:
        cloud.stop()
    report = err.getvalue()
    assert not ok
    when = (now - timedelta(minutes=50)).strftime("%Y-%m-%d %H:%M")
    assert f"source shop_api: latest execution toltek-shop-api-prd-bad failed at {when} UTC, 1 task(s) failed; skipped 7 model(s)" in report
    assert (
        "source shop_sheets: job toltek-shop-sheets-prd not found in toltek-datalake-prd (europe-west1): not deployed? "
        "run `pulumi up -s prd`; skipped 2 model(s): mart_sales_vs_targets, stg_shop_sheets__sales_targets"
    ) in report
    assert "shop_files" not in report  # waited for: it succeeded, and its data is fresh
    assert len(cloud.received("GetExecution")) == 2
    assert built_models(home) == {"stg_shop_files__shipments"}
