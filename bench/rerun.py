"""A second `toltek run` with no new data against the first run, both whole processes.

The first run (B) starts on a fresh, empty home: sample server, three pipelines, transfer, dbt
build. The second run (A) is `toltek run` again on a home one first run has loaded, with the same
sample data: each A starts on its own copy of a home loaded once (untimed), so every A is truly a
second run. The two alternate (A, B, B, A, ...); the row is the ratio of their medians.

    .venv/bin/python -m bench.rerun              # 3 runs of each
    .venv/bin/python -m bench.rerun --runs 5
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
from pathlib import Path

from bench.harness import Sample, describe, interleaved, ratio_row, run

TOLTEK = Path(sys.executable).parent / "toltek"
GOAL = 0.10


def toltek_run(home: Path) -> Sample:
    return run([str(TOLTEK), "run"], env={"TOLTEK_HOME": str(home), "COLUMNS": "200"})


def rows(work: Path, runs: int = 3) -> list[dict]:
    loaded = work / "loaded"
    toltek_run(loaded)  # the home every second run copies; not timed
    counter = itertools.count()

    def second_run() -> Sample:
        home = work / f"second-{next(counter)}"
        shutil.copytree(loaded, home)
        return toltek_run(home)

    def first_run() -> Sample:
        return toltek_run(work / f"first-{next(counter)}")

    a, b = interleaved(second_run, first_run, runs)
    return [
        ratio_row(
            "second toltek run with no new data vs first run",
            "second run (no new data)",
            "first run (fresh home)",
            a,
            b,
            goal=GOAL,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="toltek-rerun-") as tmp:
        measured = rows(Path(tmp), args.runs)
    for row in measured:
        print(json.dumps(row))
        print(describe(row))


if __name__ == "__main__":
    main()
