"""The files source's Arrow path against loading the same rows as Python dicts.

Both load the same CSV and Parquet drops into a fresh DuckDB datalake with dlt, in the same run on
the same machine; the result is the ratio of their wall times (and each one's rows per second).

    make bench                      # 400,000 rows
    .venv/bin/python -m bench --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import dlt
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipelines.shop_files import shop_files
from pipelines.shop_files.settings import SHIPMENTS_SCHEMA

RESULTS = Path(__file__).resolve().parent / "results"


def make_drops(folder: Path, rows: int, files: int = 8) -> None:
    """`files` drops of shipments, half CSV and half Parquet, deterministic."""
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
            csv_table = table.set_column(3, "shipped_at", pa.array([t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in table["shipped_at"].to_pylist()]))
            csv_table = csv_table.set_column(4, "delivered_at", pa.array([t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in table["delivered_at"].to_pylist()]))
            pacsv.write_csv(csv_table, folder / f"shipments_{i:02d}.csv", pacsv.WriteOptions(quoting_style="none"))


def python_rows(folder: Path):  # noqa: ANN201 - a dlt resource
    """The baseline: the same files read into Python dicts, one per row."""

    @dlt.resource(name="shipments", primary_key="shipment_id", write_disposition="merge")
    def rows():
        for path in sorted(folder.iterdir()):
            table = pacsv.read_csv(path) if path.suffix == ".csv" else pq.read_table(path)
            yield table.to_pylist()

    return rows


def timed_load(data: object, work: Path, name: str) -> tuple[float, int]:
    pipeline = dlt.pipeline(
        pipeline_name=name, destination=dlt.destinations.duckdb(str(work / f"{name}.duckdb")),
        dataset_name="raw_bench", pipelines_dir=str(work / "dlt"),
    )
    started = time.perf_counter()
    info = pipeline.run(data, loader_file_format="parquet")
    seconds = time.perf_counter() - started
    info.raise_on_failed_jobs()
    with pipeline.sql_client() as client:
        (count,) = client.execute_sql("select count(*) from shipments")[0]
    return seconds, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=400_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        drops = work / "files" / "shipments"
        drops.mkdir(parents=True)
        make_drops(drops, args.rows)
        arrow_s, arrow_rows = timed_load(shop_files(bucket_url=(work / "files" / "shipments").as_uri()), work, "arrow")
        dicts_s, dict_rows = timed_load(python_rows(drops), work, "dicts")
    assert arrow_rows == dict_rows, (arrow_rows, dict_rows)
    result = {
        "rows": arrow_rows,
        "arrow_seconds": round(arrow_s, 2),
        "python_dicts_seconds": round(dicts_s, 2),
        "speedup": round(dicts_s / arrow_s, 1),
    }
    print(
        f"files source, {arrow_rows:,} rows into DuckDB: Arrow path {arrow_s:.1f} s "
        f"({arrow_rows / arrow_s:,.0f} rows/s), Python dicts {dicts_s:.1f} s ({dict_rows / dicts_s:,.0f} rows/s): "
        f"{result['speedup']}x"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "files_arrow_vs_dicts.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
