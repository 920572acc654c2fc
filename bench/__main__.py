"""`make bench`: every speed goal of the project, measured as ratios in one run on this machine.

Each row compares the measured thing with a yardstick run in the same invocation, alternating the
two (at least three runs each; medians and minimums), or checks a bound the goal states in
absolute terms (ms per resource, seconds). The table is printed and written to
`bench/results/<date>.json` with a description of the machine; the exit code is 1 when a row misses
its goal.

    make bench                                   # everything (about half an hour on 2 cores)
    .venv/bin/python -m bench --only files rerun # some groups
    .venv/bin/python -m bench --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from datetime import date
from pathlib import Path

from bench.harness import bound_row, describe, run

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent
GROUPS = ("files", "rerun", "registry", "suite")


def machine() -> dict[str, object]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "0")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def suite_rows() -> list[dict]:
    """`make test` as CI runs it (set-up already done: the environment is synced), once."""
    sample = run(["make", "-s", "test"], cwd=REPO)
    return [bound_row("make test (pytest -n 2, whole suite)", {"label": "suite", "seconds": round(sample.seconds, 1)}, sample.seconds, "s", 180.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=GROUPS, default=list(GROUPS), help="groups of rows to measure")
    parser.add_argument("--runs", type=int, default=3, help="runs of each side of a comparison (at least 3)")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3: a median of fewer is not a measurement")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="toltek-bench-") as tmp:
        work = Path(tmp)
        for group in args.only:
            print(f"-- {group}", flush=True)
            if group == "files":
                from bench.files import rows as measure
            elif group == "rerun":
                from bench.rerun import rows as measure
            elif group == "registry":
                from bench.registry import rows as measure
            else:
                measured = suite_rows()
                measure = None
            if measure is not None:
                folder = work / group
                folder.mkdir()
                measured = measure(folder, args.runs)
            for row in measured:
                print(describe(row), flush=True)
            rows += measured
    result = {"date": date.today().isoformat(), "machine": machine(), "runs": args.runs, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{result['date']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    missed = [r for r in rows if not r["ok"]]
    print(f"{len(rows) - len(missed)} of {len(rows)} rows meet their goal; written to {path.relative_to(REPO)}")
    raise SystemExit(1 if missed else 0)


if __name__ == "__main__":
    main()
