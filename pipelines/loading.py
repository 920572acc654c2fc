"""Run one pipeline: its dlt source, extracted, normalized and loaded into the environment's
datalake (DuckDB locally, BigQuery in the cloud), with Parquet load files."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import dlt
from dlt.common.configuration.specs import GcpServiceAccountCredentials
from dlt.common.exceptions import SignalReceivedException
from dlt.sources import DltSource

from pipelines import failures, naming, reload
from pipelines.base import Pipeline
from pipelines.environments import DuckDBStore, Environment
from pipelines.errors import PipelineFailed, SourceDataError, Terminated, UserError
from pipelines.locks import exclusive
from pipelines.preflight import require_local_secrets
from pipelines.reload import staging_versions_optional
from pipelines.samples import SAMPLE_SECRETS
from pipelines.set_aside import is_data_failure, set_aside
from pipelines.table_loss import DISCARDED_TABLE, dropped_tables, package_rows, replace_loss

LOADER_FILE_FORMAT = "parquet"
# Platform-wide dlt settings. Arrow tables get `_dlt_load_id` too (`with_load_id`, not dlt's own
# `add_dlt_load_id`, which imports pandas), so staging models can keep only rows of completed loads
# whatever the source yields.
# A merge's staging tables are emptied once it is done: their rows are not written to disk again
# (DuckDB would write both copies at its next checkpoint) nor kept in BigQuery.
# A completed package's load files are deleted (its metadata stays): kept, they would pile up in a
# local home, and in a Cloud Run task (an in-memory file system) hold every loaded byte in memory
# until the task ends.
# HTTP sources retry 429, 5xx, resets and timeouts with bounded exponential backoff (Retry-After
# honoured, never more than 30 s per wait), then fail the run.
DLT_SETTINGS = {
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": "false",
    "LOAD__TRUNCATE_STAGING_DATASET": "true",
    "LOAD__DELETE_COMPLETED_JOBS": "true",
    "RUNTIME__REQUEST_MAX_ATTEMPTS": "5",
    "RUNTIME__REQUEST_BACKOFF_FACTOR": "1",
    "RUNTIME__REQUEST_MAX_RETRY_DELAY": "30",
    "RUNTIME__REQUEST_TIMEOUT": "60",
}


@dataclass
class LoadResult:
    pipeline: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    refreshed: bool = False  # loaded from scratch, asked for or finishing a refresh cut short

    @property
    def tables(self) -> int:
        return len([t for t in self.rows if t != DISCARDED_TABLE])

    @property
    def total_rows(self) -> int:
        return sum(n for t, n in self.rows.items() if t != DISCARDED_TABLE)

    @property
    def discarded(self) -> int:
        """Rows the source's contract set aside (kept, with reasons, in `discarded_rows`)."""
        return self.rows.get(DISCARDED_TABLE, 0)


def destination(env: Environment) -> object:
    """The dlt destination of the environment's datalake."""
    store = env.datalake
    if isinstance(store, DuckDBStore):
        store.path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(str(store.path))
    credentials = GcpServiceAccountCredentials()
    credentials.project_id = store.project  # the rest from application-default credentials
    return dlt.destinations.bigquery(credentials=credentials, location=store.location)


