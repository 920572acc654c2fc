"""The shop's REST API: customers, orders (with their items) and products.

Built on dlt's `rest_api` source: pages linked through `next`, an `updated_at` cursor sent as
`updated_since`, `merge` on `id` so a re-delivered record replaces its earlier version, and each
order's `items` list landing in the child table `orders__items`.

Records change while they are being paged. The same record twice in one load: the newest
`updated_at` wins (dlt's `dedup_sort`). A record seen twice moved pages during the run, so others
may have shifted into pages already read: the next run starts again from that record's earlier
version (`rewind_on_move`). And each run looks back `lag` seconds (one schedule interval) for
records committed late with an earlier `updated_at`; `merge` keeps the re-reads idempotent, and a
re-read record exactly as already loaded is dropped (`skip_unchanged`), so a run that found nothing
new loads nothing. (With `lag` 0, dlt's incremental drops the boundary records itself.)
"""


def __getattr__(name: str) -> object:
    # The source (and dlt, pyarrow, requests) loads on first use, not when discovery imports the
    # pipeline class: listing and planning pipelines never pay for it.
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module(f"{__name__}.source"), name)
