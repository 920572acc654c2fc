"""A corpus run once per test run, however many pytest-xdist workers need it: the first to ask runs
the corpus's runner script in `WORKERS` processes under a file lock; the others read what it wrote.
Each runner process prints one JSON line per case (`"index"` and its result)."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import toltek_env

WORKERS = 2  # the machines have two cores


def results_once(tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str, runner: Path) -> tuple[dict[int, dict], bool]:
    """The corpus's results by case index, and whether this call computed them (the caller then
    reports the score once)."""
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = shared / f"{name}.json"
        if cache.exists():
            return {int(k): v for k, v in json.loads(cache.read_text()).items()}, False
        results = _run(runner, tmp_path_factory.mktemp(f"{name}-home"))
        cache.write_text(json.dumps(results))
        return results, True


def _run(runner: Path, home: Path) -> dict[int, dict]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(runner), str(i), str(WORKERS)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=toltek_env(home),
        )
        for i in range(WORKERS)
    ]
    results = {}
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        for line in out.splitlines():
            result = json.loads(line)
            results[result["index"]] = result
    return results
