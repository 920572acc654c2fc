"""The adversarial corpus of `toltek plan --diff` (tests/diff_corpus.py), each case in its own copy
of the repository: every widening edit must exit 3 naming exactly its rules, every other edit
exit 0. The score is printed in the summary of every test run."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from collections import Counter

import pytest
from conftest import REPO_ROOT, SUMMARY_LINES, toltek_env
from diff_corpus import CASES, CLASSES

from infra.review import iam_diff

WORKERS = 2  # the machines have two cores


@pytest.fixture(scope="session")
def diff_results(tmp_path_factory, worker_id):
    """The corpus's results, computed once per test run even across pytest-xdist workers."""
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    with open(shared / "diff-corpus.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = shared / "diff-corpus.json"
        if cache.exists():
            return {int(k): v for k, v in json.loads(cache.read_text()).items()}
        results = _run_corpus(tmp_path_factory.mktemp("diff-corpus-home"))
        cache.write_text(json.dumps(results))
    right = [i for i, c in enumerate(CASES) if _as_expected(c, results.get(i))]
    SUMMARY_LINES.append(
        f"plan --diff corpus: {len(right)}/{len(CASES)} edits judged as expected "
        f"({sum(1 for c in CASES if c.rules)} widen IAM, {sum(1 for c in CASES if not c.rules)} do not)"
    )
    SUMMARY_LINES.extend(f"  misjudged: {CASES[i].id}" for i in range(len(CASES)) if i not in right)
    return results


def _run_corpus(home) -> dict[int, dict]:  # noqa: ANN001 - a path
    runner = REPO_ROOT / "tests" / "diff_corpus_runner.py"
    procs = [
        subprocess.Popen(
            [sys.executable, str(runner), str(i), str(WORKERS)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=toltek_env(home),
        )
        for i in range(WORKERS)
    ]
    results = {}
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        for line in out.splitlines():
            result = json.loads(line)
            results[result["index"]] = result
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
