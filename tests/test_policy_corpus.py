"""The adversarial corpus (tests/policy_corpus.py) through `toltek policy -s prd`, each case in its
own copy of the repository: every insecure change must exit 1 naming its rules. The score is
printed in the summary of every test run."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
from conftest import REPO_ROOT, SUMMARY_LINES, toltek_env
from corpus_session import results_once
from policy_corpus import CASES, CLASSES
from test_deploy_checks import COPY_SOURCE

from infra.policy.pack import rules


@pytest.fixture(scope="session")
def corpus_results(tmp_path_factory, worker_id):
    """The corpus's results, computed once per test run even across pytest-xdist workers."""
    results, fresh = results_once(tmp_path_factory, worker_id, "policy-corpus", REPO_ROOT / "tests" / "corpus_runner.py")
    if fresh:
        caught = [i for i, c in enumerate(CASES) if _caught(c, results.get(i))]
        per_class = Counter(c.cls for c in CASES)
        SUMMARY_LINES.append(
            f"policy corpus score: {len(caught)}/{len(CASES)} = {len(caught) / len(CASES):.0%} insecure changes refused by "
            f"`toltek policy -s prd` ({len(per_class)} classes, {min(per_class.values())}-{max(per_class.values())} cases each)"
        )
        SUMMARY_LINES.extend(f"  let through: {CASES[i].id}" for i in range(len(CASES)) if i not in caught)
    return results


def _caught(case, result) -> bool:  # noqa: ANN001 - policy_corpus.Case, a runner result
    if not result or result["error"] or result["code"] != 1:
        return False
    found = set(result["rules"])
    mandatory = any(result["levels"].get(r) == "mandatory" for r in case.expect)
    return case.expect <= found and mandatory


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.id for c in CASES])
def test_the_insecure_change_is_refused_naming_its_rules(corpus_results, index):
    case, result = CASES[index], corpus_results.get(index)
    assert result is not None, "the runner reported nothing for this case"
    assert result["error"] is None, result["error"]
    assert result["code"] == 1, result["messages"]
    assert case.expect <= set(result["rules"]), (sorted(case.expect - set(result["rules"])), result["messages"])
    assert _caught(case, result), "caught only by advisory rules"


def test_the_corpus_covers_every_class_with_at_least_four_cases_and_sixty_in_all():
    per_class = Counter(c.cls for c in CASES)
    assert set(per_class) == set(CLASSES)
    assert min(per_class.values()) >= 4, per_class
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES), "case descriptions are unique"


def test_the_corpus_names_only_rules_the_pack_has():
    ids = {r.id for r in rules()}
    assert {r for c in CASES for r in c.expect} <= ids


COPY_VARIANT = [
    ["pipelines/shop_sheets/pipeline.py", '    dataset = "raw_shop_sheets"\n', '    dataset = "raw_shop_sheets"\n    transfer = "copy"\n'],
    ["transform/models/staging/shop_sheets/_shop_sheets__sources.yml", *COPY_SOURCE],
]
CLEAN_RUN = """
import json, sys
sys.path.insert(0, "tests")
from pathlib import Path
import corpus_runner as r
from policy_corpus import Edit
tree = r.copy_repo(Path(sys.argv[1]))
r.apply(tree, [Edit(*e) for e in json.loads(sys.argv[2])])
code, found = r.run_case(tree)
print(code, sorted({f["rule"] for f in found}))
"""


@pytest.mark.parametrize("variant", ["unchanged", "shop_sheets copied"])
def test_the_clean_copies_pass(tmp_path, variant):
    """The runner itself, and the copy-transfer variant: with no insecure edit a copy is clean, so
    each case's exit 1 comes from its edit."""
    edits = COPY_VARIANT if variant != "unchanged" else []
    done = subprocess.run(
        [sys.executable, "-c", CLEAN_RUN, str(tmp_path / "copy"), json.dumps(edits)],
        cwd=REPO_ROOT, capture_output=True, text=True, env=toltek_env(tmp_path / "home"), timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout[-2000:]
