"""Peak memory and time of `toltek run` as the sample data grows.

Generates the sample data set at each scale (`python -m pipelines.samples.generate --scale N`:
N x 2,000 customers and N x 8,000 orders), runs the whole local ELT on it in a fresh home
(sample server, three pipelines, transfer, dbt build), and reports each run's wall time and peak
resident memory (the kernel's maxrss of that process, from `wait4`). Growth is read as ratios
against the scale-1 run of the same invocation.

    .venv/bin/python -m bench.scale                  # scales 1, 20, 50
    .venv/bin/python -m bench.scale --scales 1 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TOLTEK = Path(sys.executable).parent / "toltek"


def measure(scale: int, work: Path) -> dict[str, float]:
    samples, home = work / f"samples-{scale}", work / f"home-{scale}"
    subprocess.run([sys.executable, "-m", "pipelines.samples.generate", "--scale", str(scale), "--out", str(samples)], check=True, capture_output=True)
    env = {**os.environ, "TOLTEK_HOME": str(home), "TOLTEK_SAMPLES": str(samples)}
    started = time.perf_counter()
    process = subprocess.Popen([str(TOLTEK), "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"toltek run at scale {scale} failed: {stderr[-2000:]}")
    return {"scale": scale, "seconds": round(seconds, 1), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 20, 50])
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in args.scales:
            runs.append(measure(scale, Path(tmp)))
            base = runs[0]
            run = runs[-1]
            print(
                f"toltek run, scale {scale:>3}: {run['seconds']:>7.1f} s ({run['seconds'] / base['seconds']:.1f}x scale {base['scale']}), "
                f"peak RSS {run['peak_rss_mib']:>7.1f} MiB ({run['peak_rss_mib'] / base['peak_rss_mib']:.2f}x) "
                f"for {scale / base['scale']:.0f}x the data",
                flush=True,
            )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "run_scale.json").write_text(json.dumps(runs, indent=2) + "\n")


if __name__ == "__main__":
    main()
