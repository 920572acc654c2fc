"""`toltek plan --diff` on copies of the repository: a new pipeline, widened grants, a git ref.

Every command runs once per test run, whichever pytest-xdist worker needs it first (`shared`):
a prd plan costs a second or two, and each scenario reads several outputs of the same runs.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TOLTEK, copy_repository, pipeline_module, toltek_env
from gfm import tables

NEW = pipeline_module("Refunds", "refunds", "10 * * * *")
CANARY = "planted-canary-7Rq2x-do-not-print"
LAKE, DWH = "toltek-datalake-prd", "toltek-dwh-prd"
DBT = f"serviceAccount:toltek-dbt@{DWH}.iam.gserviceaccount.com"
SHOP_FILES = f"serviceAccount:pl-shop-files@{LAKE}.iam.gserviceaccount.com"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new))


def toltek_in(tree: Path, *args: str) -> dict:
    """`toltek ARGS` with the copy's own `pipelines/` and `infra/` (they shadow the installed ones)."""
    env = toltek_env(tree / ".home", PYTHONPATH=str(tree))
    done = subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", *args],
        cwd=tree, env=env, capture_output=True, text=True, timeout=300,
    )
    return {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


def git(tree: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Toltek", "-c", "user.email=toltek@example.com", "-c", "init.defaultBranch=main", *args],
        cwd=tree, check=True, capture_output=True, text=True, timeout=60,
    ).stdout


@pytest.fixture(scope="session")
def shared(tmp_path_factory, worker_id):
    """`shared(name, compute)`: compute's JSON result, computed once across xdist workers."""
    root = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    root = root / "plan-diff"
    root.mkdir(exist_ok=True)

    def get(name: str, compute):
        record = root / f"{name}.json"
        with open(root / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not record.exists():
                record.write_text(json.dumps(compute(root / name)))
        return json.loads(record.read_text())

    return get


@pytest.fixture(scope="session")
def base_json(shared) -> Path:
    """`toltek plan -s prd --json > base.json`, from this repository as it is."""

    def save(work: Path) -> dict:
        done = subprocess.run([str(TOLTEK), "plan", "-s", "prd", "--json"], capture_output=True, text=True, env=toltek_env(work), timeout=300)
        assert done.returncode == 0, done.stderr
        work.mkdir(parents=True, exist_ok=True)
        (work / "base.json").write_text(done.stdout)
        return {"path": str(work / "base.json")}

    return Path(shared("base", save)["path"])


@pytest.fixture(scope="session")
def new_pipeline(shared, base_json) -> dict:
    """A copy with one more pipeline package, diffed against base.json as JSON and as Markdown."""

    def run(work: Path) -> dict:
        tree = copy_repository(work)
        (tree / "pipelines" / "refunds").mkdir()
        (tree / "pipelines" / "refunds" / "__init__.py").write_text("")
        (tree / "pipelines" / "refunds" / "pipeline.py").write_text(NEW)
        return {
            "json": toltek_in(tree, "plan", "-s", "prd", "--diff", str(base_json), "--json"),
            "markdown": toltek_in(tree, "plan", "-s", "prd", "--diff", str(base_json), "--markdown"),
        }

    return shared("new-pipeline", run)


@pytest.fixture(scope="session")
def widened(shared, base_json) -> dict:
    """A git repository made from a copy: the copy as it is, then a commit that moves shop_files'
    dataEditor from its datasets to the datalake project, gives the dbt account roles/editor,
    and puts a secret from the stack config into every pipeline job's environment."""

    def run(work: Path) -> dict:
        tree = copy_repository(work)
        git(tree, "init", "--quiet")
        git(tree, "add", "-A")
        git(tree, "commit", "--quiet", "-m", "as it is")
        grants = tree / "infra" / "grants.py"
        edit(
            grants,
            '    grants = [Grant(lake, "dataset", dataset, DATA_EDITOR, sa) for dataset in datasets_of(pipeline)]\n',
            '    grants = [Grant(lake, "dataset", dataset, DATA_EDITOR, sa) for dataset in datasets_of(pipeline)]\n'
            '    if pipeline.name == "shop_files":\n'
            '        grants = [Grant(lake, "project", lake, DATA_EDITOR, sa)]\n',
        )
        edit(
            grants,
            "    grants = [Grant(dwh, \"project\", dwh, JOB_USER, dbt)]\n",
            "    grants = [Grant(dwh, \"project\", dwh, JOB_USER, dbt), Grant(dwh, \"project\", dwh, \"roles/editor\", dbt)]\n",
        )
        edit(
            tree / "infra" / "components" / "pipeline_job.py",
            "    return env\n",
            "    token = pulumi.Config(\"toltek\").get_secret(\"canaryToken\")\n"
            "    if token is not None:\n"
            "        env[\"CANARY_TOKEN\"] = token\n"
            "    return env\n",
        )
        with open(tree / "Pulumi.prd.yaml", "a") as stack_file:
            stack_file.write(f"  toltek:canaryToken: {CANARY}\n")
        git(tree, "commit", "--quiet", "-am", "widened")
        empty = git(tree, "commit-tree", git(tree, "hash-object", "-t", "tree", "/dev/null").strip(), "-m", "empty").strip()
        return {
            "terminal": toltek_in(tree, "plan", "-s", "prd", "--diff", str(base_json)),
            "json": toltek_in(tree, "plan", "-s", "prd", "--diff", str(base_json), "--json"),
            "markdown_git": toltek_in(tree, "plan", "-s", "prd", "--diff", "HEAD~1", "--markdown"),
            "plan_json": toltek_in(tree, "plan", "-s", "prd", "--json"),
            "unknown_ref": toltek_in(tree, "plan", "-s", "prd", "--diff", "no-such-branch"),
            # a commit without infra/: refused, not planned with the installed copy instead
            "empty_commit": toltek_in(tree, "plan", "-s", "prd", "--diff", empty),
            "base_commit": git(tree, "rev-parse", "HEAD~1").strip(),
            "worktrees": git(tree, "worktree", "list"),
        }

    return shared("widened", run)


def test_a_new_pipeline_adds_exactly_its_resources_and_grants_against_a_saved_plan(new_pipeline):
    done = new_pipeline["json"]
    assert done["returncode"] == 0, done["stderr"][-3000:]
    diff = json.loads(done["stdout"])
    job, account = "toltek-refunds-prd", f"serviceAccount:pl-refunds@{LAKE}.iam.gserviceaccount.com"

    # Added: exactly the resources named after the pipeline (its job, account, datasets, secret, grants).
    assert {(r["type"], r["name"]) for r in diff["resources"]["added"]} == {
        ("toltek:pipelines:PipelineJob", job),
        ("gcp:serviceaccount/account:Account", f"{job}-sa"),
        ("gcp:cloudrunv2/job:Job", job),
        ("gcp:cloudscheduler/job:Job", job),
        ("gcp:monitoring/alertPolicy:AlertPolicy", f"{job}-failed"),
        ("gcp:monitoring/alertPolicy:AlertPolicy", f"{job}-stale"),
        ("gcp:logging/metric:Metric", f"{job}-rows"),
        ("gcp:bigquery/dataset:Dataset", f"{LAKE}-raw_refunds"),
        ("gcp:bigquery/dataset:Dataset", f"{LAKE}-raw_refunds_staging"),
        ("gcp:secretmanager/secret:Secret", f"{LAKE}-secret-refunds-api-key"),
        ("gcp:bigquery/datasetIamMember:DatasetIamMember", f"pl-refunds-bigquery.dataEditor-dataset-raw_refunds-{LAKE}"),
        ("gcp:bigquery/datasetIamMember:DatasetIamMember", f"pl-refunds-bigquery.dataEditor-dataset-raw_refunds_staging-{LAKE}"),
        ("gcp:projects/iAMMember:IAMMember", f"pl-refunds-bigquery.jobUser-project-{LAKE}-{LAKE}"),
        ("gcp:secretmanager/secretIamMember:SecretIamMember", f"pl-refunds-secretmanager.secretAccessor-secret-refunds-api-key-{LAKE}"),
        ("gcp:cloudrunv2/jobIamMember:JobIamMember", f"toltek-scheduler-run.invoker-job-{job}-{LAKE}"),
        ("gcp:bigquery/datasetIamMember:DatasetIamMember", f"toltek-dbt-bigquery.dataViewer-dataset-raw_refunds-{LAKE}"),
        ("gcp:cloudrunv2/jobIamMember:JobIamMember", f"toltek-dbt-run.viewer-job-{job}-{LAKE}"),
    }
    assert diff["resources"]["removed"] == []

    # Changed, and why: the dashboard has a row per pipeline; both images hold pipelines/, so their
    # content tags move, and every job runs its image by the new digest.
    changed = {(r["type"], r["name"]): r["changes"] for r in diff["resources"]["changed"]}
    jobs = [f"toltek-{p}-prd" for p in ("shop-api", "shop-files", "shop-sheets", "dbt")]
    assert set(changed) == {
        ("gcp:monitoring/dashboard:Dashboard", f"{LAKE}-pipelines"),
        ("docker:index/image:Image", f"{LAKE}-pipeline-image"),
        ("docker:index/image:Image", f"{DWH}-dbt-image"),
        *(("gcp:cloudrunv2/job:Job", name) for name in jobs),
    }
    for name in (f"{LAKE}-pipeline-image", f"{DWH}-dbt-image"):
        [tag] = changed[("docker:index/image:Image", name)]
        assert tag["path"] == "imageName" and tag["old"].rsplit(":", 1)[0] == tag["new"].rsplit(":", 1)[0]
    for name in jobs:
        [image] = changed[("gcp:cloudrunv2/job:Job", name)]
        assert image["path"] == "template.template.containers[0].image" and "@sha256:" in image["new"]
    tiles = "dashboardJson(json).mosaicLayout.tiles"
    dashboard = changed[("gcp:monitoring/dashboard:Dashboard", f"{LAKE}-pipelines")]
    assert all(c["path"].startswith(tiles) for c in dashboard)
    added_tiles = [c["new"]["widget"]["title"] for c in dashboard if c["kind"] == "added"]
    assert len(added_tiles) == 4 and all(t.startswith("refunds: ") for t in added_tiles)
    [heading] = [c for c in dashboard if c["path"] == f"{tiles}[0].widget.text.content"]
    assert "refunds, shop_api" in heading["new"] and "refunds" not in heading["old"]
    moved = [c for c in dashboard if c["kind"] == "changed" and c is not heading]
    assert moved and all(c["path"].endswith(".yPos") and c["new"] == c["old"] + 12 for c in moved)  # a row down

    # Its grants, and none widens IAM: the pipeline's own account on its own resources; dbt and
    # the scheduler get on its dataset and job the roles they hold on every other pipeline's.
    grants = {(g["principal"], g["role"], g["scope"], g["target"]) for g in diff["iam"]["added"]}
    assert grants == {
        (account, "roles/bigquery.dataEditor", "dataset", "raw_refunds"),
        (account, "roles/bigquery.dataEditor", "dataset", "raw_refunds_staging"),
        (account, "roles/bigquery.jobUser", "project", LAKE),
        (account, "roles/secretmanager.secretAccessor", "secret", "refunds-api-key"),
        (f"serviceAccount:toltek-scheduler@{LAKE}.iam.gserviceaccount.com", "roles/run.invoker", "job", job),
        (DBT, "roles/bigquery.dataViewer", "dataset", "raw_refunds"),
        (DBT, "roles/run.viewer", "job", job),
    }
    assert diff["iam"]["removed"] == [] and not diff["iam"]["widening"] and not diff["widening"]
    assert all(g["widening"] == [] for g in diff["iam"]["added"])
    # A positive cost delta, all of it the new pipeline's (both plans estimate in the same currency).
    cost = diff["cost"]
    assert cost["currency"] == "USD" and cost["total_monthly"]["delta"] > 0
    assert cost["pipelines"]["refunds"]["base"] is None and cost["pipelines"]["refunds"]["head"] > 0
    # The other pipelines pay a little more: the free tiers (per billing account) are shared in
    # proportion to use, and the new pipeline takes its part of them.
    assert all(row["delta"] >= 0 for row in cost["pipelines"].values())
    assert cost["total_monthly"]["delta"] >= cost["pipelines"]["refunds"]["head"]
    assert diff["base"]["kind"] == "file" and diff["version"] == 1


def test_the_new_pipelines_markdown_is_a_comment_with_valid_tables(new_pipeline):
    done = new_pipeline["markdown"]
    assert done["returncode"] == 0, done["stderr"][-3000:]
    text = done["stdout"]
    assert text.startswith("### `toltek plan -s prd` against ")
    assert "**16 to add, 0 to remove, 7 to change**" in text.splitlines()[2] and "no IAM widening" in text
    iam, cost, resources = tables(text)
    assert cost[0][1:] == [" BASE (USD/month) ", " this plan (USD/month) ", " change "] and cost[2][0].strip() == "refunds"
    assert iam[0] == ["  ", " principal ", " role ", " scope ", " widens IAM "] and len(iam) == 1 + 7
    assert " `roles/bigquery.dataViewer` " in [row[2] for row in iam] and all(row[4].strip() == "" for row in iam[1:])
    assert len(resources) == 1 + 17  # the added resources and the pipeline's component, inside the <details> block
    details = text[text.index("<details>"):]
    assert "</details>" in details and "`dashboardJson(json).mosaicLayout.tiles[1]`: added" in details
    assert "refunds" in text.split("cost", 1)[-1] and "no cost estimate" not in text


def test_widened_grants_exit_3_and_are_marked_in_every_format(widened):
    terminal, as_json, markdown = widened["terminal"], widened["json"], widened["markdown_git"]
    for done in (terminal, as_json, markdown):
        assert done["returncode"] == 3, done["stderr"][-3000:]

    diff = json.loads(as_json["stdout"])
    assert diff["widening"] is True and diff["iam"]["widening"] is True
    flagged = {(g["principal"], g["role"], g["scope"]): [r["rule"] for r in g["widening"]] for g in diff["iam"]["added"] if g["widening"]}
    assert flagged == {
        (SHOP_FILES, "roles/bigquery.dataEditor", "project"): ["wider-scope"],
        (DBT, "roles/editor", "project"): ["basic-role", "new-role"],
    }
    assert {(g["principal"], g["target"]) for g in diff["iam"]["removed"]} == {(SHOP_FILES, "raw_shop_files"), (SHOP_FILES, "raw_shop_files_staging")}

    lines = terminal["stdout"].splitlines()
    assert "2 widen(s) IAM" in lines[0]
    editor = lines.index(f"  + {DBT} → roles/editor → project {DWH}")
    assert lines[editor + 1].startswith("      WIDENS IAM: basic role roles/editor; new role:")
    scope = lines.index(f"  + {SHOP_FILES} → roles/bigquery.dataEditor → project {LAKE}")
    assert lines[scope + 1] == "      WIDENS IAM: wider scope: project level (BASE: it at dataset level at most)"
    assert f"  - {SHOP_FILES} → roles/bigquery.dataEditor → dataset raw_shop_files in {LAKE}" in lines

    text = markdown["stdout"]
    assert ":warning: **IAM widens: 2 grant(s)**" in text
    iam = tables(text)[0]
    rows = {(row[1].strip(), row[2].strip()): row[4].strip() for row in iam[1:] if row[0].strip() == "+"}
    assert rows[(f"`{DBT}`", "`roles/editor`")].startswith("**basic role roles/editor; new role:")
    assert rows[(f"`{SHOP_FILES}`", "`roles/bigquery.dataEditor`")] == "**wider scope: project level (BASE: it at dataset level at most)**"


def test_a_git_ref_is_evaluated_in_a_worktree_of_that_commit_and_removed_after(widened):
    """HEAD~1 is this repository as it is: the same plan as the saved base.json, so the same IAM."""
    markdown = widened["markdown_git"]["stdout"]
    assert markdown.startswith(f"### `toltek plan -s prd` against `HEAD~1` (`{widened['base_commit'][:12]}`)")
    from_file = json.loads(widened["json"]["stdout"])
    git_rows = tables(markdown)[0][1:]
    assert len(git_rows) == len(from_file["iam"]["added"]) + len(from_file["iam"]["removed"])
    assert {row[1].strip().strip("`") for row in git_rows} == {g["principal"] for g in from_file["iam"]["added"] + from_file["iam"]["removed"]}
    assert widened["worktrees"].count("\n") == 1  # only the repository itself: the base's worktree is gone


def test_an_unknown_ref_or_a_saved_plan_of_another_version_is_one_line_and_exit_2(widened, tmp_path):
    unknown = widened["unknown_ref"]
    assert unknown["returncode"] == 2 and unknown["stdout"] == ""
    assert unknown["stderr"].strip().startswith("error: 'no-such-branch' is neither a plan file nor a git ref")
    assert len(unknown["stderr"].strip().splitlines()) == 1

    empty = widened["empty_commit"]
    assert empty["returncode"] == 2 and empty["stdout"] == ""
    [line] = empty["stderr"].strip().splitlines()
    assert line.startswith("error: cannot evaluate stack prd at ") and line.endswith(
        ": no infra.plan there (the installed one would be planned instead)"
    )

    old = tmp_path / "old.json"  # every other refusal of a saved plan: test_plan_diff_output.py
    old.write_text(json.dumps({"version": 99, "stack": "prd", "resources": []}))
    done = subprocess.run([str(TOLTEK), "plan", "-s", "prd", "--diff", str(old)], capture_output=True, text=True, env=toltek_env(tmp_path), timeout=300)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.strip() == (
        f"error: {old} is plan format version 99; this toltek reads version 1: save it again with `toltek plan -s prd --json`"
    )


def test_secret_values_never_appear_in_any_output(widened):
    """A value from the stack config, read as a secret into every pipeline job: "[secret]" only."""
    outputs = [widened[k]["stdout"] + widened[k]["stderr"] for k in ("terminal", "json", "markdown_git", "plan_json")]
    assert all(CANARY not in out for out in outputs)
    assert CANARY[:12] not in "".join(outputs)  # not even shortened
    diff = json.loads(widened["json"]["stdout"])
    [shop_api] = [r for r in diff["resources"]["changed"] if r["name"] == "toltek-shop-api-prd"]
    assert {"path": "template.template.containers[0].envs[0]", "kind": "added", "new": {"name": "CANARY_TOKEN", "value": "[secret]"}} in shop_api["changes"]
    assert '+ {"name": "CANARY_TOKEN", "value": "[secret]"}' in widened["terminal"]["stdout"]
    plan = json.loads(widened["plan_json"]["stdout"])
    [job] = [r for r in plan["resources"] if r["name"] == "toltek-shop-api-prd" and r["type"] == "gcp:cloudrunv2/job:Job"]
    assert {"name": "CANARY_TOKEN", "value": "[secret]"} in job["inputs"]["template"]["template"]["containers"][0]["envs"]


def test_markdown_needs_diff_and_excludes_json(tmp_path):
    for args, message in (
        (["--markdown"], "error: --markdown prints a diff: add --diff BASE"),
        (["--diff", "HEAD", "--json", "--markdown"], "error: choose one of --json and --markdown"),
    ):
        done = subprocess.run([str(TOLTEK), "plan", "-s", "prd", *args], capture_output=True, text=True, env=toltek_env(tmp_path), timeout=300)
        assert (done.returncode, done.stderr.strip()) == (2, message)


def test_help_shows_diff_examples(tmp_path):
    done = subprocess.run([str(TOLTEK), "plan", "--help"], capture_output=True, text=True, env=toltek_env(tmp_path), timeout=300)
    assert "toltek plan -s prd --diff main" in done.stdout and "toltek plan -s prd --diff base.json --markdown" in done.stdout


def test_sigterm_while_the_base_is_evaluated_stops_in_one_line_and_removes_its_worktree(tmp_path):
    """A cancelled CI job sends SIGTERM: the base's git worktree and its scratch folder went with
    the process's default handling, left behind in the repository and /tmp."""
    import os
    import signal
    import time

    tree = copy_repository(tmp_path / "repo")
    git(tree, "init", "--quiet")
    git(tree, "add", "-A")
    git(tree, "commit", "--quiet", "-m", "as it is")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = toltek_env(tree / ".home", PYTHONPATH=str(tree), TMPDIR=str(scratch))
    process = subprocess.Popen(
        [sys.executable, "-c", "from pipelines.cli import main; main()", "plan", "-s", "prd", "--diff", "HEAD"],
        cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while not any((base / "tree").is_dir() for base in scratch.glob("toltek-base-*")):  # the worktree is being used
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert err == "interrupted by SIGTERM: stopped; the base's worktree removed\n"
    assert list(scratch.iterdir()) == []
    assert git(tree, "worktree", "list").count("\n") == 1  # only the repository itself
