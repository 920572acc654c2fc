"""Deny by default: the pack knows the stacks' resource types, and refuses any other."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, toltek_env

from infra.plan import run_plan
from infra.policy.types import STACK_TYPES, known_types


@pytest.fixture(scope="module")
def stack_types():
    from pipelines.shop_sheets.pipeline import ShopSheets

    types = {r.type for s in ("dev", "prd") for r in run_plan(s, preview=True).resources if r.custom}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ShopSheets, "transfer", "copy")  # the types a copy pipeline adds
        types |= {r.type for r in run_plan("prd", preview=True).resources if r.custom}
    return types


def test_the_list_holds_exactly_the_types_the_stacks_create(stack_types):
    assert stack_types - STACK_TYPES == set(), "a type the stacks create is not listed: write its rules, then list it"
    assert STACK_TYPES - stack_types == set(), "a listed type no stack creates any more: remove it"


def test_types_a_rule_forbids_are_known_and_arbitrary_ones_are_not():
    assert "gcp:serviceaccount/key:Key" in known_types()  # sa-no-keys reads it
    assert "gcp:compute/instance:Instance" not in known_types()
    assert "gcp:cloudrun/service:Service" not in known_types()


VM = '''
        # (test) a new kind of resource in a component
        gcp.compute.Instance(
            f"{project}-debug-vm",
            project=project,
            zone=f"{cfg.region}-b",
            machine_type="e2-small",
            boot_disk={"initialize_params": {"image": "debian-cloud/debian-12"}},
            network_interfaces=[{"network": "default"}],
            opts=after_apis,
        )
        self.register_outputs('''


def test_a_new_resource_type_in_a_component_is_refused_by_toltek_policy(tmp_path):
    tree = tmp_path / "repo"
    for name in ("pipelines", "infra", "transform", "images"):
        shutil.copytree(REPO_ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__", "target", "logs"))
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prd.yaml", "pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(REPO_ROOT / name, tree / name)
    component = tree / "infra" / "components" / "datalake.py"
    source = component.read_text()
    assert source.count("        self.register_outputs(") == 1
    component.write_text(source.replace("        self.register_outputs(", VM))
    done = subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", "policy", "-s", "prd"],
        cwd=tree, env=toltek_env(tmp_path / "home", PYTHONPATH=str(tree), COLUMNS="300"), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "pack-known-resource-types" in done.stdout
    assert "the policy pack has no rules for gcp:compute/instance:Instance (toltek-datalake-prd-debug-vm) yet" in done.stdout
