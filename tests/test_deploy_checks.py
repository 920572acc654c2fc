"""Deploy checks: the dev, prd and copy-transfer prd stacks would deploy (zero findings), and each
check reports the change written against it, on the real planned stacks, and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, SUMMARY_LINES, copy_repository
from deploy_cases import CASES, COPY, PRD

from infra.deploy.inputs import args_class
from infra.deploy.report import check_plan, check_resources, checks
from infra.plan import run_plan

COPY_SOURCE = ("    database: \"{{ 'datalake' if target.type == 'duckdb' else env_var('TOLTEK_DATALAKE_PROJECT') }}\"", '    database: "{{ target.database }}"')


def copy_variant(root):
    """Make `shop_sheets` a `transfer = "copy"` pipeline in the repository at `root`, as a team would."""
    pipeline = root / "pipelines" / "shop_sheets" / "pipeline.py"
    text = pipeline.read_text()
    pipeline.write_text(text.replace('    dataset = "raw_shop_sheets"\n', '    dataset = "raw_shop_sheets"\n    transfer = "copy"\n', 1))
    sources = root / "transform" / "models" / "staging" / "shop_sheets" / "_shop_sheets__sources.yml"
    assert COPY_SOURCE[0] in sources.read_text()
    sources.write_text(sources.read_text().replace(*COPY_SOURCE))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = copy_repository(tmp_path_factory.mktemp("repo"))
    copy_variant(root)
    return root


@pytest.fixture(scope="module")
def plans(tree, monkeypatch_module):
    """The real plans: prd, dev, and prd with shop_sheets copied (in-process, dbt sources from `tree`)."""
    from pipelines.shop_sheets.pipeline import ShopSheets

    out = {PRD: (run_plan("prd"), None), "dev": (run_plan("dev"), None)}
    monkeypatch_module.setattr(ShopSheets, "transfer", "copy")
    out[COPY] = (run_plan("prd"), tree)
    monkeypatch_module.undo()
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_toltek_plan_of_the_copy_variant_has_no_finding_from_a_repository_copy(tree):
    """The copy variant, end to end: the program and checks of a repository where a pipeline copies."""
    done = subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", "plan", "-s", "prd", "--json"],
        cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(done.stdout)
    assert document["findings"] == []
    types = [r["type"] for r in document["resources"]]
    assert types.count("gcp:bigquery/dataTransferConfig:DataTransferConfig") == 1
    copier = [r["inputs"] for r in document["resources"] if r["type"] == "gcp:projects/iAMMember:IAMMember" and "toltek-copier" in r["inputs"]["member"]]
    assert [(g["project"], g["role"]) for g in copier] == [("toltek-dwh-prd", "roles/bigquery.jobUser")]


@pytest.mark.parametrize("stack", [PRD, "dev", COPY])
def test_the_stacks_have_no_deploy_finding(plans, stack):
    plan, root = plans[stack]
    report = check_resources(plan.resources, stack=plan.stack, invokes=plan.invokes, root=root)
    assert report.findings == [], [(f.rule, f.resource, f.path, f.message) for f in report.findings]
    preview = run_plan(plan.stack, preview=True) if stack != COPY else None
    if preview is not None:  # unknowns (image digests) are not judged, not passed as wrong
        assert check_plan(preview).findings == []


def test_each_secret_a_job_reads_needs_a_version_with_the_command_to_add_it(plans):
    plan, _ = plans[PRD]
    [version] = check_plan(plan).secret_versions
    assert (version.project, version.secret, version.jobs) == ("toltek-datalake-prd", "shop-api-token", ("toltek-shop-api-prd",))
    assert version.command() == 'printf %s "$VALUE" | gcloud secrets versions add shop-api-token --project toltek-datalake-prd --data-file=-'


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case(plans, case):
    plan, root = plans[case.stack]
    resources, invokes = case.mutate(list(plan.resources), list(plan.invokes))
    report = check_resources(resources, stack=plan.stack, invokes=invokes, root=root)
    assert report.rule_ids() == case.expect, [(f.rule, f.resource, f.path, f.message) for f in report.findings]
    for f in report.findings:
        assert f.resource and f.message and "\n" not in f.message


def test_every_check_has_a_passing_case_and_two_failing_ones():
    for check in checks():
        mine = [c for c in CASES if c.check == check.id]
        assert sum(1 for c in mine if c.expect) >= 2, check.id
        assert sum(1 for c in mine if not c.expect) >= 1 or check.id == "order-user-after-account", check.id


def test_every_check_catches_its_mutations_and_the_score_is_100_percent(plans):
    caught, missed = [], []
    for case in (c for c in CASES if c.expect):
        plan, root = plans[case.stack]
        resources, invokes = case.mutate(list(plan.resources), list(plan.invokes))
        found = check_resources(resources, stack=plan.stack, invokes=invokes, root=root).rule_ids()
        (caught if case.check in found else missed).append((case.id, sorted(found)))
    total = len(caught) + len(missed)
    covered = {c.check for c in CASES if c.expect}
    SUMMARY_LINES.append(f"deploy-check mutation score: {len(caught)}/{total} = {len(caught) / total:.0%} ({len(covered)} of {len(checks())} checks mutated)")
    SUMMARY_LINES.extend(f"  missed {case}: found {found}" for case, found in missed)
    assert covered == {c.id for c in checks()}
    assert missed == []


def test_the_input_types_come_from_the_installed_sdk():
    import pulumi_gcp

    assert args_class("gcp:cloudrunv2/job:Job") is pulumi_gcp.cloudrunv2.JobArgs
    assert args_class("pulumi:providers:gcp") is pulumi_gcp.ProviderArgs
    assert args_class("docker:index/image:Image").__module__.startswith("pulumi_docker")


def test_the_readme_holds_the_generated_first_deploy_checklist():
    from infra.deploy.checklist import stack_checklist

    generated = stack_checklist()
    assert "pulumi up -s prd" in generated and "gcloud secrets versions add shop-api-token" in generated
    assert generated in (REPO_ROOT / "README.md").read_text(), "README is stale: paste `toltek plan --checklist` into it"


def test_a_program_that_never_enables_kms_fails_plan_and_policy_naming_the_check(tmp_path):
    tree = copy_repository(tmp_path / "repo")
    datalake = tree / "infra" / "components" / "datalake.py"
    assert datalake.read_text().count('    "cloudkms.googleapis.com",\n') == 1
    datalake.write_text(datalake.read_text().replace('    "cloudkms.googleapis.com",\n', ""))

    def toltek(*args):
        return subprocess.run(
            [sys.executable, "-c", "from pipelines.cli import main; main()", *args],
            cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "COLUMNS": "250", "TOLTEK_HOME": str(tmp_path / "home")},
            capture_output=True, text=True, timeout=300,
        )

    done = toltek("plan", "-s", "prd")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "api-enabled" in done.stdout and "toltek-datalake-prd-keyring" in done.stdout
    assert "cloudkms.googleapis.com is never enabled in toltek-datalake-prd" in done.stdout
    assert done.stdout.rstrip().endswith("stack prd: 4 deploy finding(s)")

    done = toltek("policy", "-s", "prd", "--json")
    assert done.returncode == 1, done.stderr[-2000:]
    reported = json.loads(done.stdout)
    kms = sorted(r["resource"] for r in reported if r["rule"] == "api-enabled")
    assert kms == ["toltek-datalake-prd-data-key", "toltek-datalake-prd-data-key-bigquery", "toltek-datalake-prd-data-key-storage", "toltek-datalake-prd-keyring"]
    assert all(set(r) == {"rule", "level", "resource", "type", "path", "message", "why"} for r in reported)


def test_the_readme_describes_every_check():
    readme = (REPO_ROOT / "README.md").read_text()
    assert [c.id for c in checks() if f"`{c.id}`" not in readme] == []


@pytest.mark.parametrize(
    ("token", "declared"),
    [("gcp:bigquery/datasetAccess:DatasetAccess", "DatasetAccessInitArgs"), ("gcp:compute/securityPolicyRule:SecurityPolicyRule", "SecurityPolicyRuleInitArgs")],
)
def test_a_resource_whose_input_type_is_named_init_args_is_read_by_that_type(token, declared):
    # Where a nested type took `<Name>Args`, the constructor declares `<Name>InitArgs`: that is the
    # type its inputs are checked against (`bigquery.DatasetAccessArgs` is a dataset's access entry).
    assert args_class(token).__name__ == declared


def test_a_dataset_access_entry_with_valid_inputs_passes_the_input_checks():
    from infra.deploy.inputs import check_inputs
    from infra.plan import PlannedResource

    inputs = {"datasetId": "raw_shop_api", "role": "roles/bigquery.dataViewer", "userByEmail": "dbt@toltek-dwh-prd.iam.gserviceaccount.com", "project": "p"}
    access = PlannedResource("gcp:bigquery/datasetAccess:DatasetAccess", "a", "urn:a", True, None, None, inputs, raw_inputs=inputs)
    assert check_inputs(access) == []
    wrong = PlannedResource("gcp:bigquery/datasetAccess:DatasetAccess", "a", "urn:a", True, None, None, {**inputs, "roles": "x"}, raw_inputs={**inputs, "roles": "x"})
    assert [f.rule for f in check_inputs(wrong)] == ["inputs-known-properties"]


def _as_binding(r, member: str):
    """The same grant as the authoritative `*IamBinding` of one role (`members` instead of `member`)."""
    from dataclasses import replace

    from infra.deploy.stack import IAM_BINDING_TYPES, IAM_MEMBER_TYPES

    binding = next(t for t, scope in IAM_BINDING_TYPES.items() if scope == IAM_MEMBER_TYPES[r.type])
    inputs = {k: v for k, v in r.raw_inputs.items() if k != "member"} | {"members": [member]}
    return replace(r, type=binding, inputs=inputs, raw_inputs=inputs)


def test_grants_made_by_iam_bindings_meet_the_access_the_resources_need(plans):
    # An engineer may grant a role authoritatively (`*IamBinding`, a list of members) instead of
    # member by member: the access checks read both. Turning every member grant into a binding of
    # the same member keeps the plan clean; a binding naming someone else leaves the need unmet.
    from infra.deploy.stack import IAM_MEMBER_TYPES

    plan, root = plans[PRD]
    members = [r for r in plan.resources if r.type in IAM_MEMBER_TYPES]
    assert members
    as_bindings = [_as_binding(r, r.raw_inputs["member"]) if r.type in IAM_MEMBER_TYPES else r for r in plan.resources]
    assert check_resources(as_bindings, stack=plan.stack, invokes=plan.invokes, root=root).rule_ids() == set()
    someone_else = [_as_binding(r, "user:someone@example.com") if r.type in IAM_MEMBER_TYPES else r for r in plan.resources]
    found = check_resources(someone_else, stack=plan.stack, invokes=plan.invokes, root=root).rule_ids()
    assert {"access-job-reads-secrets", "access-scheduler-invokes-job"} <= found
