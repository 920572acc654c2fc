"""HTTP faults from the sample server: transient ones are retried, permanent ones fail clearly."""

from __future__ import annotations

import pytest
from conftest import query

from pipelines.errors import PipelineFailed
from pipelines.loading import load
from pipelines.samples import SAMPLE_GOOGLE_TOKEN, SAMPLE_SECRETS
from pipelines.samples.server import Fault, SampleStore, running
from pipelines.shop_api.pipeline import ShopApi
from pipelines.shop_api.settings import PAGE_SIZE
from pipelines.shop_sheets.pipeline import ShopSheets

pytestmark = pytest.mark.faults
ORDERS = 1_200  # three pages: the faults are about requests, not volume
PAGES = -(-ORDERS // PAGE_SIZE)  # requests the orders take without a fault


@pytest.fixture
def server():
    """The sample server with the sample's first `ORDERS` orders, and all of its customers,
    products and spreadsheets."""
    sample = SampleStore.load()
    store = SampleStore(spreadsheets=sample.spreadsheets)
    for entity, records in sample.api.items():
        keys = list(records)[:ORDERS] if entity == "orders" else list(records)
        store.upsert(entity, *(records[key] for key in keys))
    with running(store) as srv:
        yield srv


def orders(db):
    return query(db, "select count(*), count(distinct id) from raw_shop_api.orders")


@pytest.mark.parametrize(
    "fault",
    [
        Fault(path="/shop/v1/orders", status=429, retry_after=0, times=2),
        Fault(path="/shop/v1/orders", status=503, times=2),
        Fault(path="/shop/v1/orders", status=500, times=1),
        Fault(path="/shop/v1/customers", reset=True, times=2),
        Fault(path="/shop/v1/orders", delay=1.5, times=1),
    ],
    ids=["429-retry-after", "503", "500", "connection-reset", "slower-than-timeout"],
)
def test_transient_faults_are_retried_and_the_load_completes(local_env, server, monkeypatch, fault):
    monkeypatch.setenv("RUNTIME__REQUEST_TIMEOUT", "1")
    server.inject(fault)
    result = load(ShopApi, local_env)
    assert result.rows["orders"] == ORDERS
    assert orders(local_env.datalake.path) == [(ORDERS, ORDERS)]
    assert fault.times == 0, "the fault was served"
    assert server.requests.count(fault.path) > (PAGES if fault.path.endswith("orders") else 4)  # retried


def test_retries_are_bounded_then_the_run_fails_naming_the_endpoint(local_env, server):
    server.inject(Fault(path="/shop/v1/products", status=503, times=-1))
    with pytest.raises(PipelineFailed) as caught:
        load(ShopApi, local_env)
    assert str(caught.value) == (
        f"pipeline 'shop_api' failed in extract: HTTP 503 Service Unavailable from GET {server.url}/shop/v1/products"
    )
    assert server.requests.count("/shop/v1/products") == 5


@pytest.mark.parametrize(("status", "reason"), [(401, "Unauthorized"), (403, "Forbidden"), (404, "Not Found")])
def test_permanent_errors_fail_at_once_with_one_clear_line_and_commit_nothing(local_env, server, status, reason):
    load(ShopApi, local_env)
    before = orders(local_env.datalake.path)
    server.store.upsert("orders", dict(server.store.api["orders"][1], updated_at="2026-09-01T00:00:00Z", status="refunded"))
    server.inject(Fault(path="/shop/v1/products", status=status, times=-1))
    with pytest.raises(PipelineFailed) as caught:
        load(ShopApi, local_env)
    message = str(caught.value)
    assert message == f"pipeline 'shop_api' failed in extract: HTTP {status} {reason} from GET {server.url}/shop/v1/products"
    assert server.requests.count("/shop/v1/products") == 2  # first run, then one try: not retried
    assert SAMPLE_SECRETS["shop-api-token"] not in message
    # Nothing half-committed: the changed order extracted before the failure is not loaded.
    assert orders(local_env.datalake.path) == before
    assert query(local_env.datalake.path, "select status from raw_shop_api.orders where id = 1") != [("refunded",)]


def test_a_rejected_google_token_names_the_sheets_endpoint(local_env, server):
    server.google_token = "another-token"
    with pytest.raises(PipelineFailed) as caught:
        load(ShopSheets, local_env)
    assert "HTTP 401 Unauthorized from GET" in str(caught.value)
    assert "/sheets/v4/spreadsheets/" in str(caught.value)
    assert SAMPLE_GOOGLE_TOKEN not in str(caught.value)
