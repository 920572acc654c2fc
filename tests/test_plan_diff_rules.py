"""`toltek plan --diff`, in process on hand-made plan documents: property paths, the IAM widening
rules over every kind of IAM resource, the cost section, and the Markdown it prints."""

from __future__ import annotations

import json

import pytest
from conftest import REPO_ROOT
from gfm import tables
from rich.console import Console

from infra.review import plan_json, render
from infra.review.compare import compare
from infra.review.conditions import implies, own_part
from infra.review.cost_diff import cost_section
from infra.review.iam_diff import diff_iam
from infra.review.resource_diff import Change, property_changes

LAKE = "toltek-datalake-prd"
BUCKET = "toltek-landing-prd"
PREFIX = 'resource.name.startsWith("b/") || p == "b"'


def sa(name: str, project: str = LAKE) -> str:
    return f"serviceAccount:{name}@{project}.iam.gserviceaccount.com"


def res(type_: str, logical: str, *, project: str | None = LAKE, **inputs) -> dict:
    return {
        "urn": f"urn:pulumi:prd::toltek::{type_}::{logical}", "type": type_, "name": logical, "custom": True,
        "parent": None, "project": project, "protect": False, "inputs": {"project": project, **inputs} if project else inputs,
    }


def project_grant(member: str, role: str, project: str = LAKE) -> dict:
    return res("gcp:projects/iAMMember:IAMMember", f"{member}-{role}-{project}", project=project, role=role, member=member)


def dataset_grant(member: str, role: str, dataset: str) -> dict:
    return res("gcp:bigquery/datasetIamMember:DatasetIamMember", f"{member}-{role}-{dataset}", datasetId=dataset, role=role, member=member)


def secret_grant(member: str, secret: str) -> dict:
    return res("gcp:secretmanager/secretIamMember:SecretIamMember", f"{member}-{secret}", secretId=secret,
               role="roles/secretmanager.secretAccessor", member=member)


def bucket_grant(member: str, condition: str | None) -> dict:
    extra = {"condition": {"title": "its prefix", "expression": condition}} if condition else {}
    return res("gcp:storage/bucketIAMMember:BucketIAMMember", f"{member}-bucket-{bool(condition)}", project=None,
               bucket=BUCKET, role="roles/storage.objectViewer", member=member, **extra)


def job_grant(member: str, role: str, job: str) -> dict:
    return res("gcp:cloudrunv2/jobIamMember:JobIamMember", f"{member}-{role}-{job}", name=job, location="europe-west1", role=role, member=member)


DBT = sa("toltek-dbt", "toltek-dwh-prd")
SCHEDULER = sa("toltek-scheduler")
BASE = [
    res("gcp:serviceaccount/account:Account", "pl-a", accountId="pl-a"),
    dataset_grant(sa("pl-a"), "roles/bigquery.dataEditor", "raw_a"),
    project_grant(sa("pl-a"), "roles/bigquery.jobUser"),
    secret_grant(sa("pl-a"), "a-token"),
    dataset_grant(sa("pl-b"), "roles/bigquery.dataEditor", "raw_b"),
    project_grant(sa("pl-b"), "roles/bigquery.jobUser"),
    secret_grant(sa("pl-b"), "b-token"),
    bucket_grant(sa("pl-b"), PREFIX),
    job_grant(SCHEDULER, "roles/run.invoker", "toltek-a-prd"),
    dataset_grant(DBT, "roles/bigquery.dataEditor", "staging"),
    dataset_grant(DBT, "roles/bigquery.dataViewer", "raw_a"),
    project_grant(DBT, "roles/bigquery.jobUser", "toltek-dwh-prd"),
    res("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "bq-key", project=None, role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
        cryptoKeyId=f"projects/{LAKE}/locations/eu/keyRings/toltek/cryptoKeys/data",
        member="serviceAccount:bq-123@bigquery-encryption.iam.gserviceaccount.com"),
]


