"""Loading a pipeline from scratch (`toltek run NAME --refresh`), and finishing one that was cut short.

A refresh is dlt's `refresh="drop_resources"`: the extract resets the resources' state (cursors,
files read, a sheet's digest) and schema, and the load step drops their tables just before the
new rows go in. The reset state reaches the datalake only with the load's completion (its
`_dlt_pipeline_state` row). So a refresh stopped after the drop, its package then lost (a new
Cloud Run container) or set aside (a data failure), leaves tables without their rows behind a
state that says they were read: every later run would load only what is new, and the rows
would be gone with exit 0. Such a run is finished as a refresh instead:

- in a fresh working directory, `dropped_since_last_load` recognises it in the datalake: dlt
  deletes the schema's stored versions when it drops the tables and then stores the new one, so
  every stored version (if any yet) is newer than the last completed load (never so otherwise: a
  load stores its schema version before it completes);
- in the same working directory, the run that set such a package aside leaves a marker
  (`mark_unfinished`), and the next run refreshes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dlt

MARKER = "refresh_unfinished"


def dropped_since_last_load(dlt_pipeline: dlt.Pipeline) -> bool:
    """Whether the datalake shows a refresh that dropped the pipeline's tables after its last
    completed load and did not complete."""
    from dlt.destinations.exceptions import DatabaseUndefinedRelation

    schema = dlt_pipeline.default_schema_name
    if schema is None:
        return False
    names = dlt_pipeline.default_schema
    try:
        with dlt_pipeline.sql_client() as client:
            versions = client.make_qualified_table_name(names.version_table_name)
            loads = client.make_qualified_table_name(names.loads_table_name)
            rows = client.execute_sql(
                f"SELECT (SELECT MIN(inserted_at) FROM {versions} WHERE schema_name = %s), "
                f"(SELECT MAX(inserted_at) FROM {loads} WHERE schema_name = %s AND status = 0)",
                schema, schema,
            )
    except DatabaseUndefinedRelation:  # nothing loaded yet
        return False
    first_version, last_load = rows[0] if rows else (None, None)
    # No stored version at all: the container died between the drop (which deletes them) and
    # storing the new one; a completed load always stored its schema first.
    return last_load is not None and (first_version is None or first_version > last_load)


def mark_unfinished(dlt_pipeline: dlt.Pipeline) -> None:
    (Path(dlt_pipeline.working_dir) / MARKER).touch()


def unfinished(dlt_pipeline: dlt.Pipeline) -> bool:
    return (Path(dlt_pipeline.working_dir) / MARKER).exists()


def finished(dlt_pipeline: dlt.Pipeline) -> None:
    (Path(dlt_pipeline.working_dir) / MARKER).unlink(missing_ok=True)


@contextmanager
def staging_versions_optional() -> Iterator[None]:
    """While a refresh package loads: dlt drops the refreshed tables in the raw dataset and in its
    `_staging` dataset, deleting the schema's stored versions in each, in one transaction per
    dataset; the staging dataset exists (Pulumi creates it in the cloud, dlt's staging truncation
    locally) but has no `_dlt_version` table, and dlt's delete fails there though its docstring
    says it "fails silently if versions table does not exist" (dlt-hub/dlt#1801, still in dlt
    1.31). Here the delete is not issued when the table is not there (failing and going on would
    roll the transaction back, keeping the staging tables of the old types)."""
    from dlt.destinations.job_client_impl import SqlJobClientBase

    original = SqlJobClientBase._delete_schema_in_storage

    def delete(self: SqlJobClientBase, schema: object) -> None:
        exists, _ = self.get_storage_table(self.schema.version_table_name)
        if exists:
            original(self, schema)

    SqlJobClientBase._delete_schema_in_storage = delete
    try:
        yield
    finally:
        SqlJobClientBase._delete_schema_in_storage = original
