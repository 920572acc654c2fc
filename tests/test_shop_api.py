"""The REST API source over real loopback HTTP into a real DuckDB file."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from conftest import query

from pipelines.errors import PipelineFailed
from pipelines.loading import load
from pipelines.samples import SAMPLE_SECRETS
from pipelines.shop_api.pipeline import ShopApi
from pipelines.shop_api.settings import PAGE_SIZE


def api_requests(server, entity):
    return [p for p in server.requests if p == f"/shop/v1/{entity}"]


def test_first_run_follows_every_page(local_env, server):
    result = load(ShopApi, local_env)
    store = server.store.api
    assert result.rows == {
        "customers": len(store["customers"]),
        "orders": len(store["orders"]),
        "orders__items": sum(len(o["items"]) for o in store["orders"].values()),
        "products": len(store["products"]),
    }
    for entity in ("customers", "orders", "products"):
        assert len(api_requests(server, entity)) == math.ceil(len(store[entity]) / PAGE_SIZE)
    db = local_env.datalake.path
    assert query(db, "select count(*), count(distinct id) from raw_shop_api.orders") == [(len(store["orders"]),) * 2]


def look_back(store, entity):
    """Records a rerun reads again: those within one schedule interval of the newest `updated_at`."""
    lag = timedelta(seconds=ShopApi.schedule.shortest_gap_seconds())
    newest = max(datetime.strptime(r["updated_at"], "%Y-%m-%dT%H:%M:%SZ") for r in store[entity].values())
    start = (newest - lag).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [r for r in store[entity].values() if r["updated_at"] >= start]


def test_second_run_without_new_data_makes_one_request_per_resource_and_loads_nothing(local_env, server):
    load(ShopApi, local_env)
    server.requests.clear()
    window = {e: look_back(server.store.api, e) for e in ("customers", "orders", "products")}
    assert all(window.values()), "the look-back reads records again"
    loads = query(local_env.datalake.path, "select count(*) from raw_shop_api._dlt_loads")

    result = load(ShopApi, local_env)

    assert result.rows == {}  # what the look-back read again is exactly as loaded
    assert sorted(server.requests) == ["/shop/v1/customers", "/shop/v1/orders", "/shop/v1/products"]
    assert query(local_env.datalake.path, "select count(*) from raw_shop_api._dlt_loads") == loads, "no load at all"
    assert query(local_env.datalake.path, "select count(*) from raw_shop_api.orders") == [(len(server.store.api["orders"]),)]


def test_changed_and_new_records_merge_without_duplicates(local_env, server):
    load(ShopApi, local_env)
    db = local_env.datalake.path
    changed = dict(server.store.api["orders"][42])
    changed.update(
        status="refunded",
        updated_at="2026-06-05T10:00:00Z",
        items=[{"line": 1, "product_id": 7, "quantity": 5, "unit_price": 10.0}],
    )
    new = dict(changed, id=9001, status="paid", updated_at="2026-06-05T11:00:00Z")
    server.store.upsert("orders", changed, new)
    server.requests.clear()

    result = load(ShopApi, local_env)

    assert result.rows == {"orders": 2, "orders__items": 2}  # what the look-back read again is skipped
    assert api_requests(server, "orders") == ["/shop/v1/orders"]
    assert query(db, "select count(*), count(distinct id) from raw_shop_api.orders") == [(len(server.store.api["orders"]),) * 2]
    assert query(db, "select status from raw_shop_api.orders where id = 42") == [("refunded",)]
    items = query(
        db,
        "select i.line, i.product_id, i.quantity from raw_shop_api.orders__items i "
        "join raw_shop_api.orders o on i._dlt_parent_id = o._dlt_id where o.id = 42",
    )
    assert items == [(1, 7, 5)]
    orphans = query(
        db,
        "select count(*) from raw_shop_api.orders__items i "
        "left join raw_shop_api.orders o on i._dlt_parent_id = o._dlt_id where o._dlt_id is null",
    )
    assert orphans == [(0,)]


def test_a_rejected_token_fails_naming_pipeline_and_status(local_env, server):
    server.api_token = "rotated-token"
    with pytest.raises(PipelineFailed) as caught:
        load(ShopApi, local_env)
    message = str(caught.value)
    assert message.startswith("pipeline 'shop_api' failed in extract: ")
    assert "401" in message
    assert SAMPLE_SECRETS["shop-api-token"] not in message