def rules_of(*added: dict, base=BASE, removed: tuple[str, ...] = ()) -> dict[tuple[str, str, str], list[str]]:
    """(principal, role, target) -> the widening rules of each grant `added` makes against `base`."""
    head = [r for r in base if r["name"] not in removed] + list(added)
    diff = diff_iam(base, head)
    return {(g.principal, g.role, g.target): [r.rule for r in reasons] for g, reasons in diff.added}


def test_a_new_pipeline_on_its_own_resources_widens_nothing():
    new = sa("pl-c")
    assert rules_of(
        dataset_grant(new, "roles/bigquery.dataEditor", "raw_c"),
        project_grant(new, "roles/bigquery.jobUser"),
        secret_grant(new, "c-token"),
        job_grant(SCHEDULER, "roles/run.invoker", "toltek-c-prd"),
        dataset_grant(DBT, "roles/bigquery.dataViewer", "raw_c"),
    ) == {
        (new, "roles/bigquery.dataEditor", "raw_c"): [],
        (new, "roles/bigquery.jobUser", LAKE): [],
        (new, "roles/secretmanager.secretAccessor", "c-token"): [],
        (SCHEDULER, "roles/run.invoker", "toltek-c-prd"): [],
        (DBT, "roles/bigquery.dataViewer", "raw_c"): [],
    }


@pytest.mark.parametrize(
    ("added", "removed", "expected"),
    [
        # a basic role, for an existing principal (and nothing it held allows what it does)
        (project_grant(DBT, "roles/editor", "toltek-dwh-prd"), (), ["basic-role", "new-role"]),
        # a role within one it holds (viewer within editor) is not new; on a new dataset, not wider
        (dataset_grant(sa("pl-a"), "roles/bigquery.dataViewer", "raw_new"), (), []),
        # a new role for an existing principal
        (job_grant(sa("pl-a"), "roles/run.invoker", "toltek-new-prd"), (), ["new-role"]),
        # dataset -> project
        (project_grant(sa("pl-a"), "roles/bigquery.dataEditor"), (), ["wider-scope"]),
        # the landing bucket without the prefix condition (the conditional grant removed)
        (bucket_grant(sa("pl-b"), None), (f"{sa('pl-b')}-bucket-True",), ["wider-scope"]),
        # another pipeline's secret and dataset: roles it holds, on resources it never reached
        (secret_grant(sa("pl-a"), "b-token"), (), ["existing-resource"]),
        (dataset_grant(sa("pl-a"), "roles/bigquery.dataEditor", "raw_b"), (), ["existing-resource"]),
        # new principal kinds: a person, a group, a domain, another project's account
        (dataset_grant("user:ana@example.com", "roles/bigquery.dataViewer", "raw_new"), (), ["new-principal-kind"]),
        (dataset_grant("group:data@example.com", "roles/bigquery.dataViewer", "raw_new"), (), ["new-principal-kind"]),
        (dataset_grant("domain:example.com", "roles/bigquery.dataViewer", "raw_new"), (), ["new-principal-kind"]),
        (dataset_grant(sa("etl", "other-project"), "roles/bigquery.dataViewer", "raw_new"), (), ["new-principal-kind"]),
        # a new principal (of the stack) with a role at a level no principal held it
        (project_grant(sa("pl-c"), "roles/bigquery.dataEditor"), (), ["wider-scope"]),
        (project_grant(sa("pl-c"), "roles/storage.admin"), (), ["new-role"]),
    ],
)
def test_widening_rules(added, removed, expected):
    [(grant, rules)] = [(k, v) for k, v in rules_of(added, removed=removed).items()]
    assert rules == expected, grant


