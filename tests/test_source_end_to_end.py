"""`toltek run` on source behaviours, down to the marts.

Each case asserts the exact contents after the runs, so a behaviour that loses or overwrites data
with exit 0 fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from conftest import TOLTEK, copy_of_loaded_home, query, toltek_env
from source_drops import HEADER, T0

from pipelines.samples import DATA_DIR, SAMPLE_SPREADSHEET_ID


def test_corrections_reach_the_marts_and_a_cleared_sheet_keeps_the_targets(loaded_home, tmp_path):
    """On a home one run loaded, `toltek run` twice: corrections in both name orders pick the newer
    file in fct_orders; a sheet cleared to its header fails the run (exit 1) and leaves the marts'
    targets intact."""
    samples = tmp_path / "samples"
    shutil.copytree(DATA_DIR, samples)
    shipments = samples / "files" / "shipments"
    first = (shipments / "shipments_2025_01.csv").read_text().splitlines()
    (a, b) = first[1].split(","), first[2].split(",")
    old = (shipments / "shipments_2025_01.csv").stat().st_mtime
    for name, fields, carrier in (("0_fix.csv", a, "ups"), ("zz_fix.csv", b, "dpd")):
        fields = [*fields[:2], carrier, *fields[3:]]
        (shipments / name).write_text(f"{HEADER}\n{','.join(fields)}\n")
        os.utime(shipments / name, (old + 3600, old + 3600))
    home = copy_of_loaded_home(loaded_home, tmp_path / "home")
    env = toltek_env(home, TOLTEK_SAMPLES=str(samples))
    done = subprocess.run([str(TOLTEK), "run"], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    warehouse = home / "warehouse.duckdb"
    fixed = query(warehouse, f"select shipment_id, carrier from marts.fct_orders where shipment_id in ({a[0]}, {b[0]}) order by 1")
    assert fixed == [(int(a[0]), "ups"), (int(b[0]), "dpd")]
    assert query(warehouse, "select count(*), count(distinct order_id) from marts.fct_orders") == [(8000, 8000)]
    targets_before = query(warehouse, "select * from marts.mart_sales_vs_targets order by all")

    sheet = samples / "sheets" / f"{SAMPLE_SPREADSHEET_ID}.json"
    document = json.loads(sheet.read_text())
    document["sheets"]["sales_targets"] = document["sheets"]["sales_targets"][:1]
    sheet.write_text(json.dumps(document))
    again = subprocess.run([str(TOLTEK), "run"], capture_output=True, text=True, env=env, timeout=900)
    assert again.returncode == 1
    assert "table raw_shop_sheets.sales_targets would be emptied (it has 36 rows, this load none;" in again.stderr
    assert query(warehouse, "select * from marts.mart_sales_vs_targets order by all") == targets_before
    assert query(warehouse, "select count(*) from marts.mart_sales_vs_targets where target_revenue is null") == [(0,)]


def test_a_failing_dbt_test_names_itself_and_its_error_on_stderr(loaded_home, tmp_path):
    samples = tmp_path / "samples"
    shutil.copytree(DATA_DIR, samples)
    shipments = samples / "files" / "shipments"
    first = (shipments / "shipments_2025_01.csv").read_text().splitlines()[1].split(",")
    (shipments / "zz_fedex.csv").write_text(f"{HEADER}\n{','.join([*first[:2], 'fedex', *first[3:]])}\n")
    os.utime(shipments / "zz_fedex.csv", (T0 * 2, T0 * 2))  # the newest version: fedex
    home = copy_of_loaded_home(loaded_home, tmp_path / "home")  # a home one run loaded: the new file arrives
    done = subprocess.run([str(TOLTEK), "run"], capture_output=True, text=True, env=toltek_env(home, TOLTEK_SAMPLES=str(samples)), timeout=900)
    assert done.returncode == 1
    failures = [line for line in done.stderr.splitlines() if line.startswith("dbt: ")]
    assert failures[0] == (
        "dbt: test accepted_values_stg_shop_files__shipments_carrier__postnl__dhl__dpd__ups: fail: Got 1 result, configured to fail if != 0"
    ), done.stderr[-2000:]
    assert len(failures) == 2 and failures[1].startswith("dbt: ") and failures[1].endswith(" node(s) skipped because a node they depend on failed")


def test_refresh_reloads_a_pipeline_from_what_its_source_holds_now_down_to_the_marts(loaded_home, tmp_path):
    """A landing folder from which a month of drops was deleted (a lifecycle rule): a plain run
    loads nothing; `toltek run shop_files --refresh` reloads the raw table from the files there
    now, and the incremental marts are rebuilt whole, so the deleted shipments leave them too."""
    samples = tmp_path / "samples"
    shutil.copytree(DATA_DIR, samples)
    gone = samples / "files" / "shipments" / "shipments_2025_01.csv"
    ids = [int(line.split(",")[0]) for line in gone.read_text().splitlines()[1:]]
    gone.unlink()
    home = copy_of_loaded_home(loaded_home, tmp_path / "home")
    env = toltek_env(home, TOLTEK_SAMPLES=str(samples))
    lake, warehouse = home / "datalake.duckdb", home / "warehouse.duckdb"
    shipped = f"select count(*) from marts.fct_orders where shipment_id in ({', '.join(map(str, ids))})"
    assert query(warehouse, shipped) == [(len(ids),)]
    total = query(lake, "select count(*) from raw_shop_files.shipments")[0][0]

    done = subprocess.run([str(TOLTEK), "run", "shop_files", "--refresh", "--json"], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    [loaded] = json.loads(done.stdout)["pipelines"]
    assert (loaded["rows"], loaded["refreshed"]) == (total - len(ids), True)
    assert "shop_files: loaded from scratch (its tables dropped and loaded again)" in done.stderr
    assert query(lake, "select count(*), count(*) filter (where _file_name = 'shipments_2025_01.csv') from raw_shop_files.shipments") == [
        (total - len(ids), 0)
    ]
    assert query(warehouse, shipped) == [(0,)]
    assert query(warehouse, "select count(*) from marts.fct_orders") == [(8000,)]
