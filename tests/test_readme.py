"""The README's runnable blocks (a fenced `sh` block right after a `<!-- runnable ... -->` line)
run as written, offline, in a directory laid out like a checkout after `make run`: `.venv` and a
`.toltek/` home that one whole run loaded. Every command must exit 0."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from conftest import REPO_ROOT, copy_of_loaded_home

BLOCK = re.compile(r"^<!-- runnable[^>]*-->\n```sh\n(.*?)^```", re.M | re.S)


def runnable_blocks() -> list[str]:
    return BLOCK.findall((REPO_ROOT / "README.md").read_text())


def commands(block: str) -> list[str]:
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_marks_its_quick_start_and_plan_blocks_runnable():
    blocks = runnable_blocks()
    assert len(blocks) >= 2
    assert any(".venv/bin/toltek run" in b for b in blocks) and any(".venv/bin/toltek plan" in b for b in blocks)


@pytest.mark.parametrize("index", range(len(runnable_blocks())))
def test_each_runnable_block_runs_as_written(index, loaded_home, tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(REPO_ROOT / ".venv")
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prd.yaml"):
        (checkout / name).symlink_to(REPO_ROOT / name)
    home = copy_of_loaded_home(loaded_home, checkout / ".toltek")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLTEK_")} | {"TOLTEK_HOME": str(home), "COLUMNS": "120"}
    for command in commands(runnable_blocks()[index]):
        done = subprocess.run(["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr, command
