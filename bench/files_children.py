"""The child processes of `bench.files`: each runs one side of a row once, in a fresh scratch
folder, and writes the time it spent inside (and the rows it loaded) to a report file.

    python -m bench.files_children <mode> <scratch> <report> args...
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import time
from pathlib import Path


def _report(path: Path, seconds: float, rows: int | None = None) -> None:
    path.write_text(json.dumps({"seconds": seconds, "rows": rows}))


def _toltek(scratch: Path, report: Path, argv: list[str]) -> None:
    """`toltek <argv>`, reporting the time spent in `load()`."""
    import pipelines.run

    spent: list[float] = []
    loaded: list[int] = []
    load = pipelines.run.load

    def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        started = time.perf_counter()
        try:
            result = load(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)
        loaded.append(result.total_rows)
        return result

    pipelines.run.load = timed
    # Imports are outside the timer on both sides: the bare child imports dlt and pyarrow before
    # its own; here the pipeline's source module (dlt's filesystem source, pyarrow) is imported
    # first, which `load()` would otherwise do inside. Whole-process rows still count everything.
    for name in argv[1:]:
        if name.isidentifier() and importlib.util.find_spec(f"pipelines.{name}") is not None:
            importlib.import_module(f"pipelines.{name}.source")
    from pipelines.cli import main

    sys.argv = ["toltek", *argv]
    try:
        main()
    except SystemExit as exc:
        if exc.code:
            raise
    _report(report, sum(spent), loaded[0] if loaded else None)


def _duckdb(scratch: Path, report: Path, drops: str) -> None:
    import duckdb

    folder = Path(drops)
    csv = sorted(str(p) for p in folder.glob("*.csv"))
    parquet = sorted(str(p) for p in folder.glob("*.parquet"))
    started = time.perf_counter()
    con = duckdb.connect(str(scratch / "raw.duckdb"))
    con.execute(f"CREATE TABLE shipments AS SELECT * FROM read_csv({csv!r})")
    con.execute(f"INSERT INTO shipments BY NAME SELECT * FROM read_parquet({parquet!r})")
    (loaded,) = con.execute("SELECT count(*) FROM shipments").fetchone()
    con.close()
    _report(report, time.perf_counter() - started, loaded)


COLUMNS = "shipment_id, order_id, carrier, shipped_at, delivered_at, weight_kg, _file_name, _file_modified_at, _dlt_load_id"
MERGES = {
    # what the files source's write disposition makes dlt run
    "by-file": [
        "DELETE FROM d.shipments WHERE _file_name IN (SELECT _file_name FROM s.shipments)",
        f"INSERT INTO d.shipments({COLUMNS}) SELECT {COLUMNS} FROM s.shipments WHERE 1 = 1",
    ],
    # what dlt runs for primary key (shipment_id, _file_name), merge key _file_name, dedup_sort
    "ranked": [
        "DELETE FROM d.shipments as d WHERE EXISTS (SELECT 1 FROM s.shipments as s WHERE d.shipment_id = s.shipment_id"
        " AND d._file_name = s._file_name OR d._file_name = s._file_name)",
        f"INSERT INTO d.shipments({COLUMNS}) SELECT {COLUMNS} FROM (SELECT ROW_NUMBER() OVER (partition BY shipment_id, _file_name"
        f" ORDER BY _file_modified_at DESC) AS _dlt_dedup_rn, {COLUMNS} FROM s.shipments) AS x WHERE _dlt_dedup_rn = 1 AND (1 = 1)",
    ],
}


REDELIVERED = 5_000


def _merge(scratch: Path, report: Path, drops: str, variant: str, case: str) -> None:
    """Stage rows in DuckDB (untimed), then time one merge SQL, commit and close. `new`: the drops'
    rows staged, the table holding 1M rows of other files; `redelivered`: one file of
    REDELIVERED rows staged again over its earlier version."""
    import duckdb

    folder = Path(drops)
    con = duckdb.connect(str(scratch / "merge.duckdb"))
    con.execute("CREATE SCHEMA d; CREATE SCHEMA s")
    rows = (
        "SELECT shipment_id, order_id, carrier, shipped_at::TIMESTAMPTZ AS shipped_at, delivered_at::TIMESTAMPTZ AS delivered_at,"
        " weight_kg, {prefix} || parse_filename(filename) AS _file_name, TIMESTAMPTZ '2026-01-01 00:00:00+00' AS _file_modified_at,"
        " '1795707588.2818' AS _dlt_load_id FROM {source} {limit}"
    )
    csv = sorted(str(p) for p in folder.glob("*.csv"))
    parquet = sorted(str(p) for p in folder.glob("*.parquet"))
    for schema in ("d", "s"):
        prefix = "'earlier_'" if case == "new" and schema == "d" else "''"
        if case == "new":
            con.execute(f"CREATE TABLE {schema}.shipments AS " + rows.format(prefix=prefix, source=f"read_csv({csv!r}, filename = true)", limit=""))
            con.execute(f"INSERT INTO {schema}.shipments " + rows.format(prefix=prefix, source=f"read_parquet({parquet!r}, filename = true)", limit=""))
        else:
            source = f"read_parquet({parquet[0]!r}, filename = true)"
            con.execute(f"CREATE TABLE {schema}.shipments AS " + rows.format(prefix=prefix, source=source, limit=f"LIMIT {REDELIVERED}"))
    con.execute("CHECKPOINT")
    started = time.perf_counter()
    con.execute("BEGIN")
    for statement in MERGES[variant]:
        con.execute(statement)
    con.execute("COMMIT")
    (loaded,) = con.execute("SELECT count(*) FROM s.shipments").fetchone()
    con.close()
    _report(report, time.perf_counter() - started, loaded)


def _bare_files(scratch: Path, report: Path, drops: str) -> None:
    """The same files as Arrow tables (declared types, a `_file_name` column), merged by dlt."""
    import dlt
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from pipelines import arrow
    from pipelines.shop_files.settings import SHIPMENTS_SCHEMA

    started = time.perf_counter()
    tables = []
    for path in sorted(Path(drops).iterdir()):
        if path.suffix == ".csv":
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=SHIPMENTS_SCHEMA))
        else:
            table = pq.ParquetFile(path).read()
        table = table.cast(SHIPMENTS_SCHEMA)
        tables.append(table.append_column("_file_name", pa.repeat(arrow.text(path.name), table.num_rows)))
    pipeline = dlt.pipeline("bare_files", destination=dlt.destinations.duckdb(str(scratch / "bare.duckdb")), dataset_name="raw", pipelines_dir=str(scratch / "dlt"))
    info = pipeline.run(
        tables, table_name="shipments", write_disposition="merge", primary_key=["shipment_id", "_file_name"], loader_file_format="parquet"
    )
    info.raise_on_failed_jobs()
    seconds = time.perf_counter() - started
    with pipeline.sql_client() as client:
        (loaded,) = client.execute_sql("SELECT count(*) FROM shipments")[0]
    _report(report, seconds, loaded)


def _bare_api(scratch: Path, report: Path, samples: str) -> None:
    """dlt's `rest_api` with the shop source's client, paging, cursor and merge."""
    import dlt
    from dlt.sources.rest_api import rest_api_source

    from pipelines.samples import SAMPLE_SECRETS
    from pipelines.samples.server import SampleStore, running
    from pipelines.shop_api.settings import ENTITIES, INITIAL_UPDATED_SINCE, PAGE_SIZE

    with running(SampleStore.load(Path(samples))) as server:
        started = time.perf_counter()
        source = rest_api_source(
            {
                "client": {
                    "base_url": f"{server.url}/shop/v1/",
                    "auth": {"type": "bearer", "token": SAMPLE_SECRETS["shop-api-token"]},
                    "paginator": {"type": "json_link", "next_url_path": "next"},
                },
                "resource_defaults": {
                    "primary_key": "id",
                    "write_disposition": "merge",
                    "columns": {"updated_at": {"dedup_sort": "desc"}},
                    "endpoint": {"data_selector": "data", "params": {"page_size": PAGE_SIZE}},
                },
                "resources": [
                    {
                        "name": entity,
                        "endpoint": {
                            "path": entity,
                            "incremental": {"start_param": "updated_since", "cursor_path": "updated_at", "initial_value": INITIAL_UPDATED_SINCE},
                        },
                    }
                    for entity in ENTITIES
                ],
            },
            max_table_nesting=1,
        )
        pipeline = dlt.pipeline("bare_api", destination=dlt.destinations.duckdb(str(scratch / "bare.duckdb")), dataset_name="raw", pipelines_dir=str(scratch / "dlt"))
        pipeline.run(source, loader_file_format="parquet").raise_on_failed_jobs()
        _report(report, time.perf_counter() - started)


CHILDREN = {"toltek": _toltek, "duckdb": _duckdb, "merge": _merge, "bare-files": _bare_files, "bare-api": _bare_api}




def main() -> None:
    mode, scratch, report, *rest = sys.argv[1:]
    if mode == "toltek":
        _toltek(Path(scratch), Path(report), rest[1:])  # after "--"
    else:
        CHILDREN[mode](Path(scratch), Path(report), *rest)


if __name__ == "__main__":
    main()
