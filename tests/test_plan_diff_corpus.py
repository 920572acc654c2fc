"""The adversarial corpus of `toltek plan --diff` (tests/diff_corpus.py), each case in its own copy
of the repository: every widening edit must exit 3 naming exactly its rules, every other edit
exit 0. The score is printed in the summary of every test run."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import REPO_ROOT, SUMMARY_LINES
from corpus_session import results_once
from diff_corpus import CASES, CLASSES

from infra.review import iam_diff


@pytest.fixture(scope="session")
def diff_results(tmp_path_factory, worker_id):
    """The corpus's results, computed once per test run even across pytest-xdist workers."""
    results, fresh = results_once(tmp_path_factory, worker_id, "diff-corpus", REPO_ROOT / "tests" / "diff_corpus_runner.py")
    if fresh:
        right = [i for i, c in enumerate(CASES) if _as_expected(c, results.get(i))]
        SUMMARY_LINES.append(
            f"plan --diff corpus: {len(right)}/{len(CASES)} edits judged as expected "
            f"({sum(1 for c in CASES if c.rules)} widen IAM, {sum(1 for c in CASES if not c.rules)} do not)"
        )
        SUMMARY_LINES.extend(f"  misjudged: {CASES[i].id}" for i in range(len(CASES)) if i not in right)
    return results


def _as_expected(case, result) -> bool:  # noqa: ANN001 - diff_corpus.DiffCase, a runner result
    return bool(result) and not result["error"] and result["code"] == case.exit_code and set(result["rules"]) == case.rules


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.id for c in CASES])
def test_the_edit_is_judged_with_its_exit_code_and_rules(diff_results, index):
    case, result = CASES[index], diff_results.get(index)
    assert result is not None, "the runner reported nothing for this case"
    assert result["error"] is None, result["error"]
    assert result["findings"] == [], "a deploy finding (exit 1) would hide the widening: make the edit deployable"
    assert result["code"] == case.exit_code, result["flagged"]
    assert set(result["rules"]) == case.rules, result["flagged"]


def test_the_corpus_covers_every_class_and_names_only_rules_the_diff_has():
    per_class = Counter(c.cls for c in CASES)
    assert set(per_class) == set(CLASSES)
    assert min(per_class.values()) >= 4, per_class
    assert len({c.id for c in CASES}) == len(CASES), "case descriptions are unique"
    named = {r for c in CASES for r in c.rules}
    assert named <= set(iam_diff.RULES)
    # Every rule but the two about principals outside the stack that BASE already has is met.
    assert set(iam_diff.RULES) - named == {"basic-role", "new-principal"}


def test_every_rule_is_described_in_the_module_docstring():
    assert all(f"- `{rule}`:" in iam_diff.__doc__ for rule in iam_diff.RULES)
