"""Mutation tests: the clean stacks pass; one changed property of the real prd stack is caught by
the rule written for it — for every rule."""

from __future__ import annotations

import pytest
from conftest import SUMMARY_LINES
from policy_mutations import MUTATIONS

from infra.plan import read_stack_file, run_plan
from infra.policy.offline import analyze
from infra.policy.pack import rules


@pytest.fixture(scope="module")
def prd():
    return run_plan("prd", preview=True), read_stack_file("prd")


@pytest.mark.parametrize("stack", ["dev", "prd"])
def test_the_clean_stacks_have_no_violation(stack):
    for preview in (True, False):
        plan = run_plan(stack, preview=preview)
        report = analyze(plan.resources, stack=stack, config=read_stack_file(stack))
        assert report.violations == [], [(v.rule, v.resource, v.message) for v in report.violations]
        assert report.diagnostics == [] and report.not_applicable == []


def test_every_rule_catches_its_mutation_and_the_score_is_100_percent(prd):
    plan, config = prd
    caught, missed = [], []
    for rule_id, what, mutate in MUTATIONS:
        report = analyze(mutate(plan.resources), stack="prd", config=config)
        (caught if rule_id in report.rule_ids() else missed).append((rule_id, what, sorted(report.rule_ids())))
    covered = {rule_id for rule_id, _, _ in MUTATIONS}
    score = len(caught) / len(MUTATIONS)
    SUMMARY_LINES.append(
        f"policy mutation score: {len(caught)}/{len(MUTATIONS)} = {score:.0%} ({len(covered)} of {len(rules())} rules mutated)"
    )
    SUMMARY_LINES.extend(f"  missed {rule_id}: {what} -> {found}" for rule_id, what, found in missed)
    assert covered == {r.id for r in rules()}, "every rule has a mutation"
    assert missed == []
