"""Run corpus cases through `toltek policy -s prd --json`, each in its own copy of the repository.

    python tests/corpus_runner.py START STEP  -> JSON lines {"index", "code", "rules", "levels", "error"}

One process runs many cases: pulumi and pulumi-gcp are imported once, the project's own modules
(`infra`, `pipelines`) are purged and imported afresh from each case's copy, and the CLI's `main`
runs in-process exactly as the `toltek` script would.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TREES = ("infra", "pipelines", "transform", "images")
FILES = ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prd.yaml", "pyproject.toml")
IGNORE = shutil.ignore_patterns("target", "logs", "dbt_packages", "*.duckdb")  # bytecode kept: read, not recompiled, per copy


def copy_repo(into: Path) -> Path:
    for name in TREES:
        shutil.copytree(REPO / name, into / name, ignore=IGNORE)
    for name in FILES:
        shutil.copy2(REPO / name, into / name)
    return into


def apply(tree: Path, edits) -> None:  # noqa: ANN001 - policy_corpus.Edit
    for e in edits:
        path = tree / e.path
        if e.old is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text((path.read_text() if path.exists() else "") + e.new.lstrip("\n"))
            continue
        text = path.read_text()
        if text.count(e.old) != 1:
            raise AssertionError(f"{e.path}: the text to replace occurs {text.count(e.old)} times")
        path.write_text(text.replace(e.old, e.new))


def _purge() -> None:
    for name in list(sys.modules):
        if name.split(".", 1)[0] in ("infra", "pipelines"):
            del sys.modules[name]


def run_case(tree: Path) -> tuple[int, list[dict]]:
    _purge()
    sys.path.insert(0, str(tree))
    cwd = os.getcwd()
    os.chdir(tree)
    out = io.StringIO()
    try:
        from pipelines.cli import main

        sys.argv = ["toltek", "policy", "-s", "prd", "--json"]
        code = 0
        with contextlib.redirect_stdout(out):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(cwd)
        sys.path.remove(str(tree))
    text = out.getvalue()
    try:
        return code, json.loads(text) if text.strip() else []
    except json.JSONDecodeError:
        return code, [{"rule": "-", "level": "-", "message": text[-500:]}]


def main() -> None:
    start, step = int(sys.argv[1]), int(sys.argv[2])
    sys.path.insert(0, str(HERE))
    from policy_corpus import CASES

    with tempfile.TemporaryDirectory(prefix="toltek-corpus-") as tmp:
        pristine = copy_repo(Path(tmp) / "pristine")
        for index in range(start, len(CASES), step):
            tree = Path(tmp) / f"case-{index}"
            shutil.copytree(pristine, tree)
            result = {"index": index, "code": None, "rules": [], "levels": {}, "messages": [], "error": None}
            try:
                apply(tree, CASES[index].edits)
                code, found = run_case(tree)
                result.update(
                    code=code,
                    rules=sorted({f["rule"] for f in found}),
                    levels={f["rule"]: f["level"] for f in found},
                    messages=[f"{f['rule']}: {f['message']}" for f in found][:20],
                )
            except Exception as exc:  # noqa: BLE001 - reported to the test as this case's failure
                result["error"] = f"{type(exc).__name__}: {exc}"
            print(json.dumps(result), flush=True)
            shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    main()
