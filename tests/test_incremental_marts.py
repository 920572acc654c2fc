"""Incremental marts against what real loads do between builds, each checked on the mart rows a
full refresh would give.

- A load left pending by an interrupted run completes later under its old load id (the time its
  extract started), after another pipeline's newer load was already built: the marts must take
  it (they compare completion times, `_dlt_loads.inserted_at`, not load ids).
- A shipments correction re-assigns a shipment to another order: the order it left loses it (the
  mart's unique shipment test failed on every build until a full refresh).

Both are made in a copy of a loaded home's datalake exactly as dlt leaves them (raw rows under a
load id, its `_dlt_loads` row written at completion), then one `toltek transform` of the mart.
"""

from __future__ import annotations

import subprocess

import duckdb
import pytest
from conftest import TOLTEK, copy_of_loaded_home, query, toltek_env

pytestmark = pytest.mark.e2e


def test_a_late_completing_load_and_a_moved_shipment_reach_the_marts(loaded_home, tmp_path):
    home = copy_of_loaded_home(loaded_home, tmp_path / "home")
    warehouse = home / "warehouse.duckdb"
    order, (shipment, old_order) = 1001, query(warehouse, "select shipment_id, order_id from marts.fct_orders where shipment_id is not null order by order_id limit 1")[0]
    new_order = query(warehouse, f"select min(order_id) from marts.fct_orders where shipment_id is null and order_id <> {order}")[0][0]
    assert query(warehouse, f"select status, is_revenue from marts.fct_orders where order_id = {order}") == [("delivered", True)]

    with duckdb.connect(str(home / "datalake.duckdb")) as con:
        newest = con.execute("select max(cast(load_id as double)) from raw_shop_api._dlt_loads").fetchone()[0]
        # shop_api: its extract started before the newest loads (an older id), it completes now.
        late = f"{newest - 5:.6f}"
        con.execute(f"update raw_shop_api.orders set status = 'refunded', _dlt_load_id = '{late}' where id = {order}")
        con.execute(f"insert into raw_shop_api._dlt_loads (load_id, schema_name, status, inserted_at) values ('{late}', 'shop_api', 0, now())")
        # shop_files: a correction file moves the shipment to another order, loaded now too.
        fresh = f"{newest + 5:.6f}"
        con.execute(
            f"insert into raw_shop_files.shipments select * replace ({new_order} as order_id, 'corrections.csv' as _file_name, "
            f"_file_modified_at + interval 1 day as _file_modified_at, '{fresh}' as _dlt_load_id) "
            f"from raw_shop_files.shipments where shipment_id = {shipment}"
        )
        con.execute(f"insert into raw_shop_files._dlt_loads (load_id, schema_name, status, inserted_at) values ('{fresh}', 'shop_files', 0, now())")

    # The transfer, then the incremental build of the mart both changes land in (staging models are views).
    done = subprocess.run([str(TOLTEK), "transform", "--select", "fct_orders"], capture_output=True, text=True, env=toltek_env(home), timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert query(warehouse, f"select status, is_revenue from marts.fct_orders where order_id = {order}") == [("refunded", False)]
    assert query(warehouse, f"select order_id from marts.fct_orders where shipment_id = {shipment}") == [(new_order,)]
    assert query(warehouse, f"select shipment_id from marts.fct_orders where order_id = {old_order}") == [(None,)]
