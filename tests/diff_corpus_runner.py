"""Run diff corpus cases through `toltek plan -s prd --diff BASE --json`, in-process.

    python tests/diff_corpus_runner.py START STEP  -> JSON lines {"index", "code", "flagged", "rules", "findings", "error"}

BASE is the plan document of a copy of the repository (`toltek plan -s prd --json`, evaluated
once; again for a case with `base` edits, after them); the case's edits are then made in that
copy and `toltek plan -s prd --diff BASE --json` runs there. One process runs many cases: pulumi
and pulumi-gcp are imported once, the project's modules are imported afresh from each copy
(`corpus_runner`), and the CLI's `main` runs exactly as the `toltek` script would.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus_runner import _purge, apply, copy_repo  # noqa: E402


@contextlib.contextmanager
def inside(tree: Path) -> Iterator[None]:
    """The project's modules imported from `tree`, with `tree` the working directory."""
    _purge()
    sys.path.insert(0, str(tree))
    cwd = os.getcwd()
    os.chdir(tree)
    try:
        yield
    finally:
        os.chdir(cwd)
        sys.path.remove(str(tree))


def save_plan(tree: Path, path: Path) -> Path:
    """`toltek plan -s prd --json > path`, the plan as `tree` has it."""
    with inside(tree):
        from infra.review import plan_json

        path.write_text(json.dumps(plan_json.evaluate("prd")))
    return path


def plan_diff(tree: Path, base: Path) -> tuple[int, dict]:
    """`toltek plan -s prd --diff BASE --json` in `tree`: its exit code and its document."""
    out = io.StringIO()
    code = 0
    with inside(tree):
        from pipelines.cli import main

        sys.argv = ["toltek", "plan", "-s", "prd", "--diff", str(base), "--json"]
        with contextlib.redirect_stdout(out):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    text = out.getvalue()
    return code, json.loads(text) if text.strip() else {}


def flagged(diff: dict) -> list[list]:
    """[principal, role, scope, target, rules] of every grant the diff says widens IAM."""
    iam = diff.get("iam", {})
    grants = [*iam.get("added", []), *iam.get("changed", [])]
    return [[g["principal"], g["role"], g["scope"], g["target"], [r["rule"] for r in g["widening"]]] for g in grants if g["widening"]]


def main() -> None:
    start, step = int(sys.argv[1]), int(sys.argv[2])
    from diff_corpus import CASES

    with tempfile.TemporaryDirectory(prefix="toltek-diff-corpus-") as tmp:
        pristine = copy_repo(Path(tmp) / "pristine")
        base = save_plan(pristine, Path(tmp) / "base.json")
        for index in range(start, len(CASES), step):
            case, tree = CASES[index], Path(tmp) / f"case-{index}"
            shutil.copytree(pristine, tree)
            result = {"index": index, "code": None, "flagged": [], "rules": [], "findings": [], "error": None}
            try:
                case_base = base
                if case.base:
                    apply(tree, case.base)
                    case_base = save_plan(tree, Path(tmp) / f"base-{index}.json")
                apply(tree, case.edits)
                code, diff = plan_diff(tree, case_base)
                grants = flagged(diff)
                result.update(
                    code=code,
                    flagged=grants,
                    rules=sorted({rule for *_, rules in grants for rule in rules}),
                    findings=[f"{f['rule']}: {f['message']}" for f in diff.get("findings", [])][:10],
                )
            except Exception as exc:  # noqa: BLE001 - reported to the test as this case's failure
                result["error"] = f"{type(exc).__name__}: {exc}"
            print(json.dumps(result), flush=True)
            shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    main()
