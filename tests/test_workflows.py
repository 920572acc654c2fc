"""The GitHub workflows: actionlint clean, CI runs the README's test command, and the guards of
prd hold — both stacks previewed on a pull request with a read-only identity, deploys only from
main with the deployer identity and prd behind a reviewed environment, actions pinned by commit
SHA, least permissions per job, and no passphrase: Cloud KMS encrypts the stacks' secrets."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
PINNED = re.compile(r"^\s*(?:-\s*)?uses:\s*(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)\s*#\s*(?P<tag>v\d+(?:\.\d+){0,2})\s*$")


def workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def steps_text(job: dict) -> str:
    return "\n".join(str(step.get("run", "")) + str(step.get("uses", "")) + str(step.get("with", "")) for step in job["steps"])


def test_workflows_pass_actionlint():
    workflows = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert workflows
    done = subprocess.run([str(Path(sys.executable).parent / "actionlint"), *workflows], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ci_runs_make_test():
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
    assert "bash .ci/run" in (WORKFLOWS / "ci.yml").read_text()


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha_with_its_tag(path):
    uses = [line for line in path.read_text().splitlines() if re.match(r"^\s*(-\s*)?uses:", line)]
    assert uses
    for line in uses:
        match = PINNED.match(line)
        assert match, f"{path.name}: not pinned with a tag comment: {line.strip()}"
        assert re.fullmatch(r"[0-9a-f]{40}", match["ref"]), f"{path.name}: {match['action']} pinned by {match['ref']}, not a commit SHA"


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_permissions_are_read_only_by_default_and_granted_per_job(path):
    data = workflow(path.name)
    assert data["permissions"] == {"contents": "read"}, "the workflow default is read-only"
    for name, job in data["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} states its permissions"
        granted = job["permissions"] or {}
        assert granted != "write-all" and all(v in ("read", "write", "none") for v in granted.values())
        writes = {k for k, v in granted.items() if v == "write"}
        if "id-token" in writes:
            assert "google-github-actions/auth" in steps_text(job), f"{path.name}: {name} asks for a token it does not use"
        if "pull-requests" in writes:
            assert "sticky-pull-request-comment" in steps_text(job), f"{path.name}: {name} writes to pull requests without commenting"
        assert writes <= {"id-token", "pull-requests"}, f"{path.name}: {name} writes {writes}"


def test_pull_requests_preview_both_stacks_with_the_read_only_identity_and_one_comment():
    data = workflow("preview.yml")
    assert set(data["on"]) == {"pull_request"}  # not pull_request_target: no secrets for fork code
    text = (WORKFLOWS / "preview.yml").read_text()
    review = data["jobs"]["review"]
    script = steps_text(review)
    assert "for stack in dev prd" in script and '--diff "$BASE" --markdown' in script and "toltek policy" in script
    assert "-eq 3" in script  # the IAM-widening exit code is caught, not a failure
    comment = [s for s in review["steps"] if "sticky-pull-request-comment" in s.get("uses", "")]
    assert len(comment) == 1 and comment[0]["with"]["header"]  # one comment, updated in place
    gate = data["jobs"]["iam-review"]
    assert gate["environment"] == "iam-review" and "widens == 'true'" in gate["if"]
    preview = data["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prd"]
    assert "GCP_PREVIEW_WORKLOAD_IDENTITY_PROVIDER" in steps_text(preview)
    assert "DEPLOY" not in text, "pull-request code never sees the deployer identity"
    assert "command: preview" in text and "command: up" not in text


def test_deploys_only_from_main_with_the_deployer_identity_and_prd_behind_its_environment():
    data = workflow("deploy.yml")
    assert set(data["on"]) == {"push", "workflow_dispatch"} and data["on"]["push"] == {"branches": ["main"]}
    jobs = data["jobs"]
    assert set(jobs) == {"dev", "prd"}
    for name, job in jobs.items():
        assert job["if"] == "github.ref == 'refs/heads/main'"
        assert job["environment"] == name
        text = steps_text(job)
        assert "GCP_DEPLOY_WORKLOAD_IDENTITY_PROVIDER" in text and "PREVIEW" not in text
        assert f"toltek policy -s {name}" in text and "policyPacks" in text
    assert jobs["prd"]["needs"] == "dev"


def test_no_passphrase_the_stacks_secrets_provider_is_cloud_kms():
    for path in WORKFLOWS.glob("*.yml"):
        assert "PASSPHRASE" not in path.read_text(), path.name
    for stack in ("dev", "prd"):
        provider = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["secretsprovider"]
        assert re.fullmatch(r"gcpkms://projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/[a-z0-9-]+/keyRings/[\w-]+/cryptoKeys/[\w-]+", provider)