@pytest.mark.parametrize(
    ("added", "removed", "expected"),
    [
        # the bucket's condition changed: wider, or narrower in a way the text cannot show
        (bucket_grant(sa("pl-b"), "true"), (), ["changed-condition"]),
        (bucket_grant(sa("pl-b"), PREFIX + ' || resource.name.startsWith("c/")'), (), ["changed-condition"]),
        (bucket_grant(sa("pl-b"), 'resource.name.startsWith("b/x/")'), (), ["changed-condition"]),
        # ... narrower as its text shows: one of its alternatives, or it and more
        (bucket_grant(sa("pl-b"), 'resource.name.startsWith("b/")'), (), []),
        (bucket_grant(sa("pl-b"), f'({PREFIX}) && request.time < timestamp("2030-01-01T00:00:00Z")'), (), []),
        # a condition does not make another pipeline's resource its own
        (res("gcp:bigquery/datasetIamMember:DatasetIamMember", "cond", datasetId="raw_b", role="roles/bigquery.dataViewer",
             member=sa("pl-a"), condition={"title": "t", "expression": "request.time < timestamp('2030-01-01T00:00:00Z')"}),
         (), ["existing-resource"]),
        # a new pipeline's own folder of the shared bucket; the same folder as pl-b's; one inside it
        (bucket_grant(sa("pl-c"), 'resource.name.startsWith("c/") || p == "c"'), (), []),
        (bucket_grant(sa("pl-c"), PREFIX), (), ["existing-resource"]),
        (bucket_grant(sa("pl-c"), 'resource.name.startsWith("b/c/") || p == "b/c"'), (), ["existing-resource"]),
        # a stronger role where it reads; the same level in another project; an existing account
        (dataset_grant(DBT, "roles/bigquery.dataEditor", "raw_a"), (), ["stronger-role"]),
        (project_grant(DBT, "roles/bigquery.jobUser", LAKE), (), ["existing-resource"]),
        # a new account running jobs in another project than its own, where only that project's accounts do
        (project_grant(sa("pl-c"), "roles/bigquery.jobUser", "toltek-dwh-prd"), (), ["existing-resource"]),
        # ... in the warehouse project as the warehouse's own accounts do; a new Google service agent
        (project_grant(sa("toltek-copier", "toltek-dwh-prd"), "roles/bigquery.jobUser", "toltek-dwh-prd"), (), []),
        (project_grant("serviceAccount:service-123@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com", "roles/bigquery.jobUser", LAKE), (), []),
        (res("gcp:serviceaccount/iAMMember:IAMMember", "act-as-a", project=None, serviceAccountId=f"projects/{LAKE}/serviceAccounts/pl-a@{LAKE}.iam.gserviceaccount.com",
             role="roles/iam.serviceAccountTokenCreator", member=sa("pl-b")), (), ["new-role", "existing-resource"]),
    ],
)
def test_rules_on_what_base_already_has(added, removed, expected):
    [(grant, rules)] = [(k, v) for k, v in rules_of(added, removed=removed).items()]
    assert rules == expected, grant


@pytest.mark.parametrize("role", ["roles/iam.serviceAccountTokenCreator", "roles/bigquery.admin", "roles/storage.objectAdmin", "roles/x.custom"])
def test_a_new_account_given_a_role_over_identities_or_iam_widens_even_where_its_peers_hold_it(role):
    """Another account of the datalake project holding a project-wide role does not make a new
    account holding it too ordinary when the role acts on identities (mints every account's
    tokens) or on IAM (a service's `*` includes its `setIamPolicy`), or is not known."""
    base = [*BASE, project_grant(sa("pl-b"), role)]
    assert rules_of(project_grant(sa("pl-c"), role), base=base) == {(sa("pl-c"), role, LAKE): ["existing-resource"]}
    assert rules_of(project_grant(sa("pl-c"), "roles/bigquery.jobUser"), base=base) == {(sa("pl-c"), "roles/bigquery.jobUser", LAKE): []}


