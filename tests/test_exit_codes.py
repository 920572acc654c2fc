"""The README's exit-code table, command by command: where each code is tested.

Exit 2 (a user mistake, one line, no traceback) is checked here for every command; the other
codes are checked by the tests named in `ELSEWHERE`, which this module verifies still exist.
"""

from __future__ import annotations

import importlib
import re
import subprocess

import pytest
from conftest import REPO_ROOT, TOLTEK, toltek_env

MISTAKES = {
    "pipelines": (["pipelines", "--no-such-option"], "No such option"),
    "run": (["run", "no_such_pipeline"], "unknown pipeline 'no_such_pipeline'"),
    "transform": (["transform", "--env", "qa"], "unknown environment 'qa'"),
    "dbt-sources": (["dbt-sources", "--no-such-option"], "No such option"),
    "status": (["status", "-s", "qa"], "unknown stack 'qa'"),
    "trigger": (["trigger", "no_such_pipeline", "-s", "prd"], "no_such_pipeline"),
    "logs": (["logs", "shop_api", "-s", "prd", "--since", "soon"], "--since"),
    "plan": (["plan", "-s", "qa"], "unknown stack 'qa'"),
    "policy": (["policy", "-s", "qa"], "unknown stack 'qa'"),
}

# code -> (test module, test function) per command that can return it.
ELSEWHERE = {
    0: [("test_cli", "test_run_json_is_the_summary_as_data_on_stdout"), ("test_orchestration", "test_the_dbt_sources_carry_the_freshness_each_schedule_implies"),
        ("test_ops_cli", "test_trigger_wait_follows_the_execution_until_it_succeeds"), ("test_policy_cli", None), ("test_plan", None)],
    1: [("test_cli", "test_a_failed_and_a_never_loaded_source_leave_out_their_models_and_the_rest_is_built"),
        ("test_orchestration", "test_transform_leaves_out_a_stale_sources_models_and_fails"),
        ("test_ops_cli", "test_trigger_wait_exits_1_when_the_execution_does_not_succeed"),
        ("test_ops_cli", "test_an_unreachable_api_is_one_line_and_exit_1")],
    3: [("test_plan_diff", "test_widened_grants_exit_3_and_are_marked_in_every_format")],
    130: [("test_crash_safety", "test_a_signal_inside_dbt_stops_in_one_line_and_the_next_run_builds_the_same_marts"),
          ("test_ops_cli", "test_ctrl_c_while_following_an_execution_exits_130_and_leaves_it_running"),
          ("test_ops_logs", "test_ctrl_c_while_following_logs_exits_130")],
    143: [("test_crash_safety", "test_sigterm_stops_cleanly_with_a_non_zero_exit_and_the_next_run_completes"),
          ("test_plan_diff", "test_sigterm_while_the_base_is_evaluated_stops_in_one_line_and_removes_its_worktree")],
}


@pytest.mark.parametrize("command", sorted(MISTAKES))
def test_a_user_mistake_is_exit_2_in_one_line(command, tmp_path):
    args, fragment = MISTAKES[command]
    done = subprocess.run([str(TOLTEK), *args], capture_output=True, text=True, env=toltek_env(tmp_path, COLUMNS="200", NO_GCE_CHECK="True"), timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert fragment in done.stderr
    assert "Traceback" not in done.stderr


def test_every_command_in_the_readme_table_is_covered():
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split("| code | meaning | commands |", 1)[1].split("\n\n", 1)[0]
    codes = {int(c) for row in re.findall(r"^\| ([^|]+) \|", table, re.M) for c in re.findall(r"`(\d+)`", row)}
    assert codes == {0, 1, 2, 3, 130, 143}
    for name in MISTAKES:
        assert f"`{name}`" in table or "| all |" in table


@pytest.mark.parametrize("code", sorted(ELSEWHERE))
def test_the_tests_of_the_other_codes_exist(code):
    for module, function in ELSEWHERE[code]:
        loaded = importlib.import_module(module)
        if function:
            assert callable(getattr(loaded, function, None)), f"{module}.{function} (exit {code}) is gone"


def test_transform_before_anything_was_loaded_says_run_first_and_creates_nothing(tmp_path):
    env = toltek_env(tmp_path, COLUMNS="200")
    done = subprocess.run([str(TOLTEK), "transform"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "nothing to transform yet" in done.stderr and "`toltek run`" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.duckdb"))
