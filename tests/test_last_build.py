"""The record of the last local build: what makes a run without new rows skip the transform, and
what makes a build a full refresh. (The skip itself: tests/test_end_to_end.py.)"""

from __future__ import annotations

import shutil

from conftest import REPO_ROOT

from pipelines import environments, last_build


def test_the_project_digest_follows_models_not_dbt_output(tmp_path):
    project = tmp_path / "transform"
    shutil.copytree(REPO_ROOT / "transform", project, ignore=shutil.ignore_patterns("target", "logs"))
    digest = last_build.project_digest(project)
    assert digest == last_build.project_digest(REPO_ROOT / "transform")

    for output in ("target/manifest.json", "logs/dbt.log"):
        (project / output).parent.mkdir(exist_ok=True)
        (project / output).write_text("{}")
    assert last_build.project_digest(project) == digest

    model = project / "models" / "marts" / "fct_orders.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    assert last_build.project_digest(project) != digest


def test_a_build_is_incremental_only_on_the_project_that_last_built_successfully(toltek_home):
    env = environments.get("local")
    loads = {"raw_shop_api": [1, "1795707979.165151"]}
    assert last_build.needs_full_refresh(env, "p1"), "no record: a warehouse of unknown making"

    last_build.started(env)
    last_build.finished(env, True, loads, "p1")
    assert not last_build.needs_full_refresh(env, "p1") and last_build.up_to_date(env, loads, "p1")
    assert last_build.needs_full_refresh(env, "p2") and not last_build.up_to_date(env, loads, "p2")
    assert not last_build.up_to_date(env, {"raw_shop_api": [2, "1795707999.1"]}, "p1"), "loaded since"

    last_build.started(env)  # a full refresh on p2 that fails (or is killed)
    last_build.finished(env, False, loads, "p2")
    assert not last_build.up_to_date(env, loads, "p1"), "a failed build is never up to date"
    assert last_build.needs_full_refresh(env, "p2"), "still built by p1: the refresh is done again"
    assert not last_build.needs_full_refresh(env, "p1")


def test_the_cloud_keeps_no_record_and_never_refreshes_whole(toltek_home, monkeypatch):
    monkeypatch.setenv("TOLTEK_DATALAKE_PROJECT", "toltek-lake-dev")
    monkeypatch.setenv("TOLTEK_BQ_LOCATION", "EU")
    env = environments.get("dev")
    last_build.started(env)
    last_build.finished(env, True, None, "p1")
    assert not last_build.record_path().exists()
    assert not last_build.needs_full_refresh(env, "p1") and not last_build.up_to_date(env, None, "p1")


def test_the_datalake_loads_are_unknown_until_every_dataset_is_loaded_or_while_it_is_locked(local_env):
    from conftest import duckdb_held_by_another_process

    from pipelines.loading import load
    from pipelines.shop_api.pipeline import ShopApi
    from pipelines.shop_sheets.pipeline import ShopSheets

    assert last_build.datalake_loads(local_env, [ShopSheets]) is None, "no datalake yet"
    load(ShopSheets, local_env)
    [(count, newest)] = last_build.datalake_loads(local_env, [ShopSheets]).values()
    assert count == 1 and float(newest) > 0
    assert last_build.datalake_loads(local_env, [ShopSheets, ShopApi]) is None, "raw_shop_api not loaded"
    with duckdb_held_by_another_process(local_env.datalake.path):
        assert last_build.datalake_loads(local_env, [ShopSheets]) is None