class HeldDatalake:
    """A local datalake's DuckDB connection, opened at a run's first load and closed when the run
    ends; None in the cloud.

    dlt opens the database file again for each step of a load and closes it after: three to five
    opens (each reads the catalog) and closes (each checkpoints) for one package, a tenth of a
    second of a 1M-row load. Given a connection, dlt borrows duplicates of it and leaves it open.
    A run that loads nothing never opens it."""

    def __init__(self, env: Environment) -> None:
        self._store = env.datalake if isinstance(env.datalake, DuckDBStore) else None
        self._connection = None

    def credentials(self) -> object | None:
        if self._store is not None and self._connection is None:
            import duckdb

            self._connection = duckdb.connect(str(self._store.path))
        return self._connection

    def close(self, *, quietly: bool = False) -> None:
        """Close the connection (DuckDB checkpoints then); `quietly`: when the run failed already,
        a failure to close does not hide why."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.close()
        except Exception:
            if not quietly:
                raise


@contextmanager
def local_secrets(pipeline: type[Pipeline], env: Environment) -> Iterator[None]:
    """Locally, fill each declared secret's config key with the sample server's value.

    In the cloud the Cloud Run job receives the same variables from Secret Manager.
    """
    if not env.is_local:
        yield
        return
    require_local_secrets([pipeline], env)
    saved: dict[str, str | None] = {}
    try:
        for secret, key in pipeline.secrets.items():
            var = naming.env_var_for_config_key(key)
            saved[var] = os.environ.get(var)
            os.environ[var] = SAMPLE_SECRETS[secret]
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def check_write_dispositions(pipeline: type[Pipeline], source: object) -> None:
    """Refuse resources whose write disposition a killed-and-retried run would duplicate."""
    resources = getattr(source, "selected_resources", None)
    if resources is None:  # a single resource
        resources = {getattr(source, "name", "?"): source}
    for name, resource in resources.items():
        disposition = resource.write_disposition
        disposition = disposition.get("disposition") if isinstance(disposition, dict) else disposition
        if disposition not in pipeline.write_dispositions:
            raise PipelineFailed(
                f"pipeline '{pipeline.name}': resource '{name}' uses write disposition '{disposition}'; "
                f"allowed: {', '.join(pipeline.write_dispositions)} (see 'Adding a pipeline' in the README)"
            )


def with_load_id(item: object) -> object:
    """An Arrow table or batch with `_dlt_load_id` set to the load package's id (a map step on
    every resource; other items pass unchanged: dlt's JSON normalizer adds the column itself)."""
    if isinstance(item, dict):  # the common case of row sources, checked first: called per row
        return item
    import pyarrow as pa

    if not isinstance(item, pa.Table | pa.RecordBatch):
        return item
    from pipelines import arrow

    return arrow.with_constant_text(item, arrow.LOAD_ID, dlt.current.load_package_state()["load_id"])


def run_lock(pipeline: type[Pipeline], env: Environment):  # noqa: ANN201 - a context manager
    """One run of a pipeline at a time per working directory: a second one refuses to start."""
    path = env.work_dir / f"{naming.dlt_pipeline_name(pipeline.name)}.lock"
    return exclusive(path, lambda pid: f"pipeline '{pipeline.name}' is already running (pid {pid}); not started")


def load(
    pipeline: type[Pipeline],
    env: Environment,
    on_stage: Callable[[str], None] = lambda stage: None,
    *,
    refresh: bool = False,
) -> LoadResult:
    """Extract, normalize and load `pipeline` into `env`; raise `PipelineFailed` on failure.

    `refresh`: load from scratch, as if for the first time: the tables of the pipeline's resources
    are dropped (at load, so only once the new rows are ready) with their schema and incremental
    state (cursors, files read), and everything the source gives now is loaded (dlt's
    `refresh="drop_resources"`). Refused like an emptying `replace` when the source gives no rows
    for a table that has some (`pipelines.table_loss`)."""
    for var, value in DLT_SETTINGS.items():
        os.environ.setdefault(var, value)
    with run_lock(pipeline, env):
        return _load(pipeline, env, on_stage, refresh)


def _count(result: LoadResult, row_counts: dict[str, int]) -> None:
    """Add the rows a normalize step produced (dlt's own tables aside) to `result`.

    The summary counts rows normalized in this run; rows an interrupted run had normalized but not
    loaded are counted when resuming loads them (`_pending_rows`).
    """
    for table, count in row_counts.items():
        if not table.startswith("_dlt"):
            result.rows[table] = result.rows.get(table, 0) + count


