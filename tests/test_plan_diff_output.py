"""What `toltek plan --diff` prints, in process on hand-made plan documents: property paths, the
cost section, Markdown and terminal output, a saved plan checked before it is compared, and a diff
cut to fit a comment."""

from __future__ import annotations

import json

import pytest
from conftest import REPO_ROOT
from gfm import tables
from plan_docs import BASE, PREFIX, bucket_grant, dataset_grant, project_grant, res, sa
from rich.console import Console

from infra.review import plan_json, render
from infra.review.compare import compare
from infra.review.cost_diff import cost_section
from infra.review.resource_diff import Change, property_changes


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
