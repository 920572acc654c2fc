"""BASE of `toltek plan --diff BASE`: a saved plan, or the stack as a git ref of this repository
plans it.

A path to an existing file is read as a saved `toltek plan -s STACK --json`. Anything else must
name a commit (a branch, tag, `HEAD~1`, a SHA): it is checked out with `git worktree add
--detach` into a temporary directory, and the stack is evaluated there in a subprocess with that
commit's own `infra/` and `pipelines/` first on the path (this environment's installed packages
for the rest; a commit without them is refused), then the worktree is removed. The document is
written by this version's `plan_json` (run by file path), so any commit whose program
`infra.plan.run_plan` evaluates can be compared, whatever its `toltek plan --json` looked like.

The base is evaluated while this tree's plan is (`Base.document` waits for it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.review import plan_json
from pipelines import signals
from pipelines.errors import UserError

# Run inside the base worktree: this version's plan_json, loaded by path, over that tree's code.
# A module the tree lacks would otherwise come from this environment's installed copy (an
# editable install puts this checkout on the path): refused instead.
RUNNER = """
import importlib.util, json, os, sys
tree = os.path.realpath(os.getcwd())
try:
    import infra.plan, pipelines.environments
except ImportError as exc:
    sys.exit(f"ImportError: {exc}")
for module in (infra.plan, pipelines.environments):
    if not os.path.realpath(module.__file__).startswith(tree + os.sep):
        sys.exit(f"no {module.__name__} there (the installed one would be planned instead)")
spec = importlib.util.spec_from_file_location("toltek_base_plan_json", sys.argv[1])
plan_json = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = plan_json
spec.loader.exec_module(plan_json)
try:
    doc = plan_json.evaluate(sys.argv[2])
except Exception as exc:
    sys.exit(f"{type(exc).__name__}: {' '.join(str(exc).split())}")
json.dump(doc, sys.stdout)
"""
TIMEOUT = 600


@dataclass
class Base:
    """What the diff is against: BASE as given, a file or a git ref (and its commit), its document."""

    source: str
    kind: str  # "file" or "git"
    commit: str | None = None
    _doc: dict[str, Any] | None = None
    _process: subprocess.Popen | None = field(default=None, repr=False)
    _stack: str = ""

    def document(self) -> dict[str, Any]:
        if self._doc is None:
            assert self._process is not None
            try:
                stdout, stderr = self._process.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.communicate()
                raise UserError(f"the plan of {self.label} took more than {TIMEOUT} s") from None
            if self._process.returncode != 0:
                lines = [line for line in stderr.splitlines() if line.strip()]
                why = lines[-1] if lines else f"exit code {self._process.returncode}"
                raise UserError(f"cannot evaluate stack {self._stack} at {self.label}: {why}")
            try:
                self._doc = plan_json.check(json.loads(stdout), self._stack, self.label)
            except (ValueError, plan_json.PlanFileError) as exc:
                raise UserError(f"cannot read the plan of {self.label}: {exc}") from None
        return self._doc

    @property
    def label(self) -> str:
        if not self.commit or self.commit.startswith(self.source):
            return self.source
        return f"{self.source} ({self.commit[:12]})"

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "commit": self.commit}


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=120)


def resolve_commit(repo: Path, ref: str) -> str:
    """The commit `ref` names in the git repository at `repo`; a one-line `UserError` otherwise."""
    if shutil.which("git") is None:
        raise UserError(f"'{ref}' is not a file, and git is not installed to read it as a git ref")
    if ref.startswith("-"):
        raise UserError(f"'{ref}' is neither a plan file nor a git ref")
    inside = _git(repo, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0:
        raise UserError(f"'{ref}' is not a file, and {repo} is not a git repository to read it as a git ref")
    found = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise UserError(f"'{ref}' is neither a plan file nor a git ref (branch, tag or commit) in {repo}")
    return found.stdout.strip()


@contextmanager
def open_base(base: str, stack: str, repo: Path) -> Iterator[Base]:
    """BASE ready to be compared (a git ref's evaluation under way); its worktree removed after."""
    path = Path(base)
    if path.is_file():
        try:
            doc = plan_json.load(path, stack)
        except plan_json.PlanFileError as exc:
            raise UserError(str(exc)) from None
        yield Base(base, "file", _doc=doc, _stack=stack)
        return
    commit = resolve_commit(repo, base)
    scratch = Path(tempfile.mkdtemp(prefix="toltek-base-"))
    tree = scratch / "tree"
    process = None
    try:  # from the checkout on: a stop (SIGTERM, Ctrl-C) while git checks out cleans up too
        with signals.deferred():  # killed half-way, git's checkout child would go on writing the tree
            added = _git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        if added.returncode != 0:
            raise UserError(f"cannot check out {base} into a worktree: {' '.join(added.stderr.split())[:300]}")
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
        process = subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(Path(plan_json.__file__).resolve()), stack],
            cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        yield Base(base, "git", commit, _process=process, _stack=stack)
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.communicate()
        _git(repo, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(scratch, ignore_errors=True)