def _pending_rows(dlt_pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows an interrupted run normalized but did not finish loading, per table: its Parquet jobs
    not loaded yet, and those staged for a merge whose SQL job is still to run (row counts from
    the files' Parquet footers). What resuming loads now."""
    import pyarrow.parquet as pq

    rows: dict[str, int] = {}
    for load_id in dlt_pipeline.list_normalized_load_packages():
        jobs = dlt_pipeline.get_load_package_info(load_id).jobs
        pending = [*jobs.get("new_jobs", []), *jobs.get("started_jobs", [])]
        merging = {j.job_file_info.table_name for j in pending if j.file_path.endswith(".sql")}
        for job in [*pending, *jobs.get("completed_jobs", [])]:
            table = job.job_file_info.table_name
            if table.startswith("_dlt") or not job.file_path.endswith(".parquet"):
                continue
            if job in pending or table.split("__")[0] in merging:
                rows[table] = rows.get(table, 0) + pq.read_metadata(job.file_path).num_rows
    return rows


def _discarded_in(dlt_pipeline: dlt.Pipeline, load_ids: list[str]) -> int:
    """Rows set aside by these loads: what `discarded_rows` holds from them (its normalized rows
    also count entries a fixed file resolved, which the load deleted)."""
    if not load_ids:
        return 0
    with dlt_pipeline.sql_client() as client:
        table = client.make_qualified_table_name(DISCARDED_TABLE)
        placeholders = ", ".join(["%s"] * len(load_ids))
        rows = client.execute_sql(f"SELECT COUNT(1) FROM {table} WHERE _dlt_load_id IN ({placeholders})", *load_ids)
    return int(rows[0][0]) if rows else 0


def _normalize(pipeline: type[Pipeline], dlt_pipeline: dlt.Pipeline, result: LoadResult, dropped: dict[str, dict] | None = None) -> None:
    """Normalize, then refuse a package that would empty a table (`dropped`: the tables a refresh drops)."""
    info = dlt_pipeline.normalize()
    problem = replace_loss(pipeline, dlt_pipeline, info.row_counts if info is not None else {}, dropped)
    if problem:
        raise SourceDataError(problem)  # a data failure: the package is set aside, not loaded
    _count(result, info.row_counts if info is not None else {})


def _drop_if_empty(dlt_pipeline: dlt.Pipeline, load_ids: list[str]) -> bool:
    """True when the extracted packages hold nothing (no data, no pipeline state: the source found
    nothing new), after deleting them as dlt's normalize step would, which is all it would do."""
    packages = dlt_pipeline._get_normalize_storage().extracted_packages
    if not all(packages.is_empty_package(load_id) for load_id in load_ids):
        return False
    for load_id in load_ids:
        packages.delete_package(load_id)
    return True


def _may_hold_state(env: Environment) -> bool:
    """Whether the datalake may hold a pipeline's state to restore: not a local one not created yet."""
    return not isinstance(env.datalake, DuckDBStore) or env.datalake.path.exists()


def _dlt_pipeline(pipeline: type[Pipeline], env: Environment) -> dlt.Pipeline:
    """The pipeline's dlt pipeline; dlt's own configuration files it cannot read (a malformed
    .dlt/config.toml or secrets.toml) are one `UserError`, not a traceback."""
    from dlt.common.configuration.exceptions import ConfigProviderException

    try:
        return dlt.pipeline(
            pipeline_name=naming.dlt_pipeline_name(pipeline.name),
            destination=destination(env),
            dataset_name=pipeline.dataset,
            pipelines_dir=str(env.work_dir),
        )
    except ConfigProviderException as exc:
        raise UserError(f"dlt configuration: {' '.join(str(exc).split())}") from None


def _secret_values(pipeline: type[Pipeline]) -> list[str]:
    """The values no failure message may show: the pipeline's secrets and the sample tokens."""
    return [os.environ.get(naming.env_var_for_config_key(k), "") for k in pipeline.secrets.values()] + list(SAMPLE_SECRETS.values())


def _load(pipeline: type[Pipeline], env: Environment, on_stage: Callable[[str], None], refresh: bool) -> LoadResult:
    started = time.monotonic()
    result = LoadResult(pipeline.name)
    try:
        dlt_pipeline = _dlt_pipeline(pipeline, env)
    except UserError:
        raise
    except Exception as exc:  # its working folder cannot be read or written (a full disk, say)
        message = failures.one_line(failures.describe(failures.root_cause(exc)), _secret_values(pipeline))
        raise PipelineFailed(f"pipeline '{pipeline.name}' failed in start: {message}") from None
    stage = "extract"
    load_ids: list[str] = []
    dropped: dict[str, dict] = {}
    datalake = HeldDatalake(env)
    try:
        with local_secrets(pipeline, env):
            if dlt_pipeline.first_run and not dlt_pipeline.has_pending_data and _may_hold_state(env):
                # A fresh working dir (a new container): as dlt's `run` does, restore the pipeline's
                # state (cursors, digests, files read) from the destination before extracting.
                stage = "restore"
                on_stage(stage)
                dlt_pipeline.sync_destination()
                if not refresh and reload.dropped_since_last_load(dlt_pipeline):
                    refresh = True  # a refresh dropped the tables and did not complete: finish it
                stage = "extract"
            if dlt_pipeline.has_pending_data:  # finish what an interrupted run left behind
                stage = "resume"
                on_stage(stage)
                pending = _pending_rows(dlt_pipeline)
                normalized, extracted = dlt_pipeline.list_normalized_load_packages(), dlt_pipeline.list_extracted_load_packages()
                # Checked again: a package may have been normalized by a run that died before its own
                # check. Against all its rows (jobs already loaded included); packages only extracted
                # are checked as they are normalized.
                problem = replace_loss(pipeline, dlt_pipeline, package_rows(dlt_pipeline, normalized), dropped_tables(dlt_pipeline, normalized))
                if problem:
                    raise SourceDataError(problem)
                _count(result, pending)
                dropped = dropped_tables(dlt_pipeline, [*normalized, *extracted])
                _normalize(pipeline, dlt_pipeline, result, dropped_tables(dlt_pipeline, extracted))
                with staging_versions_optional() if dropped else nullcontext():
                    load_ids += dlt_pipeline.load(credentials=datalake.credentials()).loads_ids
                result.refreshed = bool(dropped)
                stage = "extract"
            on_stage(stage)
            # What a killed run's source left in its scratch folder is stale (one run at a time).
            shutil.rmtree(os.path.join(dlt_pipeline.working_dir, naming.SCRATCH_DIR), ignore_errors=True)
            # A refresh is set on the dlt pipeline before the source is built: a source deciding
            # from its state what to extract (an unchanged sheet is not) then takes everything.
            refresh = refresh or reload.unfinished(dlt_pipeline)
            if refresh:
                on_stage("reload")  # extracting everything, from scratch
                result.rows.clear()  # what a resumed package loaded is dropped and loaded again
                result.refreshed = True
            dlt_pipeline.refresh = "drop_resources" if refresh else None
            source = pipeline().source(env)
            check_write_dispositions(pipeline, source)
            selected = source.selected_resources if isinstance(source, DltSource) else {"": source}
            for resource in selected.values():  # none when a source found nothing to read
                resource.add_map(with_load_id)
            extracted = dlt_pipeline.extract(source, loader_file_format=LOADER_FILE_FORMAT, schema_contract=pipeline.schema_contract)
            if not _drop_if_empty(dlt_pipeline, extracted.loads_ids):
                dropped = dropped_tables(dlt_pipeline, extracted.loads_ids)
                stage = "normalize"
                on_stage(stage)
                _normalize(pipeline, dlt_pipeline, result, dropped)
                stage = "load"
                on_stage(stage)
                with staging_versions_optional() if dropped else nullcontext():
                    load_ids += dlt_pipeline.load(credentials=datalake.credentials()).loads_ids
            if DISCARDED_TABLE in result.rows:
                result.rows[DISCARDED_TABLE] = _discarded_in(dlt_pipeline, load_ids)
            reload.finished(dlt_pipeline)
        stage = "load"
        datalake.close()  # its checkpoint: failing there is the load's failure
    except UserError:
        raise
    except Exception as exc:
        cause = failures.root_cause(exc)
        if isinstance(cause, SignalReceivedException):  # dlt's own handler caught SIGTERM/SIGINT
            raise Terminated(cause.signal_code) from None
        message = failures.one_line(failures.describe(cause, pipeline.name), _secret_values(pipeline))
        if is_data_failure(cause):
            # It would fail the same way on every run: keep it aside and roll the state back. A
            # refresh's package may have dropped its tables already: the next run refreshes.
            if stage in ("load", "resume") and dropped:
                reload.mark_unfinished(dlt_pipeline)
            kept = set_aside(dlt_pipeline, env.work_dir.parent / "failed" / pipeline.name, message)
            if kept:
                message += f"; its data is kept in {kept} and the pipeline's state rolled back: fix the source and run again"
        raise PipelineFailed(f"pipeline '{pipeline.name}' failed in {stage}: {message}") from None
    finally:
        datalake.close(quietly=True)
    result.seconds = time.monotonic() - started
    return result
