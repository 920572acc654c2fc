"""The Cloud Storage files source on `file://`: CSV and Parquet, each delivery of a file read once."""

from __future__ import annotations

import dataclasses
import os
import shutil

import pytest
from conftest import query

from pipelines.loading import load
from pipelines.samples import DATA_DIR
from pipelines.shop_files.pipeline import ShopFiles


@pytest.fixture
def files_env(local_env, tmp_path):
    samples = tmp_path / "samples"
    shutil.copytree(DATA_DIR / "files", samples / "files")
    return dataclasses.replace(local_env, samples=samples)


def shipments_dir(env):
    return env.samples / "files" / "shipments"


def test_csv_and_parquet_files_load_into_one_typed_table(files_env):
    files = sorted(p.suffix for p in shipments_dir(files_env).iterdir())
    assert set(files) == {".csv", ".parquet"}
    result = load(ShopFiles, files_env)
    assert result.rows == {"shipments": 6672}
    db = files_env.datalake.path
    assert query(db, "select count(*), count(distinct shipment_id) from raw_shop_files.shipments") == [(6672, 6672)]
    types = dict(
        query(
            db,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw_shop_files' and table_name = 'shipments'",
        )
    )
    assert types["shipment_id"] == "BIGINT"
    assert types["shipped_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["weight_kg"] == "DOUBLE"
    assert query(db, "select count(*) from raw_shop_files.shipments where _dlt_load_id is null") == [(0,)]


def test_second_run_reads_only_new_or_changed_files_and_merges(files_env):
    load(ShopFiles, files_env)
    assert load(ShopFiles, files_env).rows == {}

    drop = shipments_dir(files_env) / "shipments_2026_01.csv"
    drop.write_text(
        "shipment_id,order_id,carrier,shipped_at,delivered_at,weight_kg\n"
        "100001,1,ups,2026-01-02T10:00:00Z,,1.5\n"  # re-delivered: carrier changed
        "900001,9001,dhl,2026-01-03T10:00:00Z,2026-01-04T10:00:00Z,0.75\n"
    )
    later = max(p.stat().st_mtime for p in shipments_dir(files_env).iterdir()) + 60
    os.utime(drop, (later, later))

    assert load(ShopFiles, files_env).rows == {"shipments": 2}
    db = files_env.datalake.path
    # Every delivered version is kept (the staging model picks the newest): 100001 twice.
    assert query(db, "select count(*), count(distinct shipment_id) from raw_shop_files.shipments") == [(6674, 6673)]
    versions = query(db, "select _file_name, carrier, delivered_at from raw_shop_files.shipments where shipment_id = 100001 order by _file_modified_at")
    assert len(versions) == 2 and versions[-1] == ("shipments_2026_01.csv", "ups", None)


def test_every_row_carries_the_id_of_the_load_that_loaded_it(files_env):
    load(ShopFiles, files_env)
    db = files_env.datalake.path
    assert query(
        db,
        "select count(*), count(distinct s._dlt_load_id) from raw_shop_files.shipments s "
        "join raw_shop_files._dlt_loads l on l.load_id = s._dlt_load_id and l.status = 0",
    ) == [(6672, 1)]


def test_the_files_pipeline_never_imports_pandas(files_env):
    """pandas costs over a second to import; pyarrow's dataset API, its conversions of Python
    values and dlt's own load-id column all pull it in. A fresh process loads the sample files and
    one the fast path declines (`0x` in it), read row by row. (Rows the contract discards still
    bring pandas in: dlt writes those Python rows to Parquet through pyarrow.)"""
    import subprocess
    import sys

    script = (
        "import sys, dataclasses, pathlib\n"
        "from pipelines import environments\n"
        "from pipelines.loading import load\n"
        "from pipelines.shop_files.pipeline import ShopFiles\n"
        "env = environments.get('local')\n"
        "env.prepare()\n"
        "result = load(ShopFiles, env)\n"
        "print(result.total_rows, result.discarded, 'pandas' in sys.modules)\n"
    )
    (shipments_dir(files_env) / "zz_late.csv").write_text(
        "shipment_id,order_id,carrier,shipped_at,delivered_at,weight_kg\n"
        "900001,9001,0xpress,2026-01-03T10:00:00Z,,0.75\n900002,9002,ups,2026-01-03T10:00:00.123456789Z,,1\n"
    )
    env = {**os.environ, "TOLTEK_HOME": str(files_env.work_dir.parent / "fresh"), "TOLTEK_SAMPLES": str(files_env.samples)}
    (files_env.samples / "api").mkdir(exist_ok=True)
    (files_env.samples / "sheets").mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["6674", "0", "False"]
