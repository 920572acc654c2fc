"""`toltek policy`: the project's stacks pass; a basic-role grant added to the program fails."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, TOLTEK, toltek_env

from infra.policy.docs import render


def toltek(*args, home, **kw):
    return subprocess.run([str(TOLTEK), *args], capture_output=True, text=True, env=toltek_env(home), timeout=300, **kw)


@pytest.mark.parametrize("stack", ["dev", "prd"])
def test_the_projects_stacks_pass(tmp_path, stack):
    done = toltek("policy", "-s", stack, home=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"stack {stack}: 0 mandatory, 0 advisory violation(s)" in done.stdout


def test_list_shows_every_rule_with_its_mirrors(tmp_path):
    done = toltek("policy", "--list", "--json", home=tmp_path)
    assert done.returncode == 0
    listed = json.loads(done.stdout)
    assert len(listed) >= 32
    assert sum(r["level"] == "mandatory" for r in listed) >= 32
    assert all(r["mirrors"] or r["rationale"] for r in listed)
    human = toltek("policy", "--list", home=tmp_path)
    assert "iam-no-basic-roles" in human.stdout and "CKV_GCP_117" in human.stdout
    by_id = {r["id"]: r for r in listed}
    # The deny-by-default rules are listed with what they mirror, or why when they mirror nothing.
    for rule_id in ("pack-known-resource-types", "iam-known-roles", "iam-principal-allowance", "iam-grants-resolvable",
                    "iam-custom-role-risky-permissions", "iam-no-domain-principals", "iam-no-federated-principals",
                    "iam-no-external-service-accounts", "secret-no-version-in-code"):
        assert by_id[rule_id]["level"] == "mandatory" and by_id[rule_id]["rationale"], rule_id
    assert "AVD-GCP-0009" in by_id["iam-no-project-impersonation"]["mirrors"]


def test_policy_needs_a_stack_or_list(tmp_path):
    done = toltek("policy", home=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: choose a stack with -s dev or -s prd (or --list)"


def test_docs_are_generated_from_the_rules():
    assert (REPO_ROOT / "docs" / "policies.md").read_text() == render(), "run: python -m infra.policy.docs > docs/policies.md"


EDITOR_GRANT = '''
    # (test) a project-level basic role for a pipeline's account
    gcp.projects.IAMMember(
        "shop-api-editor",
        project=cfg.datalake_project,
        role="roles/editor",
        member=f"serviceAccount:pl-shop-api@{cfg.datalake_project}.iam.gserviceaccount.com",
        opts=pulumi.ResourceOptions(provider=lake_provider),
    )
    return outputs
'''


def test_a_project_level_editor_grant_in_the_program_fails_naming_the_rule(tmp_path):
    tree = tmp_path / "repo"
    for name in ("pipelines", "infra", "transform", "images"):
        shutil.copytree(REPO_ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__", "target"))
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prd.yaml", "pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(REPO_ROOT / name, tree / name)
    program = tree / "infra" / "program.py"
    source = program.read_text()
    assert source.count("    return outputs\n") == 1
    program.write_text(source.replace("    return outputs\n", EDITOR_GRANT))
    done = subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", "policy", "-s", "prd"],
        cwd=tree, env=toltek_env(tmp_path / "home", PYTHONPATH=str(tree)), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "iam-no-basic-roles" in done.stdout
    assert "roles/editor is granted on project toltek-datalake-prd" in done.stdout


def test_policy_config_sets_enforcement_levels_as_pulumi_does(tmp_path):
    """A violation made advisory by config no longer fails the run; disabled, it is not reported."""
    from policy_mutations import MUTATIONS

    from infra.plan import read_stack_file, run_plan
    from infra.policy.offline import analyze, read_policy_config

    plan = run_plan("prd", preview=True)
    config = read_stack_file("prd")
    mutate = dict((rule, m) for rule, _, m in MUTATIONS)["iam-no-user-principals"]
    resources = mutate(plan.resources)
    def levels(report):
        return [v.level for v in report.violations if v.rule == "iam-no-user-principals"]

    assert levels(analyze(resources, stack="prd", config=config)) == ["mandatory"]
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"all": "mandatory", "iam-no-user-principals": {"enforcementLevel": "advisory"}}))
    report = analyze(resources, stack="prd", config=config, enforcement=read_policy_config(path))
    assert levels(report) == ["advisory"]
    path.write_text(json.dumps({"iam-no-user-principals": "disabled"}))
    assert levels(analyze(resources, stack="prd", config=config, enforcement=read_policy_config(path))) == []


def test_a_bad_policy_config_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"no-such-rule": "advisory"}))
    done = toltek("policy", "-s", "prd", "--config", str(path), home=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: policy config {path}: unknown rule 'no-such-rule' (see toltek policy --list)"
    listed = toltek("policy", "--list", "--config", str(path), home=tmp_path)
    assert (listed.returncode, listed.stderr.strip()) == (2, done.stderr.strip())  # --list reads it too


def test_list_shows_each_rules_level_after_the_policy_config(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"all": "advisory", "iam-no-basic-roles": "mandatory", "labels-cost-attribution": "disabled"}))
    done = toltek("policy", "--list", "--json", "--config", str(path), home=tmp_path)
    assert done.returncode == 0, done.stderr
    levels = {r["id"]: r["level"] for r in json.loads(done.stdout)}
    assert levels.pop("iam-no-basic-roles") == "mandatory"
    assert levels.pop("labels-cost-attribution") == "disabled"
    assert set(levels.values()) == {"advisory"}
