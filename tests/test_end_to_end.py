"""`toltek run` end to end: sample server, three pipelines, transfer, dbt build — twice."""

from __future__ import annotations

import subprocess

import pytest
from conftest import MART_KEYS, RAW_KEYS, TOLTEK, counts, query, toltek_env

pytestmark = pytest.mark.e2e

EXPECTED_MART_ROWS = {"marts.fct_orders": 8000, "marts.dim_customers": 2000, "marts.mart_sales_vs_targets": 36}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("toltek_home")


@pytest.fixture(scope="module")
def first_run(home):
    return subprocess.run([str(TOLTEK), "run"], capture_output=True, text=True, env=toltek_env(home), timeout=900)


def test_run_builds_marts_with_rows_and_passing_tests(first_run, home):
    assert first_run.returncode == 0, first_run.stdout + first_run.stderr
    tables = query(
        home / "warehouse.duckdb",
        "select table_name from information_schema.tables where table_schema = 'marts' and table_type = 'BASE TABLE'",
    )
    assert len(tables) >= 3
    mart_counts = counts(home / "warehouse.duckdb", MART_KEYS)
    assert {t: c[0] for t, c in mart_counts.items()} == EXPECTED_MART_ROWS
    for line in ("shop_api", "shop_files", "shop_sheets", "29955", "6672"):
        assert line in first_run.stdout
    assert "failed" in first_run.stdout and "│ failed    │      0 │" in first_run.stdout


def test_second_run_duplicates_no_key_and_changes_no_count(first_run, home):
    assert first_run.returncode == 0
    raw_before = counts(home / "datalake.duckdb", RAW_KEYS)
    marts_before = counts(home / "warehouse.duckdb", MART_KEYS)

    again = subprocess.run([str(TOLTEK), "run"], capture_output=True, text=True, env=toltek_env(home), timeout=900)

    assert again.returncode == 0, again.stdout + again.stderr
    raw_after = counts(home / "datalake.duckdb", RAW_KEYS)
    marts_after = counts(home / "warehouse.duckdb", MART_KEYS)
    assert raw_after == raw_before
    assert marts_after == marts_before
    for rows, distinct in [*raw_after.values(), *marts_after.values()]:
        assert rows == distinct
