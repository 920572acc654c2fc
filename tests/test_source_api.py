"""A REST API behaving like a live system: records change and move while paged, commit late, vanish, answer HTML.

Each case asserts the exact contents after the runs, so a behaviour that loses or overwrites data
with exit 0 fails here.
"""

from __future__ import annotations

import pytest
from conftest import query

from pipelines.errors import PipelineFailed
from pipelines.loading import load


def orders(env) -> list[tuple]:
    return query(env.datalake.path, "select id, status, updated_at from raw_shop_api.orders order by id")


def source_orders(server) -> list[tuple]:
    return sorted((r["id"], r["status"], r["updated_at"]) for r in server.store.api["orders"].values())


def as_text(rows: list[tuple]) -> list[tuple]:
    """DuckDB timestamps back to the API's ISO text."""
    return [(i, s, u.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(u, "strftime") else u) for i, s, u in rows]


def test_records_changing_and_shifting_while_paged_converge_on_the_next_run(local_env, server):
    """Page 1 is read, then a record on it is updated (it moves to the last page) and every later
    record shifts one place up: the first record of page 3 slides onto page 2, already read. The
    run loads the moved record's new version; the next run (nothing changing) starts from the
    moved record's old position and ends with the source exactly."""
    from pipelines.shop_api.pipeline import ShopApi
    from pipelines.shop_api.settings import PAGE_SIZE

    listing = sorted(server.store.api["orders"].values(), key=lambda r: (r["updated_at"], r["id"]))
    moved, shifted = listing[10], listing[2 * PAGE_SIZE]

    def churn(entity: str, page: int) -> None:
        if entity == "orders" and page == 3:
            server.store.upsert("orders", dict(moved, status="cancelled", updated_at="2026-12-01T00:00:00Z"))
            server.store.before_page = None

    server.store.before_page = churn
    load(ShopApi, local_env)
    first = {r[0]: r for r in as_text(orders(local_env))}
    assert first[moved["id"]][1:] == ("cancelled", "2026-12-01T00:00:00Z")  # the newest version won
    assert shifted["id"] not in first and len(first) == len(listing) - 1  # it slid into a page already read

    load(ShopApi, local_env)
    assert as_text(orders(local_env)) == source_orders(server)


def test_the_rewind_step_runs_after_the_incremental_and_the_unchanged_filter_before_it():
    """dlt puts its incremental step last when a map is added; the rewind must come after it. The
    filter of unchanged re-reads comes before it, so a run that reads nothing new leaves its state."""
    from pipelines.shop_api import shop_api

    source = shop_api(base_url="http://127.0.0.1:9/shop/v1/", access_token="unused", lag_seconds=3600)
    for name in ("customers", "orders", "products"):
        steps = [type(s).__name__ for s in source.resources[name]._pipe.steps]
        assert steps[1:] == ["FilterItem", "_UtcCursorStep", "IncrementalResourceWrapper", "MapItem"], steps
        assert source.resources[name]._pipe.steps[2]._f.__qualname__.startswith("utc_cursor."), "the cursor rewritten after the filter"
    without_lag = shop_api(base_url="http://127.0.0.1:9/shop/v1/", access_token="unused")
    steps = [type(s).__name__ for s in without_lag.resources["orders"]._pipe.steps]
    assert steps[1:] == ["_UtcCursorStep", "IncrementalResourceWrapper", "MapItem"], "dlt's incremental dedups its boundary itself"


def test_the_look_back_state_keeps_only_digests_of_records_it_can_read_again(local_env, server):
    from pipelines.shop_api.pipeline import ShopApi
    from pipelines.sources.incremental import _PRUNE_AT, LOOK_BACK_STATE

    load(ShopApi, local_env)
    import dlt

    pipeline = dlt.attach("toltek_shop_api", pipelines_dir=str(local_env.work_dir))
    resources = pipeline.state["sources"]["shop_api"]["resources"]
    kept = {name: resources[name][LOOK_BACK_STATE] for name in ("customers", "orders", "products")}
    assert 0 < len(kept["orders"]) <= 2 * _PRUNE_AT < len(server.store.api["orders"]), "pruned while paging, not one digest per record"
    newest = max(r["updated_at"] for r in server.store.api["orders"].values())
    assert newest in kept["orders"].values()