@pytest.mark.parametrize(
    ("a", "b", "implied"),
    [
        ("a == 1", " ( a  == 1 ) ", True),
        ("a", "a || b", True),
        ("(b) || (a)", "a || b || c", True),
        ("(a || b) && c", "a || b", True),
        ("a || d", "a || b", False),
        ("true", "a", False),
        ('x == "a || b"', 'x == "a"', False),  # an operator inside a string is not one
        ("a ? b : c", "a", False),  # ?: binds looser than ||: left as it is
        ('n.startsWith("b/x/")', 'n.startsWith("b/")', False),  # narrower, but not by its text
    ],
)
def test_a_condition_is_implied_only_as_far_as_its_text_shows(a, b, implied):
    assert implies(a, b) is implied


def test_own_part_of_a_resource_shared_out_by_conditions():
    shared = ['n == "x/b" || n.startsWith("x/b/")', 'n == "x/c" || n.startsWith("x/c/")']
    assert own_part('n == "x/d" || n.startsWith("x/d/")', shared)
    assert not own_part('n == "x/b" || n.startsWith("x/b/")', shared)  # b's part
    assert not own_part('n == "x/bb" || n.startsWith("x/bb/")', shared)  # a value b's is a prefix of
    assert not own_part('n.startsWith("x/d/")', shared)  # another form
    assert not own_part('n == "x/d" || n.startsWith("x/b/")', shared[:1])  # b's folder kept in one place
    assert not own_part('n == "x/d" || n.startsWith("x/d/")', [])


def test_a_custom_role_that_grows_widens_every_grant_of_it():
    def role(*permissions: str) -> dict:
        return res("gcp:projects/iAMCustomRole:IAMCustomRole", "watcher", roleId="watcher", permissions=list(permissions))

    watcher = f"projects/{LAKE}/roles/watcher"
    base = [*BASE, role("run.jobs.get", "run.executions.*"), project_grant(SCHEDULER, watcher)]
    grown = [*BASE, role("run.jobs.get", "run.executions.list", "run.jobs.run"), project_grant(SCHEDULER, watcher), project_grant(sa("pl-a"), watcher)]
    diff = diff_iam(base, grown)
    assert [(g.principal, [r.rule for r in reasons]) for g, reasons in diff.changed] == [(SCHEDULER, ["custom-role-grows"])]
    assert diff.changed[0][1][0].message == f"custom role {watcher} now also allows run.jobs.run"
    assert [(g.principal, [r.rule for r in reasons]) for g, reasons in diff.added] == [(sa("pl-a"), ["new-role", "custom-role-grows"])]
    assert diff.as_dict()["changed"][0]["widening"][0]["rule"] == "custom-role-grows"
    narrower = diff_iam(base, [*BASE, role("run.jobs.get"), project_grant(SCHEDULER, watcher)])
    assert narrower.changed == [] and not narrower.widening


def test_kept_grants_of_a_grown_custom_role_are_shown_as_changed():
    watcher = f"projects/{LAKE}/roles/watcher"
    base = {"version": 1, "stack": "prd", "resources": [*BASE, res("gcp:projects/iAMCustomRole:IAMCustomRole", "watcher", roleId="watcher",
                                                                  permissions=["run.jobs.get"]), project_grant(SCHEDULER, watcher)]}
    head = {**base, "resources": [*BASE, res("gcp:projects/iAMCustomRole:IAMCustomRole", "watcher", roleId="watcher",
                                             permissions=["run.jobs.get", "run.jobs.run"]), project_grant(SCHEDULER, watcher)]}
    diff = compare(base, head, {"source": "base.json", "kind": "file", "commit": None})
    assert diff.exit_code == 3
    console = Console(record=True, width=300, force_terminal=False)
    render.terminal(diff, console)
    text = console.export_text()
    assert "0 grant(s) added, 0 removed, 1 changed, 1 widen(s) IAM" in text.splitlines()[0]
    assert f"  ~ {SCHEDULER} → {watcher} → project {LAKE}\n      WIDENS IAM: custom role {watcher} now also allows run.jobs.run" in text
    iam = tables(render.markdown(diff))[0]
    assert [c.strip() for c in iam[1]][:3] == ["~", f"`{SCHEDULER}`", f"`{watcher}`"]
    assert iam[1][4].strip() == f"**custom role {watcher} now also allows run.jobs.run**"


