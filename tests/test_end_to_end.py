"""`toltek run` end to end: sample server, three pipelines, transfer, dbt build — then again
without new data (nothing loaded, transform skipped), and with 1% of the source changed
(incremental marts, checked against a full refresh), together with a load that completes late
under an older load id and a shipment correction moving a shipment to another order."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MART_KEYS, RAW_KEYS, REPO_ROOT, TOLTEK, copy_of_loaded_home, counts, query, toltek_env

pytestmark = pytest.mark.e2e

EXPECTED_MART_ROWS = {"marts.fct_orders": 8000, "marts.dim_customers": 2000, "marts.mart_sales_vs_targets": 36}


@pytest.fixture(scope="module")
def home(loaded_home, tmp_path_factory):
    """This module's copy of a home one whole `toltek run` loaded (shared with other modules)."""
    return copy_of_loaded_home(loaded_home, tmp_path_factory.mktemp("e2e") / "home")


@pytest.fixture(scope="module")
def first_run(loaded_home):
    return loaded_home[1]


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


def test_second_run_loads_nothing_skips_the_transform_and_changes_no_count(first_run, home):
    assert first_run.returncode == 0
    raw_before = counts(home / "datalake.duckdb", RAW_KEYS)
    marts_before = counts(home / "warehouse.duckdb", MART_KEYS)

    again = subprocess.run([str(TOLTEK), "run"], capture_output=True, text=True, env=toltek_env(home), timeout=900)

    assert again.returncode == 0, again.stdout + again.stderr
    for pipeline in ("shop_api", "shop_files", "shop_sheets"):
        assert f"│ {pipeline:<11} │      0 │           0 │         0 │" in again.stdout, again.stdout
    assert "no new rows: transfer and dbt skipped" in again.stdout
    assert "dbt build" not in again.stdout + again.stderr
    raw_after = counts(home / "datalake.duckdb", RAW_KEYS)
    marts_after = counts(home / "warehouse.duckdb", MART_KEYS)
    assert raw_after == raw_before
    assert marts_after == marts_before
    for rows, distinct in [*raw_after.values(), *marts_after.values()]:
        assert rows == distinct


def test_after_a_failed_transform_a_run_without_new_rows_transforms_again(first_run, home, tmp_path, monkeypatch):
    """The skip needs the last build to have succeeded on the datalake as it is: a failed (or
    interrupted) transform, or loads since it, make the next run transform even with nothing new."""
    from rich.console import Console

    from pipelines import environments, run
    from pipelines.registry import discover

    assert first_run.returncode == 0
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    monkeypatch.setenv("TOLTEK_HOME", str(copy))
    env = environments.get("local")
    selected = discover().select(None, "local")
    outcomes: list[bool] = []  # what the (stand-in) transfer and dbt return, in order

    def transform(*args, **kwargs) -> bool:
        return outcomes.pop(0)

    monkeypatch.setattr(run, "_transfer_and_transform", transform)

    def toltek_run(transform: str = "auto") -> tuple[bool, str]:
        out = Console(width=200, record=True, file=io.StringIO())
        ok = run.run_all(env, selected, transform=transform, out=out, err=out)
        return ok, out.export_text()

    ok, text = toltek_run()
    assert ok and "no new rows: transfer and dbt skipped" in text  # the copy's build is up to date
    outcomes[:] = [False]
    assert toltek_run("always")[0] is False  # forced, and failing
    outcomes[:] = [True]
    ok, text = toltek_run()
    assert ok and "skipped" not in text and outcomes == [], "the failed build is done again"
    ok, text = toltek_run()
    assert ok and "no new rows: transfer and dbt skipped" in text


def one_percent_changed(samples: Path) -> set[int]:
    """Change every 100th order (refunded) and customer (moved to NL) in a copy of the sample data,
    as the shop's API would report them: a newer `updated_at`. Returns the ids of the orders changed."""
    changed = set()
    for entity, field, value in (("orders", "status", "refunded"), ("customers", "country", "NL")):
        path = samples / "api" / f"{entity}.jsonl"
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        newest = max(r["updated_at"] for r in records)
        for record in records[::100]:
            record.update({field: value, "updated_at": newest.replace(newest[:4], str(int(newest[:4]) + 1), 1)})
            if entity == "orders":
                changed.add(record["id"])
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return changed


