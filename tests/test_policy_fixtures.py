"""Every rule against its fixtures: exactly the expected rule ids, no more, no less."""

from __future__ import annotations

import pytest
from policy_cases import CASES
from policy_fixtures import Case

from infra.plan import PlannedResource
from infra.policy.offline import analyze
from infra.policy.pack import rules


def planned(case: Case) -> list[PlannedResource]:
    resources = case.resources()
    urns = {name: f"urn:pulumi:fixture::toltek::{type_}::{name}" for type_, name, _, _ in resources}
    return [
        PlannedResource(
            type=type_, name=name, urn=urns[name], custom=True,
            parent_urn=None, provider_urn=None, inputs=props, raw_inputs=props, protect=protect,
            property_dependencies={k: frozenset(urns[n] for n in v) for k, v in case.deps.items()} if name == case.base else {},
        )
        for type_, name, props, protect in resources
    ]


def case_id(case: Case) -> str:
    change = ",".join(case.change) or (f"drop {','.join(case.drop)}" if case.drop else "baseline")
    return f"{case.rule}[{'ok' if case.compliant else 'bad'}:{case.base}:{change}{':protect' if case.protect is False else ''}]"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_case_violates_exactly_the_expected_rules(case):
    report = analyze(planned(case), stack="fixture", config={})
    assert report.diagnostics == []
    assert report.rule_ids() == set(case.expect), [v.message for v in report.violations]


def test_every_resource_rule_has_a_compliant_and_two_violating_fixtures():
    for rule in rules():
        if rule.registry:
            continue  # tests/test_policy_registry.py
        compliant = [c for c in CASES if c.rule == rule.id and c.compliant]
        violating = [c for c in CASES if c.rule == rule.id and not c.compliant]
        assert len(compliant) >= 1, rule.id
        assert len(violating) >= 2, rule.id
        assert all(rule.id in c.expect for c in violating), rule.id


def test_registry_rules_do_not_apply_outside_a_toltek_stack():
    report = analyze(planned(CASES[0]), stack="fixture", config={})
    not_applicable = {name for name, _ in report.not_applicable}
    assert not_applicable == {r.id for r in rules() if r.registry}
