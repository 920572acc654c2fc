"""Killed at any point and rerun like a fresh Cloud Run container: nothing lost, nothing doubled.

Each run is a real `toltek` process with the whole ELT (sample server, three pipelines, transfer,
dbt); the kill is a real SIGKILL or SIGTERM sent by the process to itself at the chosen point.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import MART_KEYS, RAW_KEYS, TOLTEK, copy_of_loaded_home, counts, query, toltek_env

pytestmark = pytest.mark.faults
RUNNER = Path(__file__).with_name("fault_runner.py")


def toltek(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(TOLTEK), *args], capture_output=True, text=True, env=toltek_env(home, **extra), timeout=600)


def faulted(home: Path, point: str, sig: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(RUNNER), point, sig, "--", *args],
        capture_output=True, text=True, env=toltek_env(home), timeout=600,
    )


def snapshot(home: Path) -> tuple[dict, dict]:
    return counts(home / "datalake.duckdb", RAW_KEYS), counts(home / "warehouse.duckdb", MART_KEYS)


@pytest.fixture(scope="module")
def uninterrupted_home(loaded_home, tmp_path_factory):
    """A copy of a home one uninterrupted `toltek run` loaded."""
    assert loaded_home[1].returncode == 0, loaded_home[1].stderr
    return copy_of_loaded_home(loaded_home, tmp_path_factory.mktemp("uninterrupted") / "home")


@pytest.fixture(scope="module")
def uninterrupted(loaded_home):
    return snapshot(loaded_home[0])


# Each kill point's rerun loads what the killed run left, as the pipeline job in the cloud does
# (`--skip-transform`), and must leave the raw data exactly as an uninterrupted run does; one kill
# point also runs the transfer and dbt and compares the marts (they are built from the raw data).
@pytest.mark.parametrize(("point", "marts"), [("extract:3", False), ("normalize", False), ("load:1", True), ("load:3", False)])
def test_sigkill_then_a_rerun_on_an_empty_working_dir_matches_an_uninterrupted_run(uninterrupted, tmp_path, point, marts):
    home = tmp_path / "home"
    killed = faulted(home, point, "KILL", "run")
    assert killed.returncode == -9, killed.stderr[-2000:]

    shutil.rmtree(home / "dlt")  # a fresh container: nothing but the destination survives
    again = toltek(home, "run") if marts else toltek(home, "run", "--skip-transform")

    assert again.returncode == 0, again.stderr[-2000:]
    raw = counts(home / "datalake.duckdb", RAW_KEYS)
    assert raw == uninterrupted[0]
    assert all(rows == distinct for rows, distinct in raw.values())
    if marts:
        built = counts(home / "warehouse.duckdb", MART_KEYS)
        assert built == uninterrupted[1]
        assert all(rows == distinct for rows, distinct in built.values())


def test_sigterm_stops_cleanly_with_a_non_zero_exit_and_the_next_run_completes(uninterrupted, tmp_path):
    home = tmp_path / "home"
    stopped = faulted(home, "load:2", "TERM", "run")
    assert stopped.returncode == 128 + 15, stopped.stderr[-2000:]
    assert "interrupted by SIGTERM: stopped; completed loads are kept, the next run picks up the rest" in stopped.stderr
    assert "Traceback" not in stopped.stderr

    again = toltek(home, "run")  # same working dir: the pending load package is finished first

    assert again.returncode == 0, again.stderr[-2000:]
    assert snapshot(home) == uninterrupted
    # The rows the stopped run had not loaded are counted by the run that loads them.
    resumed = re.search(r"shop_api\s*│\s*\d+\s*│\s*(\d+)\s*│", again.stdout)
    assert resumed and int(resumed.group(1)) > look_back_window()[1], again.stdout


def look_back_window() -> tuple[int, int]:
    """(tables, rows) a rerun re-reads: each entity's records within one schedule interval of its
    newest `updated_at` (the API's look-back), order items included."""
    from pipelines.samples import DATA_DIR
    from pipelines.shop_api.pipeline import ShopApi

    lag = timedelta(seconds=ShopApi.schedule.shortest_gap_seconds())
    tables = rows = 0
    for entity in ("customers", "orders", "products"):
        records = [json.loads(line) for line in (DATA_DIR / "api" / f"{entity}.jsonl").read_text().splitlines() if line.strip()]
        newest = max(datetime.strptime(r["updated_at"], "%Y-%m-%dT%H:%M:%SZ") for r in records)
        start = (newest - lag).strftime("%Y-%m-%dT%H:%M:%SZ")
        window = [r for r in records if r["updated_at"] >= start]
        items = sum(len(r.get("items", [])) for r in window)
        tables += bool(window) + bool(items)
        rows += len(window) + items
    return tables, rows


def test_a_rerun_without_new_data_changes_no_count_and_loads_nothing_even_on_a_fresh_working_dir(uninterrupted, uninterrupted_home):
    home = uninterrupted_home
    loads = query(home / "datalake.duckdb", "select count(*) from raw_shop_api._dlt_loads")
    again = toltek(home, "run", "shop_api", "--skip-transform")
    assert again.returncode == 0
    assert snapshot(home) == uninterrupted
    _, rows = look_back_window()
    assert 0 < rows < 10, "the look-back reads a few records again"
    assert re.search(r"shop_api\s*│\s*0\s*│\s*0\s*│\s*0\s*│", again.stdout), again.stdout  # all as loaded
    assert query(home / "datalake.duckdb", "select count(*) from raw_shop_api._dlt_loads") == loads

    shutil.rmtree(home / "dlt")  # a fresh container: the pipelines' state comes from the datalake
    fresh = toltek(home, "run", "--skip-transform")
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    for pipeline in ("shop_api", "shop_files", "shop_sheets"):
        assert re.search(rf"{pipeline}\s*│\s*0\s*│\s*0\s*│\s*0\s*│", fresh.stdout), fresh.stdout
    assert snapshot(home) == uninterrupted


@pytest.mark.parametrize("second_args", [["shop_api"], ["shop_sheets"], []], ids=["same pipeline", "another pipeline", "everything"])
def test_a_second_run_on_one_home_refuses_in_one_line_and_touches_nothing(tmp_path, second_args):
    home = tmp_path / "home"
    gate = tmp_path / "release"
    # The first run's first page is held until the second run has finished: no race, no sleep.
    held = json.dumps([{"path": "/shop/v1/customers", "hold_until": str(gate), "times": 1}])
    first = subprocess.Popen(
        [str(TOLTEK), "run", "shop_api", "--skip-transform"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=toltek_env(home, TOLTEK_SAMPLE_FAULTS=held),
    )
    lock = home / "dlt" / "toltek_shop_api.lock"
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = toltek(home, "run", *second_args, "--skip-transform")
    during = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    gate.touch()
    out, err = first.communicate(timeout=300)

    assert second.returncode == 1
    assert second.stderr.strip() == f"failed: another toltek run or transform (pid {first.pid}) is using {home}; not started"
    assert second.stdout == ""
    assert [p for p in during if p.startswith(("dlt/toltek_shop_sheets", "dlt/toltek_shop_files"))] == [], "the second run started nothing"
    assert first.returncode == 0, err
    raw = counts(home / "datalake.duckdb", {k: v for k, v in RAW_KEYS.items() if k.startswith("raw_shop_api")})
    assert raw["raw_shop_api.orders"] == (8000, 8000)


@pytest.mark.parametrize(("sig", "code", "point"), [("TERM", 143, "dbt:3"), ("INT", 130, "transfer")])
def test_a_signal_inside_dbt_stops_in_one_line_and_the_next_run_builds_the_same_marts(loaded_home, uninterrupted, tmp_path, sig, code, point):
    """SIGTERM (Cloud Run's timeout or cancel) while dbt builds a model, or Ctrl-C inside the
    transfer's copy: dbt cancels its queries and returns, the copy's transaction is rolled back;
    the run says so in one line and exits 128 + signal, and the next run rebuilds the warehouse
    exactly."""
    home = copy_of_loaded_home(loaded_home, tmp_path / "home")
    stopped = faulted(home, point, sig, "run", "--force-transform")
    assert stopped.returncode == code, stopped.stderr[-2000:]
    lines = stopped.stderr.strip().splitlines()
    assert lines[-1].startswith(f"interrupted by SIG{sig}: stopped;"), lines[-3:]
    assert "Traceback" not in stopped.stderr and "dbt build failed" not in stopped.stderr
    if point == "transfer":  # nothing half-written: the interrupted copy left no schema behind
        assert query(home / "warehouse.duckdb", "select count(*) from information_schema.schemata where schema_name = 'raw_shop_sheets'") == [(0,)]
        return
    again = toltek(home, "transform")  # the interrupted build is not taken for a success: it runs again
    assert again.returncode == 0, again.stderr[-2000:]
    assert "dbt build (local)" in again.stdout
    assert snapshot(home) == uninterrupted


@pytest.mark.parametrize("point", ["drop", "load:1"])
def test_a_refresh_killed_after_its_drop_is_finished_by_the_next_run_in_a_new_container(loaded_home, uninterrupted, tmp_path, point):
    """`trigger --refresh` whose container dies after the refresh dropped the API's tables (before
    its new schema version is stored, or after a first load job): the new container restores the
    state of the last completed load (cursors at the end), which would load nothing into the
    emptied tables, with exit 0. It recognises the unfinished refresh in the datalake and reloads
    whole."""
    home = copy_of_loaded_home(loaded_home, tmp_path / "home")
    killed = faulted(home, point, "KILL", "run", "shop_api", "--refresh", "--skip-transform")
    assert killed.returncode == -9, killed.stderr[-2000:]
    tables = query(home / "datalake.duckdb", "select table_name from information_schema.tables where table_schema = 'raw_shop_api'")
    left = query(home / "datalake.duckdb", "select count(*) from raw_shop_api.orders")[0][0] if ("orders",) in tables else 0
    assert left < 8000, "killed after the drop"

    shutil.rmtree(home / "dlt")  # a fresh container
    again = toltek(home, "run", "--skip-transform")
    assert again.returncode == 0, again.stderr[-2000:]
    assert counts(home / "datalake.duckdb", RAW_KEYS) == uninterrupted[0]
    assert re.search(r"shop_api\s*│\s*4\s*│\s*29955\s*│", again.stdout), again.stdout