def late_load_and_moved_shipment(home: Path, spare: set[int]) -> set[int]:
    """Two things real loads do between builds, made in `home`'s datalake exactly as dlt leaves
    them (raw rows under a load id, its `_dlt_loads` row written at completion), on orders not in
    `spare`; returns the orders whose mart rows they change.

    - A shop_api load left pending by an interrupted run completes now under its old load id (the
      time its extract started, before the newest loads already built): an order refunded.
    - A shipments correction, loaded now, moves a shipment to another order: the order it left
      loses it."""
    import duckdb

    warehouse = home / "warehouse.duckdb"
    free = ", ".join(map(str, spare))
    order = query(warehouse, f"select min(order_id) from marts.fct_orders where is_revenue and order_id not in ({free})")[0][0]
    shipment, old_order = query(
        warehouse, f"select shipment_id, order_id from marts.fct_orders where shipment_id is not null and order_id not in ({free}, {order}) order by order_id limit 1"
    )[0]
    new_order = query(warehouse, f"select min(order_id) from marts.fct_orders where shipment_id is null and order_id not in ({free}, {order})")[0][0]
    with duckdb.connect(str(home / "datalake.duckdb")) as con:
        newest = con.execute("select max(cast(load_id as double)) from raw_shop_api._dlt_loads").fetchone()[0]
        late, fresh = f"{newest - 5:.6f}", f"{newest + 5:.6f}"
        con.execute(f"update raw_shop_api.orders set status = 'refunded', _dlt_load_id = '{late}' where id = {order}")
        con.execute(f"insert into raw_shop_api._dlt_loads (load_id, schema_name, status, inserted_at) values ('{late}', 'shop_api', 0, now())")
        con.execute(
            f"insert into raw_shop_files.shipments select * replace ({new_order} as order_id, 'corrections.csv' as _file_name, "
            f"_file_modified_at + interval 1 day as _file_modified_at, '{fresh}' as _dlt_load_id) "
            f"from raw_shop_files.shipments where shipment_id = {shipment}"
        )
        con.execute(f"insert into raw_shop_files._dlt_loads (load_id, schema_name, status, inserted_at) values ('{fresh}', 'shop_files', 0, now())")
    return {order, old_order, new_order}


MARTS = ("fct_orders", "dim_customers", "mart_sales_vs_targets")


def written_by(warehouse: Path, invocation: str) -> dict[str, int]:
    return {mart: query(warehouse, f"select count(*) from marts.{mart} where dbt_invocation_id = '{invocation}'")[0][0] for mart in MARTS}


def test_a_one_percent_change_rewrites_few_mart_rows_and_equals_a_full_refresh(first_run, home, tmp_path):
    assert first_run.returncode == 0
    samples, incremental, refreshed = tmp_path / "samples", tmp_path / "incremental", tmp_path / "refreshed"
    from pipelines.samples import DATA_DIR

    shutil.copytree(DATA_DIR, samples)  # modification times kept: the files are not new
    changed = one_percent_changed(samples)
    shutil.copytree(home, incremental)
    changed |= late_load_and_moved_shipment(incremental, changed)

    done = subprocess.run(
        [str(TOLTEK), "run"], capture_output=True, text=True, env=toltek_env(incremental, TOLTEK_SAMPLES=str(samples)), timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr
    invocation = json.loads((incremental / "dbt" / "target" / "run_results.json").read_text())["metadata"]["invocation_id"]
    rewritten = written_by(incremental / "warehouse.duckdb", invocation)
    assert rewritten["fct_orders"] == len(changed)  # exactly the changed orders

    shutil.copytree(incremental, refreshed)
    dbt = Path(sys.executable).parent / "dbt"
    target = refreshed / "dbt"
    full = subprocess.run(
        [str(dbt), "run", "--full-refresh", "--select", "marts", "--project-dir", str(REPO_ROOT / "transform"),
         "--profiles-dir", str(REPO_ROOT / "transform"), "--target", "local", "--target-path", str(target / "target"),
         "--log-path", str(target / "logs"), "--quiet"],
        capture_output=True, text=True, env=toltek_env(refreshed), timeout=900,
    )
    assert full.returncode == 0, full.stdout + full.stderr
    full_invocation = json.loads((target / "target" / "run_results.json").read_text())["metadata"]["invocation_id"]
    full_rows = written_by(refreshed / "warehouse.duckdb", full_invocation)
    assert full_rows == {mart: rows for mart, rows in zip(MARTS, EXPECTED_MART_ROWS.values(), strict=True)}
    assert sum(rewritten.values()) <= 0.15 * sum(full_rows.values()), (rewritten, full_rows)

    import duckdb

    def differing(con, left: str, right: str, mart: str) -> int:
        columns = f"* exclude (dbt_invocation_id) from {{}}.marts.{mart}"
        return con.execute(f"select count(*) from (select {columns.format(left)} except all select {columns.format(right)})").fetchone()[0]

    with duckdb.connect() as con:
        for name, path in (("incremental", incremental), ("refreshed", refreshed), ("before", home)):
            con.execute(f"attach '{path / 'warehouse.duckdb'}' as {name} (read_only)")
        for mart in MARTS:
            assert differing(con, "incremental", "refreshed", mart) == differing(con, "refreshed", "incremental", mart) == 0, mart
        assert differing(con, "refreshed", "before", "fct_orders") == len(changed), "the change reached the marts"
