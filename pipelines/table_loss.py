"""Loads that would empty (or shrink) a table whole are refused before they reach the destination.

Two kinds of load replace a table's rows with what the source gives now: a `replace` resource,
on every load, and any table `toltek run --refresh` drops and loads again. A source that gives no
rows for such a table is far more often an accident (a sheet cleared by mistake, an expired
token filtering everything out, a landing folder a lifecycle rule emptied) than the truth, so the
load is refused unless the pipeline declares `allow_empty_replace`; with `max_replace_loss` it
is also refused when it would lose more than that fraction of the rows.
"""

from __future__ import annotations

from collections.abc import Mapping

import dlt

from pipelines.base import Pipeline

DISCARDED_TABLE = "discarded_rows"


def rows_now(dlt_pipeline: dlt.Pipeline, table: str) -> int:
    """Rows `table` holds in the destination now (0 when it does not exist yet)."""
    from dlt.destinations.exceptions import DatabaseUndefinedRelation

    try:
        with dlt_pipeline.sql_client() as client:
            rows = client.execute_sql(f"SELECT COUNT(1) FROM {client.make_qualified_table_name(table)}")
    except DatabaseUndefinedRelation:
        return 0
    return int(rows[0][0]) if rows else 0


def dropped_tables(dlt_pipeline: dlt.Pipeline, load_ids: list[str]) -> dict[str, dict]:
    """The tables packages not loaded yet will drop before loading (a refresh), by name, as their
    schemas stood: what dlt wrote into each package's state."""
    from dlt.common.storages.exceptions import LoadPackageNotFound

    dropped: dict[str, dict] = {}
    for load_id in load_ids:
        try:  # normalized (a pending one, resumed), else extracted
            state = dlt_pipeline.get_load_package_state(load_id)
        except LoadPackageNotFound:
            state = dlt_pipeline._get_normalize_storage().extracted_packages.get_load_package_state(load_id)
        for table in state.get("dropped_tables", []):
            dropped[table["name"]] = table
    return dropped


def package_rows(dlt_pipeline: dlt.Pipeline, load_ids: list[str]) -> dict[str, int]:
    """Rows per table that normalized packages hold, loaded or not (their Parquet jobs' footers):
    what a table holds once they are loaded, if they replace it."""
    import pyarrow.parquet as pq

    rows: dict[str, int] = {}
    for load_id in load_ids:
        jobs = dlt_pipeline.get_load_package_info(load_id).jobs
        for job in [*jobs.get("new_jobs", []), *jobs.get("started_jobs", []), *jobs.get("completed_jobs", [])]:
            table = job.job_file_info.table_name
            if job.file_path.endswith(".parquet") and not table.startswith("_dlt"):
                rows[table] = rows.get(table, 0) + pq.read_metadata(job.file_path).num_rows
    return rows


def replace_loss(
    pipeline: type[Pipeline], dlt_pipeline: dlt.Pipeline, row_counts: Mapping[str, int], dropped: Mapping[str, dict] | None = None
) -> str | None:
    """Why a normalized package must not be loaded: a table it replaces whole (a `replace` table
    it holds rows for, or one of the `dropped` tables of a refresh) that it would empty, or shrink
    by more than the pipeline's `max_replace_loss`; None when there is none. `row_counts`: rows
    per table in the package."""
    dropped = dropped or {}
    tables = dlt_pipeline.default_schema.tables
    replaced = {
        name: "refresh" if name in dropped else "replace"
        for name in {*row_counts, *dropped}
        if name in dropped or tables.get(name, {}).get("write_disposition") == "replace"
    }
    for table, how in sorted(replaced.items()):
        declared = dropped.get(table) or tables.get(table, {})
        if table.startswith("_dlt") or table == DISCARDED_TABLE or (declared.get("parent") and how == "replace"):
            continue  # a refresh drops nested tables too: one it would not load again is gone
        if pipeline.allow_empty_replace and pipeline.max_replace_loss is None:
            continue
        new = row_counts.get(table, 0)
        now = rows_now(dlt_pipeline, table) if new == 0 or pipeline.max_replace_loss is not None else 0
        what = f"table {pipeline.dataset}.{table}" if how == "replace" else f"--refresh: table {pipeline.dataset}.{table}"
        if now and new == 0 and not pipeline.allow_empty_replace:
            return f"{what} would be emptied (it has {now} rows, this load none; declare allow_empty_replace = True if that is real)"
        loss = pipeline.max_replace_loss
        if now and loss is not None and new and new < now * (1 - loss):
            return f"{what} would shrink from {now} to {new} rows, more than max_replace_loss = {loss}"
    return None
