"""What every benchmark row shares: timed child processes, interleaved A/B runs, one row format.

A row compares a measured thing (A) with a yardstick (B) measured in the same invocation on the
same machine, alternating A, B, A, B… so drift (a warm cache, a busy neighbour) hits both alike.
Its result is the ratio of medians (and of minimums); the goal is a bound on that ratio, or, for
the rows the table states in absolute terms, a bound on a measured quantity.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One run: wall seconds and the peak resident memory of the process tree's largest process."""

    seconds: float
    peak_mib: float = 0.0


def run(cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Sample:
    """Run `cmd` to completion: its wall time and its peak RSS (the process's own `wait4` usage;
    a child it forks itself is not counted). A failed run stops the benchmark with its output."""
    import tempfile

    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(list(cmd), env={**os.environ, **(env or {})}, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            output.seek(0)
            tail = output.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"{' '.join(cmd)} failed (exit {process.returncode}):\n{tail}")
    return Sample(seconds, usage.ru_maxrss / 1024)


def stats(samples: list[Sample]) -> dict[str, Any]:
    seconds = [s.seconds for s in samples]
    out: dict[str, Any] = {
        "median_s": round(statistics.median(seconds), 3),
        "min_s": round(min(seconds), 3),
        "runs_s": [round(s, 3) for s in seconds],
    }
    if any(s.peak_mib for s in samples):
        out["peak_mib"] = round(max(s.peak_mib for s in samples), 1)
    return out


def interleaved(a: Callable[[], Sample], b: Callable[[], Sample], runs: int = 3) -> tuple[dict, dict]:
    """`runs` of each, alternating A and B (B first on odd rounds, so neither always goes first)."""
    samples_a: list[Sample] = []
    samples_b: list[Sample] = []
    for i in range(runs):
        order = ((a, samples_a), (b, samples_b)) if i % 2 == 0 else ((b, samples_b), (a, samples_a))
        for fn, into in order:
            into.append(fn())
    return stats(samples_a), stats(samples_b)


def ratio_row(what: str, measured: str, yardstick: str, a: dict, b: dict, goal: float, *, memory_goal: float | None = None) -> dict:
    """A row judged by ratio: A's median over B's must be at most `goal` (and peak memory within
    `memory_goal` of B's, when given)."""
    ratio = a["median_s"] / b["median_s"]
    row = {
        "what": what,
        "measured": {"label": measured, **a},
        "yardstick": {"label": yardstick, **b},
        "ratio_median": round(ratio, 3),
        "ratio_min": round(a["min_s"] / b["min_s"], 3),
        "goal": f"<= {goal}x",
        "ok": ratio <= goal,
    }
    if memory_goal is not None:
        memory_ratio = a["peak_mib"] / b["peak_mib"]
        row["memory_ratio"] = round(memory_ratio, 3)
        row["goal"] += f", memory <= {memory_goal}x"
        row["ok"] = row["ok"] and memory_ratio <= memory_goal
    return row


def bound_row(what: str, measured: dict, value: float, unit: str, goal: float, **extra: Any) -> dict:
    """A row judged by an absolute bound: `value` (in `unit`) must be at most `goal`."""
    return {"what": what, "measured": measured, "value": round(value, 3), "unit": unit, "goal": f"<= {goal} {unit}", "ok": value <= goal, **extra}


def describe(row: dict) -> str:
    mark = "ok  " if row["ok"] else "MISS"
    if "ratio_median" in row:
        m, y = row["measured"], row["yardstick"]
        text = (
            f"{mark} {row['what']}: {m['label']} {m['median_s']:.2f} s vs {y['label']} {y['median_s']:.2f} s "
            f"= {row['ratio_median']:.2f}x (min {row['ratio_min']:.2f}x), goal {row['goal']}"
        )
        if "memory_ratio" in row:
            text += f"; peak {m['peak_mib']:.0f} vs {y['peak_mib']:.0f} MiB = {row['memory_ratio']:.2f}x"
        return text
    return f"{mark} {row['what']}: {row['value']} {row['unit']}, goal {row['goal']}"
