"""The YAML the project reads (stack files, the dbt project, prices) reads the same through
libyaml's C parser as through PyYAML's own, and broken YAML still raises `yaml.YAMLError`."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import REPO_ROOT

from pipelines import yaml_text

FILES = sorted(
    p for pattern in ("Pulumi*.yaml", "infra/*.yaml", "transform/**/*.yml", ".github/**/*.yml")
    for p in REPO_ROOT.glob(pattern) if "target" not in p.parts
)


def test_the_c_parser_is_used_where_pyyaml_has_it():
    assert yaml.__with_libyaml__, "PyYAML's wheels carry libyaml"
    assert yaml_text._LOADER is yaml.CSafeLoader


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_yaml_file_reads_as_pyyaml_reads_it(path):
    text = path.read_text()
    assert yaml_text.safe_load(text) == yaml.safe_load(text)


@pytest.mark.parametrize("text", ["config:\n  a: [1, 2\n", "a: 1\n b: 2\n", "a: !!python/object:os.system x\n"])
def test_broken_or_unsafe_yaml_raises_yaml_error(text):
    with pytest.raises(yaml.YAMLError):
        yaml_text.safe_load(text)


def test_a_stack_file_that_is_not_text_is_one_line_naming_it(tmp_path):
    import subprocess

    from conftest import TOLTEK, copy_repository, toltek_env

    tree = copy_repository(tmp_path / "repo")
    stack = tree / "Pulumi.prd.yaml"
    stack.write_bytes(stack.read_bytes().replace(b"europe-west1", b"europe-west\xff", 1))
    for command in (["plan", "-s", "prd"], ["status", "-s", "prd"]):
        done = subprocess.run(
            [str(TOLTEK), *command], capture_output=True, text=True, cwd=tree, timeout=300, env=toltek_env(tmp_path / "home", PYTHONPATH=str(tree)),
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith("error: Pulumi.prd.yaml is not valid YAML: unacceptable character #x00ff"), done.stderr
        assert len(done.stderr.splitlines()) == 1


def test_a_price_file_or_dbt_profile_that_is_not_text_is_named_in_one_line(tmp_path):
    import subprocess

    from conftest import TOLTEK, copy_repository, toltek_env

    tree = copy_repository(tmp_path / "repo")
    prices = tree / "infra" / "prices.yaml"
    prices.write_bytes(prices.read_bytes().replace(b"currency", b"curr\xffency", 1))
    profile = tree / "transform" / "profiles.yml"
    profile.write_bytes(profile.read_bytes().replace(b"toltek:", b"tol\xfftek:", 1))
    env = toltek_env(tmp_path / "home", PYTHONPATH=str(tree))
    done = subprocess.run([str(TOLTEK), "pipelines", "--cost"], capture_output=True, text=True, cwd=tree, timeout=300, env=env)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("error: prices.yaml: not a price file this estimate can read (ReaderError: unacceptable character #x00ff")
    done = subprocess.run([str(TOLTEK), "plan", "-s", "prd", "--json"], capture_output=True, text=True, cwd=tree, timeout=300, env=env)
    assert "Traceback" not in done.stderr and done.returncode == 1, done.stderr
    findings = [f["message"] for f in json.loads(done.stdout)["findings"] if f["rule"] == "access-dbt"]
    assert findings and all(m.startswith("the dbt project cannot be read: transform/profiles.yml: ReaderError: unacceptable character") for m in findings), findings
