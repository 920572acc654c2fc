"""Every command's help reads like the docs: named placeholders, no parser type names, examples
where they help; `--version` prints the version."""

from __future__ import annotations

import re
import subprocess
from importlib.metadata import version

import pytest
from conftest import TOLTEK, toltek_env

COMMANDS = ["pipelines", "run", "transform", "dbt-sources", "new", "status", "trigger", "logs", "plan", "policy"]


def help_of(*args: str, tmp_path) -> str:
    done = subprocess.run([str(TOLTEK), *args, "--help"], capture_output=True, text=True, env=toltek_env(tmp_path, COLUMNS="100"), timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_names_its_placeholders_and_shows_no_type_names(command, tmp_path):
    text = help_of(*([command] if command else []), tmp_path=tmp_path)
    assert not re.search(r"<(bool|str|int|float|list\[[^\]]*\]|path)>", text), text
    if command:
        assert f"Usage: toltek {command}" in text


def test_run_help_shows_four_examples(tmp_path):
    text = help_of("run", tmp_path=tmp_path)
    examples = text.split("Examples:", 1)[1]
    assert len(re.findall(r"^\s*toltek run\b", examples, re.M)) == 4


def test_version(tmp_path):
    done = subprocess.run([str(TOLTEK), "--version"], capture_output=True, text=True, env=toltek_env(tmp_path), timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, f"toltek {version('toltek')}")
