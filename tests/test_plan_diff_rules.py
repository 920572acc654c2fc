"""`toltek plan --diff`'s IAM widening rules, in process on hand-made plan documents, over every
kind of IAM resource (the corpus of real edits is `test_plan_diff_corpus.py`)."""

from __future__ import annotations

import json

import pytest
from gfm import tables
from plan_docs import (
    BASE,
    BUCKET,
    DBT,
    LAKE,
    PREFIX,
    SCHEDULER,
    bucket_grant,
    dataset_grant,
    job_grant,
    project_grant,
    res,
    sa,
    secret_grant,
)
from rich.console import Console

from infra.review import render
from infra.review.compare import compare
from infra.review.conditions import implies, own_part
from infra.review.iam_diff import diff_iam


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
