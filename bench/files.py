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

Each side is a child process (`bench/files_children.py`). The toltek side runs `pipelines.cli.main`
in a small wrapper that also reports the time spent in `load()`; it does what the `toltek` script does. Inside the process, both sides are timed with
their modules imported (the bare side imports dlt and pyarrow first; the wrapper imports the
pipeline's source module first).

    .venv/bin/python -m bench.files                  # 3 runs of each side per row
    .venv/bin/python -m bench.files --runs 1 --rows 200000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.files_children import REDELIVERED
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
    """A run of `python -m bench.files_children <mode> <scratch> <report> args…` in a fresh scratch folder;
    the time it spent inside (its report) goes to `inside`; a child that reports how many rows it
    loaded must have loaded `rows`."""

    def once() -> Sample:
        scratch = Path(tempfile.mkdtemp(prefix="run-", dir=work))
        report = scratch / "report.json"
        extra = {"TOLTEK_HOME": str(scratch / "home"), **(env or {})}
        sample = run([PYTHON, "-m", "bench.files_children", mode, str(scratch), str(report), *args], env=extra)
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


def main() -> None:
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
