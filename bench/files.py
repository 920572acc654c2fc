"""The files path and the local sample folder, each against its yardstick, as ratios.

Every row alternates runs of two child processes (`bench.harness.interleaved`) on the same files in
the same invocation; each run starts from a fresh TOLTEK_HOME or database:

1. `toltek run shop_files --skip-transform` on ~1,007,354 rows of shipment drops (half CSV, half
   Parquet) against raw DuckDB loading the same files (`CREATE TABLE … AS SELECT * FROM
   read_csv(…)`, then `INSERT … SELECT * FROM read_parquet(…)`): whole processes, and the same runs
   timed inside (toltek's `load()` of the pipeline against DuckDB from connect to close), since a
   whole `toltek` process also pays its imports and registry checks;
2. the same against bare dlt loading the same files as Arrow tables with `merge` on
   (`shipment_id`, `_file_name`) (read with pyarrow, no pandas; dlt's own merge defaults);
3. `toltek run shop_files --skip-transform` with the drops in a sample folder that also holds a
   large API sample (`generate --scale 50`) against the same drops alone: time and peak memory;
4. the merge SQL alone, in DuckDB, by file (as the files source merges) against dlt's default for
   its keys (delete by primary key or merge key, insert ranked by `dedup_sort`): for the drops as
   new files into a table of 1M rows, and for one file delivered again over its earlier version
   (the default's delete joins every row of a file with every other: it grows with the square of
   the file's rows, so that case uses a small file);
5. `toltek run shop_api --skip-transform` against bare dlt `rest_api` with the same client,
   paging, incremental cursor and merge, each serving the committed sample from its own process.

The toltek side runs `pipelines.cli.main` in a small wrapper that also reports the time spent in
`load()`; it does what the `toltek` script does. Inside the process, both sides are timed with
their modules imported (the bare side imports dlt and pyarrow first; the wrapper imports the
pipeline's source module first).

    .venv/bin/python -m bench.files                  # 3 runs of each side per row
    .venv/bin/python -m bench.files --runs 1 --rows 200000
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.harness import Sample, describe, interleaved, ratio_row, run, stats

ROWS = 1_007_354
LARGE_SCALE = 50
PYTHON = sys.executable


def make_drops(folder: Path, rows: int, files: int = 8) -> None:
    """`files` drops of shipments, half CSV and half Parquet, deterministic."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from pipelines.shop_files.settings import SHIPMENTS_SCHEMA

    rng = np.random.default_rng(7)
    per_file = rows // files
    start = np.datetime64("2025-01-01T00:00:00", "us")
    for i in range(files):
        ids = np.arange(i * per_file, (i + 1) * per_file, dtype=np.int64) + 100_000
        shipped = start + rng.integers(0, 365 * 86400, per_file).astype("timedelta64[s]")
        table = pa.table(
            {
                "shipment_id": ids,
                "order_id": ids - 50_000,
                "carrier": pa.array(rng.choice(["postnl", "dhl", "dpd", "ups"], per_file)),
                "shipped_at": pa.array(shipped, pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
                "delivered_at": pa.array(shipped + np.timedelta64(2, "D"), pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
                "weight_kg": rng.uniform(0.2, 9.0, per_file).round(3),
            },
            schema=SHIPMENTS_SCHEMA,
        )
        if i % 2:
            pq.write_table(table, folder / f"shipments_{i:02d}.parquet")
        else:
            for at in (3, 4):  # whole seconds, ISO 8601 with a zone
                text = pc.strftime(table.column(at).cast(pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
                table = table.set_column(at, table.schema.field(at).name, text)
            pacsv.write_csv(table, folder / f"shipments_{i:02d}.csv", pacsv.WriteOptions(quoting_style="none"))


def files_alone(work: Path, rows: int) -> Path:
    """A sample folder holding only the drops (api/ and sheets/ empty)."""
    samples = work / f"files-alone-{rows}"
    if not (samples / "files" / "shipments").is_dir():
        (samples / "files" / "shipments").mkdir(parents=True)
        (samples / "api").mkdir()
        (samples / "sheets").mkdir()
        make_drops(samples / "files" / "shipments", rows)
    return samples


def with_large_api(work: Path, drops: Path, scale: int = LARGE_SCALE) -> Path:
    """A generated sample folder at `scale` whose files/shipments are the same drops."""
    samples = work / f"large-{scale}"
    if not (samples / ".toltek-samples").exists():
        subprocess.run([PYTHON, "-m", "pipelines.samples.generate", "--scale", str(scale), "--out", str(samples)], check=True, capture_output=True)
    shutil.rmtree(samples / "files" / "shipments")
    shutil.copytree(drops, samples / "files" / "shipments")
    return samples


def _child(
    work: Path, mode: str, *args: str, env: dict[str, str] | None = None, inside: list[Sample] | None = None, rows: int | None = None
) -> Callable[[], Sample]:
    """A run of `python -m bench.files <mode> <scratch> <report> args…` in a fresh scratch folder;
    the time it spent inside (its report) goes to `inside`; a child that reports how many rows it
    loaded must have loaded `rows`."""

    def once() -> Sample:
        scratch = Path(tempfile.mkdtemp(prefix="run-", dir=work))
        report = scratch / "report.json"
        extra = {"TOLTEK_HOME": str(scratch / "home"), **(env or {})}
        sample = run([PYTHON, "-m", "bench.files", mode, str(scratch), str(report), *args], env=extra)
        done = json.loads(report.read_text())
        if rows is not None and done["rows"] is not None and done["rows"] != rows:
            raise SystemExit(f"{mode} loaded {done['rows']} rows, not {rows}")
        if inside is not None:
            inside.append(Sample(done["seconds"], sample.peak_mib))
        shutil.rmtree(scratch, ignore_errors=True)
        return sample

    return once


def rows(work: Path, runs: int = 3, *, drops_rows: int = ROWS, api_samples: Path | None = None) -> list[dict]:
    """One row per goal of the files path and the sample folder (see the module's docstring)."""
    work.mkdir(parents=True, exist_ok=True)
    alone = files_alone(work, drops_rows)
    drops = alone / "files" / "shipments"
    files_env = {"TOLTEK_SAMPLES": str(alone)}
    toltek_files = ("--", "run", "shop_files", "--skip-transform")
    n = drops_rows // 8 * 8  # what make_drops writes
    out = []

    toltek_in: list[Sample] = []
    duck_in: list[Sample] = []
    a, b = interleaved(
        _child(work, "toltek", *toltek_files, env=files_env, inside=toltek_in, rows=n),
        _child(work, "duckdb", str(drops), inside=duck_in, rows=n),
        runs,
    )
    what = "files pipeline, CSV+Parquet shipment drops -> datalake"
    out.append(ratio_row(what, "toltek run shop_files --skip-transform", "raw DuckDB read_csv/read_parquet into a table", a, b, 2.0))
    out.append(ratio_row(f"{what} (in-process)", "toltek load()", "raw DuckDB, connect to close", stats(toltek_in), stats(duck_in), 2.0))

    toltek_in, bare_in = [], []
    a, b = interleaved(
        _child(work, "toltek", *toltek_files, env=files_env, inside=toltek_in, rows=n),
        _child(work, "bare-files", str(drops), inside=bare_in, rows=n),
        runs,
    )
    out.append(ratio_row(what, "toltek run shop_files --skip-transform", "bare dlt, same files as Arrow, merge", a, b, 1.05))
    out.append(ratio_row(f"{what} (in-process)", "toltek load()", "bare dlt pipeline.run()", stats(toltek_in), stats(bare_in), 1.05))

    large = with_large_api(work, drops)
    a, b = interleaved(
        _child(work, "toltek", *toltek_files, env={"TOLTEK_SAMPLES": str(large)}, rows=n),
        _child(work, "toltek", *toltek_files, env=files_env, rows=n),
        runs,
    )
    out.append(
        ratio_row(
            f"toltek run shop_files --skip-transform, sample folder with a scale-{LARGE_SCALE} API sample",
            "large sample folder", "same files alone", a, b, 1.1, memory_goal=1.1,
        )
    )

    for case, staged, what in (
        ("new", n, f"merge of {n:,} staged rows of new files into a DuckDB table of 1M (SQL only)"),
        ("redelivered", REDELIVERED, f"merge of a re-delivered file of {REDELIVERED:,} rows over its earlier version in DuckDB (SQL only)"),
    ):
        by_file: list[Sample] = []
        ranked: list[Sample] = []
        interleaved(
            _child(work, "merge", str(drops), "by-file", case, inside=by_file, rows=staged),
            _child(work, "merge", str(drops), "ranked", case, inside=ranked, rows=staged),
            runs,
        )
        out.append(ratio_row(what, "delete by file, insert as staged", "dlt default: keys matched, insert ranked", stats(by_file), stats(ranked), 1.05))

    api = api_samples or Path(__file__).resolve().parent.parent / "pipelines" / "samples" / "data"
    api_env = {"TOLTEK_SAMPLES": str(api)}
    a, b = interleaved(
        _child(work, "toltek", "--", "run", "shop_api", "--skip-transform", env=api_env),
        _child(work, "bare-api", str(api)),
        runs,
    )
    out.append(ratio_row("REST pipeline vs bare dlt rest_api, same sample server", "toltek run shop_api --skip-transform", "bare dlt rest_api", a, b, 1.05))
    return out


# The child processes -------------------------------------------------------------------------


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
    if len(sys.argv) > 1 and sys.argv[1] in CHILDREN:
        mode, scratch, report, *rest = sys.argv[1:]
        if mode == "toltek":
            _toltek(Path(scratch), Path(report), rest[1:])  # after "--"
        else:
            CHILDREN[mode](Path(scratch), Path(report), *rest)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--work", type=Path, help="keep generated data here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measured = rows(args.work or Path(tmp), args.runs, drops_rows=args.rows)
    for row in measured:
        print(describe(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(measured, indent=2) + "\n")


if __name__ == "__main__":
    main()
