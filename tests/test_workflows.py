"""The GitHub workflows lint clean with actionlint, and CI runs the README's test command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT


def test_workflows_pass_actionlint():
    workflows = sorted(str(p) for p in (REPO_ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    done = subprocess.run([str(Path(sys.executable).parent / "actionlint"), *workflows], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ci_runs_make_test():
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
    assert "bash .ci/run" in (REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text()
