"""The local analogue of the cross-project step: the warehouse reaches the datalake's raw data.

In prd a pipeline's raw dataset reaches the warehouse one of two ways (its `transfer`):

- ``read``: the dbt service account reads the dataset in datalake-prd in place (a dataset-level
  grant). Locally the warehouse file attaches the datalake file read-only, as dbt's `local` target
  does; this step checks each such dataset is readable that way.
- ``copy``: a Data Transfer Service copy lands the dataset in the warehouse project. Locally the
  tables are copied into a schema of the same name in the warehouse file, in one transaction.
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
    mode: str
    tables: int
    rows: int
    loaded: bool = True  # False: the raw dataset does not exist yet (its pipeline never loaded)


def transfer(env: Environment, pipelines: list[type[Pipeline]]) -> list[TransferResult]:
    """Attach the datalake to the warehouse read-only, copy the `copy` datasets, and count each raw
    dataset's rows; a dataset never loaded is reported (`loaded=False`), not an error."""
    if not (isinstance(env.datalake, DuckDBStore) and isinstance(env.warehouse, DuckDBStore)):
        raise PipelineFailed("the transfer step runs locally; in the cloud it is IAM (see infra/)")
    env.warehouse.path.parent.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        con = duckdb.connect(str(env.warehouse.path))
    except duckdb.IOException as exc:
        raise PipelineFailed(f"transfer: cannot open the warehouse {env.warehouse.path}: {_first_line(exc)}") from None
    with con:
        try:
            con.execute("ATTACH ? AS datalake (READ_ONLY)", [str(env.datalake.path)])
        except duckdb.IOException as exc:
            raise PipelineFailed(f"transfer: cannot attach the datalake {env.datalake.path}: {_first_line(exc)}") from None
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
                if not tables:  # never loaded: dbt leaves out what depends on it
                    results.append(TransferResult(pipeline.dataset, pipeline.transfer, 0, 0, loaded=False))
                    continue
                if pipeline.transfer == "copy":
                    _copy(con, pipeline.dataset)
                    source = f'"{pipeline.dataset}"'
                else:
                    source = f'datalake."{pipeline.dataset}"'
                rows = sum(con.execute(f'select count(*) from {source}."{t}"').fetchone()[0] for t in tables)
                results.append(TransferResult(pipeline.dataset, pipeline.transfer, len(tables), rows))
        finally:
            con.execute("DETACH datalake")
    return results


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _copy(con: duckdb.DuckDBPyConnection, dataset: str) -> None:
    """Replace the warehouse's copy of `dataset` (dlt's ledger tables included) atomically."""
    tables = [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_catalog = 'datalake' and table_schema = ?",
            [dataset],
        ).fetchall()
    ]
    con.execute("begin transaction")
    try:
        con.execute(f'create schema if not exists "{dataset}"')
        for table in tables:
            con.execute(f'create or replace table "{dataset}"."{table}" as select * from datalake."{dataset}"."{table}"')
        con.execute("commit")
    except BaseException:  # a stop signal too: the warehouse keeps its previous copy whole
        con.execute("rollback")
        raise
