"""Google Sheets through the Sheets API v4 `values` endpoint: one table per sheet range.

dlt ships no Sheets source; this one is small. The first row of a range is the header and becomes
the column names (dlt normalizes them to snake case); shorter rows are padded with nulls. In the
cloud the bearer token comes from the job's service account (application-default credentials) —
share the spreadsheet with that account; locally a sample token is passed in.

A sheet has no stable key, so each load replaces its table. A sheet exactly as last loaded (same
digest of its values, kept in the resource's state) is not extracted at all: the run loads no
rows for it and leaves its table alone. The ranges are therefore read when the source is built.
"""


def __getattr__(name: str) -> object:
    # The source (and dlt, pyarrow, requests) loads on first use, not when discovery imports the
    # pipeline class: listing and planning pipelines never pay for it.
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(importlib.import_module(f"{__name__}.source"), name)
