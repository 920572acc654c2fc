"""Files in Cloud Storage (or a local folder): the warehouse partner's shipment drops.

dlt's `filesystem` source lists `gs://…` in the cloud and `file://…` locally. A run reads the
files it has not read before, or that changed since (name, modification time and size, kept in the
pipeline's state): a late file with an old modification time is read once, like any other. CSV
and Parquet files are read straight into Arrow tables of one declared schema (the fast path: no
Python rows), each row carrying its file's name and modification time, and merged on
(`shipment_id`, file): a re-delivered file replaces its own rows, and every delivered version of a
shipment is kept, so the staging model can pick the newest (latest modification time, then file
name) however the files arrived. Rows that break the contract (`contract.py`) land in
`discarded_rows` with their reason.
"""


def __getattr__(name: str) -> object:
    # The source (and dlt, pyarrow, requests) loads on first use, not when discovery imports the
    # pipeline class: listing and planning pipelines never pay for it.
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module(f"{__name__}.source"), name)
