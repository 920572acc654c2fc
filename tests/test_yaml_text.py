"""The YAML the project reads (stack files, the dbt project, prices) reads the same through
libyaml's C parser as through PyYAML's own, and broken YAML still raises `yaml.YAMLError`."""

from __future__ import annotations

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