def test_a_second_person_is_a_new_principal_and_public_access_is_always_flagged():
    base = [*BASE, dataset_grant("user:ana@example.com", "roles/bigquery.dataViewer", "raw_a")]
    assert rules_of(dataset_grant("user:bo@example.com", "roles/bigquery.dataViewer", "raw_new"), base=base) == {
        ("user:bo@example.com", "roles/bigquery.dataViewer", "raw_new"): ["new-principal"],
    }
    public = res("gcp:storage/bucketAccessControl:BucketAccessControl", "public", project=None, bucket=BUCKET, entity="allUsers", role="READER")
    assert rules_of(public) == {("allUsers", "acl:READER", BUCKET): ["public", "new-principal-kind", "new-role", "existing-resource"]}


def test_grants_are_read_from_bindings_policies_and_dataset_access_too():
    policy = res("gcp:projects/iAMPolicy:IAMPolicy", "policy", policyData=json.dumps(
        {"bindings": [{"role": "roles/owner", "members": ["group:admins@example.com"]}]}))
    binding = res("gcp:bigquery/datasetIamBinding:DatasetIamBinding", "binding", datasetId="raw_a",
                  role="roles/bigquery.dataViewer", members=[DBT, "user:ana@example.com"])
    access = res("gcp:bigquery/datasetAccess:DatasetAccess", "access", datasetId="raw_b", role="READER", userByEmail="bo@example.com")
    found = rules_of(policy, binding, access)
    assert found[("group:admins@example.com", "roles/owner", LAKE)] == ["basic-role", "new-principal-kind", "new-role"]
    assert found[("user:ana@example.com", "roles/bigquery.dataViewer", "raw_a")] == ["new-principal-kind", "existing-resource"]
    assert found[("user:bo@example.com", "roles/bigquery.dataViewer", "raw_b")] == ["new-principal-kind", "existing-resource"]
    assert (DBT, "roles/bigquery.dataViewer", "raw_a") not in found  # dbt had it, from an IamMember


def test_removed_grants_and_grants_that_change_resource_type_never_widen():
    member = BASE[1]
    as_binding = res("gcp:bigquery/datasetIamBinding:DatasetIamBinding", "same", datasetId="raw_a",
                     role="roles/bigquery.dataEditor", members=[sa("pl-a")])
    diff = diff_iam(BASE, [r for r in BASE if r is not member and r["name"] != BASE[3]["name"]] + [as_binding])
    assert diff.added == [] and [(g.principal, g.target) for g in diff.removed] == [(sa("pl-a"), "a-token")]
    assert not diff.widening


def test_property_paths_lists_and_json_strings():
    old = {
        "template": {"template": {"containers": [{"args": ["run", "a"], "envs": [{"name": "B", "value": "1"}]}]}},
        "labels": {"app": "toltek", "logging.googleapis.com/x": "1"},
        "dashboardJson": json.dumps({"tiles": [{"title": "a", "yPos": 0}, {"title": "b", "yPos": 4}]}),
        "gone": 1,
    }
    new = {
        "template": {"template": {"containers": [{"args": ["run", "a", "--full"], "envs": [{"name": "A", "value": "[secret]"}, {"name": "B", "value": "1"}]}]}},
        "labels": {"app": "toltek", "logging.googleapis.com/x": "2"},
        "dashboardJson": json.dumps({"tiles": [{"title": "new", "yPos": 0}, {"title": "a", "yPos": 4}, {"title": "b", "yPos": 8}]}),
    }
    assert property_changes(old, new) == [
        Change('dashboardJson(json).tiles[0]', "added", new={"title": "new", "yPos": 0}),
        Change('dashboardJson(json).tiles[1].yPos', "changed", 0, 4),
        Change('dashboardJson(json).tiles[2].yPos', "changed", 4, 8),
        Change("gone", "removed", old=1),
        Change('labels["logging.googleapis.com/x"]', "changed", "1", "2"),
        Change("template.template.containers[0].args[2]", "added", new="--full"),
        Change("template.template.containers[0].envs[0]", "added", new={"name": "A", "value": "[secret]"}),
    ]


