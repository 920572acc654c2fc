"""The local analogue of the cross-project step: the warehouse reads the datalake's raw datasets.

In prd the dbt service account reads each pipeline's raw dataset in datalake-prd in place (a
dataset-level grant). Locally the warehouse DuckDB file attaches the datalake file read-only, as
dbt's `local` target does; this step checks that every raw dataset is readable that way before
dbt runs, and reports what the warehouse sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipelines.base import Pipeline
from pipelines.environments import DuckDBStore, Environment
from pipelines.errors import PipelineFailed


@dataclass(frozen=True)
class TransferResult:
    dataset: str
    tables: int
    rows: int


def transfer(env: Environment, pipelines: list[type[Pipeline]]) -> list[TransferResult]:
    """Attach the datalake to the warehouse read-only and count each raw dataset's rows."""
    if not (isinstance(env.datalake, DuckDBStore) and isinstance(env.warehouse, DuckDBStore)):
        raise PipelineFailed("the transfer step runs locally; in the cloud it is IAM (see infra/)")
    env.warehouse.path.parent.mkdir(parents=True, exist_ok=True)
    results = []
    with duckdb.connect(str(env.warehouse.path)) as con:
        con.execute("ATTACH ? AS datalake (READ_ONLY)", [str(env.datalake.path)])
        try:
            for pipeline in pipelines:
                tables = [
                    name
                    for (name,) in con.execute(
                        "select table_name from information_schema.tables "
                        "where table_catalog = 'datalake' and table_schema = ? "
                        "and table_name not like '\\_dlt%' escape '\\'",
                        [pipeline.dataset],
                    ).fetchall()
                ]
                if not tables:
                    raise PipelineFailed(
                        f"raw dataset '{pipeline.dataset}' of pipeline '{pipeline.name}' is missing from the datalake"
                    )
                rows = sum(
                    con.execute(f'select count(*) from datalake."{pipeline.dataset}"."{t}"').fetchone()[0]
                    for t in tables
                )
                results.append(TransferResult(pipeline.dataset, len(tables), rows))
        finally:
            con.execute("DETACH datalake")
    return results
