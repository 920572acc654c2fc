"""Text from outside the CLI (config values, API answers, messages, names) is printed as it is:
Rich neither takes a `[` in it for markup (`[/]` used to end the command with a MarkupError
traceback, `[secret]` vanished) nor an emoji code (`:x:` became an emoji), in a terminal, piped,
or as Cloud Logging records."""

from __future__ import annotations

import json
import subprocess

from conftest import TOLTEK, copy_repository, toltek_env

OUTSIDE = "eu[/]x:x:[bold]w[secret]"


def test_a_config_value_with_markup_is_quoted_as_it_is(tmp_path):
    tree = copy_repository(tmp_path / "repo")
    stack = tree / "Pulumi.prd.yaml"
    text = stack.read_text()
    assert text.count("toltek:region: europe-west1") == 1
    stack.write_text(text.replace("toltek:region: europe-west1", f'toltek:region: "{OUTSIDE}"'))
    done = subprocess.run(
        [str(TOLTEK), "plan", "-s", "prd"], capture_output=True, text=True, cwd=tree, timeout=300,
        env=toltek_env(tmp_path / "home", PYTHONPATH=str(tree)),
    )
    assert (done.returncode, done.stderr) == (
        2, f"error: Pulumi.prd.yaml: 'toltek:region' is '{OUTSIDE}', expected a GCP region, e.g. europe-west1\n"
    )


def test_an_api_answer_with_markup_fails_the_run_quoting_it_as_it_is(tmp_path):
    faults = json.dumps([{"path": "/shop/v1/customers", "body": {"[/]": 1, ":x:": 2, "[secret]": 3}, "times": -1}])
    done = subprocess.run(
        [str(TOLTEK), "run", "shop_api", "--skip-transform"], capture_output=True, text=True, timeout=300,
        env=toltek_env(tmp_path / "home", TOLTEK_SAMPLE_FAULTS=faults),
    )
    assert done.returncode == 1, done.stderr
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and failed[0].endswith("/shop/v1/customers has no 'data' (it has: :x:, [/], [secret])"), done.stderr
    assert "Traceback" not in done.stderr


def test_cloud_logging_records_keep_the_text_and_the_severity():
    from pipelines.cloud_log import describe
    from pipelines.console_text import labelled, plain

    assert describe(labelled("failed:", OUTSIDE))[:2] == ("ERROR", f"failed: {OUTSIDE}")
    assert describe(labelled("note:", OUTSIDE, "yellow"))[:2] == ("WARNING", f"note: {OUTSIDE}")
    assert describe(plain(OUTSIDE))[:2] == ("INFO", OUTSIDE)


def test_labelled_lines_keep_every_character_even_a_trailing_backslash():
    """Rich's markup `escape` doubled a backslash at the end of a message (`C:\\drops\\` printed
    with two): lines are `Text` now, not escaped markup."""
    import io

    from rich.console import Console

    from pipelines.console_text import labelled

    for text in (OUTSIDE, "C:\\drops\\", "\\[bold]x\\", ":x: [/] \\"):
        console = Console(file=io.StringIO(), width=400, emoji=False, color_system=None)
        console.print(labelled("error:", text), soft_wrap=True)
        assert console.file.getvalue() == f"error: {text}\n"


def test_findings_and_plan_tables_show_names_and_messages_as_they_are():
    from types import SimpleNamespace

    from infra.cli import findings_table, out

    finding = SimpleNamespace(rule="rule-[x]", level="mandatory", resource=OUTSIDE, path="env[0].value", message=f"is {OUTSIDE}")
    width, out.width = out.width, 400  # every cell on one line
    try:
        with out.capture() as captured:  # the command's own console
            out.print(findings_table(f"stack {OUTSIDE}", [finding]))
    finally:
        out.width = width
    shown = captured.get()
    assert f"stack {OUTSIDE}" in shown and f"{OUTSIDE} env[0].value" in shown and f"is {OUTSIDE}" in shown and "rule-[x]" in shown


def test_a_stack_name_with_markup_is_refused_as_it_is(tmp_path):
    for command in ("plan", "policy"):
        done = subprocess.run([str(TOLTEK), command, "-s", OUTSIDE], capture_output=True, text=True, timeout=300, env=toltek_env(tmp_path))
        assert (done.returncode, done.stderr) == (2, f"error: unknown stack '{OUTSIDE}' (choose from: dev, prd)\n"), done.stderr


def test_control_characters_from_outside_are_shown_not_acted_on():
    """An escape sequence in a log message or an API answer would recolour the terminal, retitle
    its window or move the cursor back over what was printed; a carriage return would print over
    the line. They are shown as `\\xNN`; line feeds and other text stay as they are."""
    import io
    from datetime import datetime, timezone

    from rich.console import Console

    from pipelines.console_text import labelled
    from pipelines.ops.logs import Entry

    hostile = "a\x1b[31mred\x1b]0;pwned\x07 over\rwritten\x9b2J é"
    shown = "a\\x1b[31mred\\x1b]0;pwned\\x07 over\\x0dwritten\\x9b2J é"
    for line in (labelled("failed:", hostile), Entry("1", datetime(2026, 1, 1, tzinfo=timezone.utc), "ERROR", hostile, "x").line("UTC")):
        console = Console(file=io.StringIO(), width=400, emoji=False, force_terminal=True, color_system=None)
        console.print(line, soft_wrap=True)
        printed = console.file.getvalue()
        assert printed.endswith(f"{shown}\n") and "\x1b" not in printed and "\r" not in printed and "\x07" not in printed, repr(printed)
