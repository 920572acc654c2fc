"""How `toltek pipelines`, `toltek plan` and `toltek policy` grow with the size of the registry.

Copies the repository, adds N generated pipelines beside the three real ones (a third each of
REST-like pipelines with a secret, file pipelines with a landing prefix, and plain ones; varied
schedules), and times each command there. Growth is read per resource and as ratios against the
smallest registry of the same invocation; nothing generated is committed.

    .venv/bin/python -m bench.registry                 # 10, 100 and 300 generated pipelines
    .venv/bin/python -m bench.registry --sizes 10 1000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TREES = ("infra", "pipelines", "transform", "images")
FILES = ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prd.yaml", "pyproject.toml")
TEMPLATE = '''from pipelines.base import Pipeline
from pipelines.declarations import Schedule


class Generated{n}(Pipeline):
    """Generated pipeline {n} for the registry benchmark."""

    name = "gen_{n}"
    schedule = Schedule("{minute} {hour} * * *", "{zone}")
    dataset = "raw_gen_{n}"
{extra}
    def source(self, env):
        raise NotImplementedError
'''
ZONES = ("Europe/Amsterdam", "Etc/UTC", "America/New_York", "Asia/Tokyo")


def generate(root: Path, count: int) -> None:
    for name in TREES:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "target", "logs"))
    for name in FILES:
        shutil.copy2(REPO / name, root / name)
    for n in range(count):
        package = root / "pipelines" / f"gen_{n}"
        package.mkdir()
        (package / "__init__.py").write_text("")
        extra = (f'    secrets = {{"gen-{n}-token": "sources.gen_{n}.token"}}\n', f'    landing_prefix = "gen-{n}"\n', "")[n % 3]
        text = TEMPLATE.format(n=n, minute=n % 60, hour=(n // 60) % 24, zone=ZONES[n % len(ZONES)], extra=extra)
        (package / "pipeline.py").write_text(text)


def command(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", "from pipelines.cli import main; main()", *args]


def environment(root: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(root), "TOLTEK_HOME": str(root / ".home")}


def timed(root: Path, *args: str) -> float:
    env = {**os.environ, **environment(root)}
    started = time.perf_counter()
    done = subprocess.run(command(root, *args), cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"toltek {' '.join(args)} with the generated registry failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")
    return seconds


def resources(root: Path) -> int:
    done = subprocess.run(
        command(root, "plan", "-s", "prd", "--json"), cwd=root, env={**os.environ, **environment(root)}, capture_output=True, text=True, check=True,
    )
    return len(json.loads(done.stdout)["resources"])


def rows(work: Path, runs: int = 3, small: int = 250, large: int = 1000) -> list[dict]:
    """The table's rows for the registry: `toltek plan` and `toltek policy` per resource at `large`
    pipelines (and their growth against `small`), and `toltek pipelines` at `large`."""
    from bench.harness import bound_row, interleaved, run, stats

    trees = {}
    for size in (small, large):
        trees[size] = work / f"registry-{size}"
        generate(trees[size], size - 3)  # the three real pipelines are in the copy too
    counts = {size: resources(root) for size, root in trees.items()}
    measure = {size: (lambda *args, root=root: run(command(root, *args), env=environment(root), cwd=root)) for size, root in trees.items()}
    out = []
    for label, args in (("plan", ("plan", "-s", "prd", "--json")), ("policy", ("policy", "-s", "prd", "--json"))):
        a, b = interleaved(lambda: measure[large](*args), lambda: measure[small](*args), runs)
        per_large = 1000 * a["median_s"] / counts[large]
        per_small = 1000 * b["median_s"] / counts[small]
        growth = per_large / per_small
        row = bound_row(
            f"toltek {label} -s prd, {large:,} pipelines ({counts[large]:,} resources)",
            {"label": f"{large} pipelines", **a, "resources": counts[large]}, per_large, "ms/resource", 5.0,
            yardstick={"label": f"{small} pipelines", **b, "resources": counts[small], "ms_per_resource": round(per_small, 3)},
            growth_per_resource=round(growth, 3),
        )
        # Linear: the time per resource at four times the registry stays within 25% of the small one's.
        row["goal"] += ", linear (per-resource time x4 registry <= 1.25x)"
        row["ok"] = row["ok"] and growth <= 1.25
        out.append(row)
    listing = stats([measure[large]("pipelines") for _ in range(runs)])
    out.append(bound_row(f"toltek pipelines, {large:,} pipelines (piped)", {"label": f"{large} pipelines", **listing}, listing["median_s"], "s", 1.0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 300])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="toltek-registry-") as tmp:
        for size in args.sizes:
            root = Path(tmp) / f"n{size}"
            generate(root, size)
            row = {
                "pipelines": size + 3,
                "pipelines_s": timed(root, "pipelines"),
                "plan_s": timed(root, "plan", "-s", "prd", "--json"),
                "policy_s": timed(root, "policy", "-s", "prd", "--json"),
                "resources": resources(root),
            }
            row["plan_ms_per_resource"] = 1000 * row["plan_s"] / row["resources"]
            row["policy_ms_per_resource"] = 1000 * row["policy_s"] / row["resources"]
            rows.append({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
            print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    for row in rows[1:]:
        print(
            f"{row['pipelines']} vs {base['pipelines']} pipelines: resources x{row['resources'] / base['resources']:.1f}, "
            f"plan x{row['plan_s'] / base['plan_s']:.1f}, policy x{row['policy_s'] / base['policy_s']:.1f}, "
            f"pipelines x{row['pipelines_s'] / base['pipelines_s']:.1f}"
        )


if __name__ == "__main__":
    main()
