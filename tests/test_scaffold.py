"""`toltek new`: one pipeline of each kind written into a copy of the repository, then run the way the
repository runs its own (loaded on its sample data, dbt build, plan, policy, `dbt-sources --check`,
its own test); a refused name or kind writes nothing.

One copy for all of it: the three `toltek new`, then one `toltek run` of the three new pipelines
(in a copy of the shared loaded home, so dbt builds the whole project) side by side with the plan,
the policy pack, the drift check and the generated tests.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO_ROOT, copy_of_loaded_home, copy_repository, toltek_env

NAMES = {"rest": "payments", "files": "returns", "sheets": "budgets"}
TOLTEK = "from pipelines.cli import main; main()"
REFUSED = {
    "taken": (["payments", "--kind", "files"], "error: name 'payments' is taken: pipeline payments is declared by pipelines.payments.pipeline.Payments"),
    "kind": (["refunds", "--kind", "soap"], "error: unknown kind 'soap' (choose from: rest, files, sheets)"),
    "no kind": (["refunds"], "error: choose a kind: --kind rest, files, sheets"),
    "invalid": (["Refunds-2", "--kind", "rest"], "error: invalid name 'Refunds-2': a pipeline name is lowercase snake case (letters and digits, words joined by single underscores)"),
    "too long": (
        ["refunds_from_the_payment_provider", "--kind", "rest"],
        "error: cannot create pipeline 'refunds_from_the_payment_provider': name: 'refunds_from_the_payment_provider' is 33 characters; "
        "at most 24 fit every id derived from it",
    ),
    "dataset": (
        ["shop_api_staging", "--kind", "sheets"],
        "error: cannot create pipeline 'shop_api_staging': dataset: 'raw_shop_api_staging' is already claimed by pipelines.shop_api.pipeline.ShopApi",
    ),
    "files exist": (["cli", "--kind", "rest"], "error: pipelines/cli.py already exists; nothing written"),
}

# `toltek new` prints `check_name`'s error as it is ("invalid" above): the names themselves, in-process.
# dlt would load `raw_x__y` into `raw_x_y`; `class True` is no Python; `name: null` no dbt source name.
BAD_NAMES = {
    "x__y": "invalid name 'x__y': a pipeline name is lowercase snake case (letters and digits, words joined by single underscores)",
    "refunds_": "invalid name 'refunds_': a pipeline name is lowercase snake case (letters and digits, words joined by single underscores)",
    "true": "invalid name 'true': a Python keyword cannot name a package or a class",
    "none": "invalid name 'none': a Python keyword cannot name a package or a class",
    "null": "invalid name 'null': reserved (the dbt job's name, or a word YAML or Python reads as a constant)",
    "off": "invalid name 'off': reserved (the dbt job's name, or a word YAML or Python reads as a constant)",
    "dbt": "invalid name 'dbt': reserved (the dbt job's name, or a word YAML or Python reads as a constant)",
}


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_that_would_break_a_later_step_is_refused_first(name):
    from pipelines.errors import UserError
    from pipelines.scaffold import check_name

    with pytest.raises(UserError) as caught:
        check_name(name)
    assert str(caught.value) == BAD_NAMES[name]


def command(*args):
    return [sys.executable, "-c", TOLTEK, *args]


def started(tree, home, argv):
    env = toltek_env(home, PYTHONPATH=str(tree))
    return subprocess.Popen(argv, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process):
    stdout, stderr = process.communicate(timeout=600)
    return {"returncode": process.returncode, "stdout": stdout, "stderr": stderr}


def result(r):
    return subprocess.CompletedProcess([], r["returncode"], r["stdout"], r["stderr"])


def snapshot(tree):
    return {str(p.relative_to(tree)): (p.stat().st_mtime_ns, p.stat().st_size) for p in tree.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def make(root, loaded_home):
    """Everything the tests read: a copy of the repository with one pipeline of each kind, and what
    each command said."""
    tree = copy_repository(root / "repo")
    (tree / "tests").mkdir()
    shutil.copy2(REPO_ROOT / "tests" / "conftest.py", tree / "tests")
    scratch = root / "scratch-home"

    created = {kind: finished(started(tree, scratch, command("new", name, "--kind", kind))) for kind, name in NAMES.items()}
    before = snapshot(tree)
    refusing = {case: started(tree, scratch, command("new", *args)) for case, (args, _) in REFUSED.items()}
    refused = {case: finished(process) for case, process in refusing.items()}
    unchanged = snapshot(tree) == before

    home = copy_of_loaded_home(loaded_home, root / "home")
    tests = [f"tests/test_{name}.py" for name in NAMES.values()]
    running = {
        "run": started(tree, home, command("run", *NAMES.values(), "--json")),
        "plan": started(tree, scratch, command("plan", "-s", "prd", "--json")),
        "policy": started(tree, scratch, command("policy", "-s", "prd")),
        "dbt-sources": started(tree, scratch, command("dbt-sources", "--check")),
        "tests": started(tree, scratch, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]),
    }
    done = {what: finished(process) for what, process in running.items()}
    return {"tree": str(tree), "home": str(home), "created": created, "refused": refused, "unchanged": unchanged, "done": done}


@pytest.fixture(scope="module")
def made(tmp_path_factory, worker_id, loaded_home):
    """`make`'s results, made once per test run even across pytest-xdist workers (the first worker
    to need them makes them under a lock; another reads what it wrote)."""
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    with open(shared / "scaffold.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = shared / "scaffold.json"
        if not record.exists():
            record.write_text(json.dumps(make(tmp_path_factory.mktemp("scaffold"), loaded_home)))
    results = json.loads(record.read_text())
    return SimpleNamespace(
        tree=Path(results["tree"]),
        home=Path(results["home"]),
        created={k: result(v) for k, v in results["created"].items()},
        refused={k: result(v) for k, v in results["refused"].items()},
        unchanged=results["unchanged"],
        done={k: result(v) for k, v in results["done"].items()},
    )


@pytest.mark.parametrize("kind", NAMES)
def test_new_writes_a_pipeline_of_each_kind_and_says_what_next(made, kind):
    name, done = NAMES[kind], made.created[kind]
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"created pipeline {name} ({kind}) from pipelines/templates/{kind}:"
    listed = [line.split()[0] for line in lines[1 : lines.index("next:")]]
    common = [
        f"pipelines/{name}/__init__.py",
        f"pipelines/{name}/pipeline.py",
        f"pipelines/{name}/settings.py",
        f"pipelines/{name}/source.py",
        f"tests/test_{name}.py",
        f"transform/models/staging/{name}/_{name}__models.yml",
        f"transform/models/staging/{name}/_{name}__sources.yml",
        f"transform/models/staging/{name}/stg_{name}__items.sql",
    ]
    samples = {
        "rest": [f"pipelines/samples/data/api/{name}/items.jsonl", "pipelines/samples/secrets.json"],
        "files": [f"pipelines/samples/data/files/{name}/items_2025_01.csv", f"pipelines/samples/data/files/{name}/items_2025_02.csv"],
        "sheets": ["pipelines/samples/data/sheets/1toltekSampleBudgets.json"],
    }[kind]
    assert listed == sorted(common + samples)
    assert all((made.tree / path).is_file() for path in listed)
    assert [line.split("#")[0].strip() for line in lines[lines.index("next:") + 1 :]] == [
        f"toltek run {name}", "toltek plan -s prd", f"pytest tests/test_{name}.py"
    ]


def test_a_rest_pipeline_gets_a_sample_token_for_its_own_path(made):
    entries = json.loads((made.tree / "pipelines" / "samples" / "secrets.json").read_text())
    assert entries["payments-api-token"]["path"] == "/api/payments/"
    assert entries["payments-api-token"]["value"].startswith("sample-payments-api-token-")
    assert entries["shop-api-token"] == json.loads((REPO_ROOT / "pipelines" / "samples" / "secrets.json").read_text())["shop-api-token"]
    assert "payments-api-token" in made.created["rest"].stdout and entries["payments-api-token"]["value"] not in made.created["rest"].stdout


@pytest.mark.parametrize("case", REFUSED)
def test_a_refused_name_or_kind_is_one_line_exit_2_and_writes_nothing(made, case):
    done = made.refused[case]
    assert (done.returncode, done.stdout, done.stderr.strip()) == (2, "", REFUSED[case][1])
    assert made.unchanged


def test_the_new_pipelines_load_their_samples_and_dbt_builds_their_staging_models(made):
    import duckdb

    done = made.done["run"]
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert {p["name"]: (p["status"], p["rows"]) for p in summary["pipelines"]} == {
        "payments": ("loaded", 25), "returns": ("loaded", 13), "budgets": ("loaded", 8)
    }
    assert summary["transform"]["ran"] and summary["transform"]["failed"] == []
    with duckdb.connect(str(made.home / "warehouse.duckdb"), read_only=True) as con:
        con.execute("ATTACH ? AS datalake (READ_ONLY)", [str(made.home / "datalake.duckdb")])
        staged = {name: con.execute(f"select count(*), count(distinct item_id) from staging.stg_{name}__items").fetchone() for name in NAMES.values()}
        # The item delivered again in the second file: its newest version wins.
        newest = con.execute("select quantity, source_file from staging.stg_returns__items where item_id = 8").fetchone()
    assert staged == {"payments": (25, 25), "returns": (12, 12), "budgets": (8, 8)}
    assert newest == (6, "items_2025_02.csv")


def test_the_plan_gives_each_new_pipeline_its_account_job_and_schedule(made):
    done = made.done["plan"]
    assert done.returncode == 0, done.stderr[-3000:]
    resources = {(r["type"], r["name"]) for r in json.loads(done.stdout)["resources"]}
    for name in NAMES.values():
        job = f"toltek-{name}-prd"
        assert {
            ("gcp:serviceaccount/account:Account", f"{job}-sa"),
            ("gcp:cloudrunv2/job:Job", job),
            ("gcp:cloudscheduler/job:Job", job),
            ("gcp:bigquery/dataset:Dataset", f"toltek-datalake-prd-raw_{name}"),
        } <= resources
    assert ("gcp:secretmanager/secret:Secret", "toltek-datalake-prd-secret-payments-api-token") in resources


def test_the_policy_pack_and_the_dbt_sources_check_pass_with_the_new_pipelines(made):
    policy, sources = made.done["policy"], made.done["dbt-sources"]
    assert policy.returncode == 0, policy.stdout[-3000:] + policy.stderr[-3000:]
    assert "0 mandatory" in policy.stdout
    assert sources.returncode == 0, sources.stderr
    assert "dbt source(s) match their pipelines' schedules" in sources.stdout


def test_the_generated_tests_pass(made):
    done = made.done["tests"]
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_each_api_path_of_the_sample_server_takes_its_own_token_only(tmp_path):
    from pipelines.samples.records import Records
    from pipelines.samples.server import SampleStore, running

    store = SampleStore()
    store.api["payments/items"] = Records()
    store.upsert("payments/items", {"id": 1, "updated_at": "2025-01-01T00:00:00Z"})

    def status(server, path, token):
        request = urllib.request.Request(f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    with running(store) as server:
        server.tokens["/api/payments/"] = "payments-token"
        assert status(server, "/api/payments/items", "payments-token") == 200
        assert status(server, "/api/payments/items", server.api_token) == 401  # the shop's token
        assert status(server, "/shop/v1/customers", "payments-token") == 401
        assert status(server, "/api/other/items", "payments-token") == 401  # no token opens it
        assert status(server, "/shop/v1/payments/items", server.api_token) == 404  # not the shop's


def test_a_failure_while_writing_takes_back_everything_written(tmp_path, monkeypatch, registry):
    from pipelines import dbt_sources, scaffold

    secrets = tmp_path / "pipelines" / "samples" / "secrets.json"
    secrets.parent.mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "pipelines" / "samples" / "secrets.json", secrets)
    before = secrets.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(dbt_sources, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        scaffold.create("refunds", "rest", root=tmp_path)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == [Path("pipelines"), Path("pipelines/samples"), Path("pipelines/samples/secrets.json")]
    assert secrets.read_bytes() == before
    assert "refunds" not in registry.names()
    assert not [m for m in sys.modules if m.startswith("pipelines.refunds")]  # checked from a scratch copy, then forgotten


def test_a_landing_folder_above_below_or_equal_to_another_pipelines_is_refused(tmp_path):
    """A files source reads its folder and the folders under it (`**/*`)."""
    from pipelines.errors import UserError
    from pipelines.scaffold import _nested, check_free

    assert _nested("shipments", "shipments") and _nested("shipments", "shipments/returns") and _nested("shipments/returns", "shipments")
    assert not _nested("shipments", "shipments_eu") and not _nested("shipments-archive", "shipments")
    with pytest.raises(UserError) as caught:
        check_free("shipments", "files", {}, tmp_path)
    assert str(caught.value) == "landing folder 'shipments' overlaps 'shipments', read by pipeline shop_files"