def test_cost_section_compares_only_estimates_both_sides_have():
    def plan(total, pipelines, currency="EUR"):
        return {"cost": {"currency": currency, "total_monthly": total, "pipelines": pipelines, "items": []}}

    assert cost_section({}, plan(3.0, {})) == {"note": "no cost estimate in BASE"}
    assert cost_section(plan(3.0, {}), {}) == {"note": "no cost estimate in this plan"}
    assert "different currencies" in cost_section(plan(3.0, {}, "USD"), plan(3.0, {}))["note"]
    assert cost_section(plan(10.0, {"a": 4.0, "b": 6.0}), plan(12.5, {"a": 4.0, "c": 8.5})) == {
        "currency": "EUR",
        "total_monthly": {"base": 10.0, "head": 12.5, "delta": 2.5},
        "pipelines": {
            "a": {"base": 4.0, "head": 4.0, "delta": 0.0},
            "b": {"base": 6.0, "head": None, "delta": -6.0},
            "c": {"base": None, "head": 8.5, "delta": 8.5},
        },
    }


def _docs():
    plain = res("gcp:monitoring/alertPolicy:AlertPolicy", "odd", documentation={"content": "plain"})
    odd = res("gcp:monitoring/alertPolicy:AlertPolicy", "odd", documentation={"content": "a `job` | [bold]b[/bold]"})
    base = {"version": 1, "stack": "prd", "resources": [*BASE, plain],
            "cost": {"currency": "EUR", "total_monthly": 10.0, "pipelines": {"a": 10.0}, "items": []}}
    head = {**base, "resources": [*BASE, bucket_grant(sa("pl-a"), PREFIX), project_grant("group:x|y@example.com", "roles/viewer"), odd],
            "cost": {"currency": "EUR", "total_monthly": 12.0, "pipelines": {"a": 12.0}, "items": []},
            "findings": [{"rule": "apis", "resource": "odd", "path": "", "message": "needs `monitoring` | API"}]}
    return base, head


def test_markdown_tables_are_valid_gfm_with_pipes_and_backticks_in_values():
    base, head = _docs()
    diff = compare(base, head, {"source": "main", "kind": "git", "commit": "0123456789abcdef"})
    text = render.markdown(diff)
    assert text.startswith("### `toltek plan -s prd` against `main` (`0123456789ab`)")
    iam, cost, findings, resources = tables(text)
    assert [c.strip() for c in cost[0]] == ["", "BASE (EUR/month)", "this plan (EUR/month)", "change"]
    assert [[c.strip() for c in row] for row in cost[1:]] == [["**total per month**", "10.00", "12.00", "+2.00"], ["a", "10.00", "12.00", "+2.00"]]
    assert "`group:x\\|y@example.com`" in [row[1].strip() for row in iam]  # the pipe escaped, in its code span
    conditional = [row for row in iam if sa("pl-a") in row[1]][0]
    assert conditional[3].strip() == 'bucket `toltek-landing-prd` `if resource.name.startsWith("b/") \\|\\| p == "b"`'
    assert findings[1][2].strip() == "needs `monitoring` \\| API"
    assert len(resources) == 1 + 2
    assert ":x: **1 deploy finding(s)**" in text and diff.exit_code == 1  # a finding wins over widening
    odd_line = [line for line in text.splitlines() if "documentation.content" in line][0]
    assert odd_line == '  - `documentation.content`: `"plain"` → ``"a `job` | [bold]b[/bold]"``'