def test_an_api_rerun_looks_back_one_schedule_interval(local_env, server):
    """A record committed late, with an updated_at older than the newest already loaded but within
    one schedule interval (an hour for shop_api), is still read by the next run."""
    from pipelines.shop_api.pipeline import ShopApi

    load(ShopApi, local_env)
    newest = max(r["updated_at"] for r in server.store.api["orders"].values())
    late = dict(server.store.api["orders"][3], status="refunded")
    from datetime import datetime, timedelta

    newest_at = datetime.strptime(newest, "%Y-%m-%dT%H:%M:%SZ")
    late["updated_at"] = (newest_at - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    server.store.upsert("orders", late)
    load(ShopApi, local_env)
    assert as_text(orders(local_env)) == source_orders(server)


def test_times_written_with_their_own_offsets_are_compared_as_instants(local_env, server):
    """An API writing each time with a local offset: an order updated a minute after the newest,
    written at +09:00, sorts as text after one updated three hours later written in UTC. dlt's
    incremental compared them as text and dropped the later order (exit 0); both load, and each
    raw row holds the instant the API named."""
    from datetime import datetime, timedelta, timezone

    from pipelines.samples.records import instant
    from pipelines.shop_api.pipeline import ShopApi

    load(ShopApi, local_env)
    newest = max(instant(r["updated_at"]) for r in server.store.api["orders"].values())
    tokyo = timezone(timedelta(hours=9))
    early = dict(server.store.api["orders"][3], status="refunded", updated_at=(newest + timedelta(minutes=1)).astimezone(tokyo).isoformat())
    server.store.upsert("orders", early)
    load(ShopApi, local_env)
    later = dict(server.store.api["orders"][4], status="cancelled", updated_at=(newest + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert later["updated_at"] < early["updated_at"], "as text, the later time sorts first"
    server.store.upsert("orders", later)
    load(ShopApi, local_env)
    expected = sorted((r["id"], r["status"], instant(r["updated_at"])) for r in server.store.api["orders"].values())
    assert [(i, s, u.astimezone(timezone.utc)) for i, s, u in orders(local_env)] == expected
    assert isinstance(expected[0][2], datetime)


@pytest.mark.parametrize(
    ("raw", "starting"),
    [("<html><body>Service temporarily unavailable</body></html>", "<html><body>Service temporarily unavailable</body></html>"),
     ('{"data": [{"id": 1,', '{"data": [{"id": 1,')],
    ids=["html", "truncated json"],
)
def test_an_api_answer_that_is_not_json_fails_naming_the_endpoint(local_env, server, raw, starting):
    from pipelines.samples.server import Fault
    from pipelines.shop_api.pipeline import ShopApi

    server.inject(Fault(path="/shop/v1/customers", raw=raw, times=-1))
    with pytest.raises(PipelineFailed) as caught:
        load(ShopApi, local_env)
    assert str(caught.value) == (
        f"pipeline 'shop_api' failed in extract: response from GET {server.url}/shop/v1/customers is not JSON "
        f"(text/html, starting {starting!r})"
    )


def test_a_record_deleted_upstream_stays_in_raw(local_env, server):
    """An `updated_since` API never reports deletions: the raw table keeps what it last saw."""
    from pipelines.shop_api.pipeline import ShopApi

    load(ShopApi, local_env)
    del server.store.api["customers"][5]
    load(ShopApi, local_env)
    assert query(local_env.datalake.path, "select count(*) from raw_shop_api.customers where id = 5") == [(1,)]