def test_terminal_prints_values_literally_not_as_markup():
    base, head = _docs()
    console = Console(record=True, width=300, force_terminal=False)
    render.terminal(compare(base, head, {"source": "base.json", "kind": "file", "commit": None}), console)
    text = console.export_text()
    assert '"a `job` | [bold]b[/bold]"' in text
    assert "cost" not in text.splitlines()[0] and "  total per month: 10.00 → 12.00 (+2.00)" in text
    assert "WIDENS IAM: basic role roles/viewer; new principal kind: group; new role:" in text


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "x.json is not a plan of `toltek plan --json` (a JSON object)"),
        ({"stack": "prd", "resources": []}, "x.json has no plan format version (saved by an older toltek)"),
        ({"version": 2, "stack": "prd", "resources": []}, "x.json is plan format version 2; this toltek reads version 1"),
        ({"version": 1, "stack": "dev", "resources": []}, "x.json is a plan of stack 'dev', not 'prd'"),
        ({"version": 1, "stack": "prd", "resources": [{"type": "t"}]}, "x.json has no list of resources with inputs, name, type, urn"),
    ],
)
def test_a_saved_plan_is_checked_before_it_is_compared(document, message):
    with pytest.raises(plan_json.PlanFileError) as caught:
        plan_json.check(document, "prd", "x.json")
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_the_cost_estimate_comes_from_the_trees_estimator_when_it_has_one(monkeypatch):
    import sys
    import types

    class Plan:
        stack, resources = "prd", []

    monkeypatch.setitem(sys.modules, "infra.cost", None)  # a tree without infra/cost.py
    assert plan_json.cost_estimate("prd", Plan()) is None
    assert plan_json.document(Plan(), root=REPO_ROOT)["cost"] is None
    estimate = {"currency": "USD", "total_monthly": 12.5, "pipelines": {"a": 12.5}, "items": []}
    estimator = types.SimpleNamespace(plan_estimate=lambda stack, plan: types.SimpleNamespace(as_dict=lambda: estimate))
    monkeypatch.setitem(sys.modules, "infra.cost", estimator)
    assert plan_json.document(Plan(), root=REPO_ROOT, cost=plan_json.cost_estimate("prd", Plan()))["cost"] == estimate


def test_a_diff_too_long_for_a_comment_is_cut_to_fit_saying_what_was_left_out():
    # 400 new accounts' grants and 2,000 new resources: far over GitHub's 65,536-character limit
    # for the one comment holding both stacks.
    many = [dataset_grant(sa(f"pl-{i:03d}"), "roles/bigquery.dataEditor", f"raw_{i:03d}") for i in range(400)]
    many += [res("gcp:monitoring/alertPolicy:AlertPolicy", f"alert-{i:04d}", documentation={"content": "x" * 40}) for i in range(2000)]
    base = {"version": 1, "stack": "prd", "resources": BASE, "cost": {"note": "no estimate"}}
    head = {**base, "resources": [*BASE, *many]}
    diff = compare(base, head, {"source": "main", "kind": "git", "commit": None})
    text = render.markdown(diff)
    assert len(text) <= render.MARKDOWN_LIMIT < 65_536 // 2
    assert text.startswith("### `toltek plan -s prd` against `main`")
    assert "**2400 to add, 0 to remove, 0 to change**" in text  # the summary always stays
    note = [line for line in text.splitlines() if "more line(s) of this diff are not shown" in line]
    assert len(note) == 1 and "`toltek plan -s prd --diff main` prints all of it" in note[0]
    assert text.count("<details>") == text.count("</details>")
    assert all(len(row) == 5 for row in tables(text)[0])  # the IAM table, cut between rows
    small = render.markdown(compare(base, {**base, "resources": [*BASE, *many[:3]]}, {"source": "main", "kind": "git", "commit": None}))
    assert "not shown" not in small
