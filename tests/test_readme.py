"""The README's runnable blocks (a fenced `sh` block right after a `<!-- runnable ... -->` line)
run as written, offline, in a directory laid out like a checkout after `make run`: `.venv` and a
`.toltek/` home that one whole run loaded. Every command must exit 0.

The rest of the docs is checked without running anything: every `toltek …` command line in
README.md and docs/*.md parses against the CLI's own definitions, the Reference table names every
command and option, tables are well-formed, repository paths and in-page links lead somewhere."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

import pytest
from conftest import REPO_ROOT, copy_of_loaded_home

BLOCK = re.compile(r"^<!-- runnable[^>]*-->\n```sh\n(.*?)^```", re.M | re.S)


def runnable_blocks() -> list[str]:
    return BLOCK.findall((REPO_ROOT / "README.md").read_text())


def commands(block: str) -> list[str]:
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_marks_its_quick_start_and_plan_blocks_runnable():
    blocks = runnable_blocks()
    assert len(blocks) >= 2
    assert any(".venv/bin/toltek run" in b for b in blocks) and any(".venv/bin/toltek plan" in b for b in blocks)


@pytest.mark.parametrize("index", range(len(runnable_blocks())))
def test_each_runnable_block_runs_as_written(index, loaded_home, tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(REPO_ROOT / ".venv")
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prd.yaml"):
        (checkout / name).symlink_to(REPO_ROOT / name)
    home = copy_of_loaded_home(loaded_home, checkout / ".toltek")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLTEK_")} | {"TOLTEK_HOME": str(home), "COLUMNS": "120"}
    for command in commands(runnable_blocks()[index]):
        done = subprocess.run(["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr, command


# ----- Every `toltek` command line the docs show parses against the CLI's own definitions ---------
#
# Without running anything: the command exists, each option exists for it (and takes a value or
# not as written), positional words fit its arguments; and the Reference table names every command
# and every option, so neither side can drift. Fast: the click definitions only, no plan, no dlt.

DOCS = ("README.md", *sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "docs").glob("*.md")))
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
# `toltek` as a command word: at the start, after a space or a path (`.venv/bin/toltek`), never a
# name such as `toltek-dbt` or `toltek:currency`, nor the "another toltek run or transform" of a message.
COMMAND_LINE = re.compile(r"(?:^|(?<=[\s/]))(?<!another )toltek( +(?:-{1,2}[\w-]|[a-z]).*)$")
IGNORED_WORDS = {"...", "…", "|"}


def cli_commands() -> tuple[object, dict[str, object]]:
    """The `toltek` group's click command and its subcommands, plugins included (registered on a
    throwaway app, so the real one is left as it is)."""
    from importlib.metadata import entry_points

    import typer

    from pipelines import cli

    root = typer.main.get_command(cli.app)
    plugins = typer.Typer()
    plugins.callback()(lambda: None)
    for entry in entry_points(group="toltek.commands"):
        entry.load()(plugins)
    return root, {**root.commands, **typer.main.get_command(plugins).commands}


def doc_command_lines() -> list[tuple[str, int, str]]:
    """(file, line number, text after `toltek`) of every `toltek …` in a code block or code span."""
    found = []
    for name in DOCS:
        text = (REPO_ROOT / name).read_text()
        fenced = {n for m in FENCE.finditer(text) for n in range(text.count("\n", 0, m.start(1)) + 1, text.count("\n", 0, m.end(1)) + 1)}
        for number, line in enumerate(text.splitlines(), 1):
            pieces = [line] if number in fenced else SPAN.findall(line)
            for piece in pieces:
                for part in re.split(r"\s(?:#|>|;|&&)\s?|`", piece):
                    match = COMMAND_LINE.search(part.strip())
                    if match:
                        found.append((name, number, match.group(1).strip()))
    return found


def words(args: str) -> list[str]:
    """A documented command line as words: table escapes undone, `[...]` optional parts opened,
    `a|b` alternatives split, `<placeholder text>` one word."""
    args = re.sub(r"<[^>]*>", "PLACEHOLDER", args.replace("\\|", "|"))
    try:
        split = shlex.split(args)
    except ValueError:  # an apostrophe in a message quoted after the command
        split = args.split()
    out = []
    for word in split:
        word = word.strip("[]")
        if word and word not in IGNORED_WORDS:
            out.extend(w for w in word.split("|") if w) if word.startswith("-") else out.append(word)
    return out


def problems(args: str, root, commands: dict) -> list[str]:  # noqa: ANN001 - click objects
    """What in `toltek ARGS` the CLI would refuse: an unknown command or option, too many words."""
    said = words(args)
    if said[0].startswith("-"):  # an option of `toltek` itself, e.g. --version
        command, name, rest = root, "toltek", said
    elif said[0] in commands:
        command, name, rest = commands[said[0]], f"toltek {said[0]}", said[1:]
    elif said[0].isupper():  # `toltek COMMAND --help`
        return []
    else:
        return [f"no command {said[0]!r}"]
    options = {opt: p for p in command.params if p.param_type_name == "option" for opt in p.opts + p.secondary_opts}
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    room = float("inf") if any(a.nargs == -1 for a in arguments) else len(arguments)
    found, positional, i = [], 0, 0
    while i < len(rest):
        word = rest[i]
        if word.startswith("-"):
            option = options.get(word.split("=", 1)[0])
            if option is None and word != "--help":
                found.append(f"`{name}` has no option {word.split('=', 1)[0]}")
            elif option is not None and not option.is_flag and "=" not in word:
                i += 1  # its value
        else:
            positional += 1
        i += 1
    if positional > room:
        found.append(f"{positional} positional word(s) where `{name}` takes {len(arguments)}")
    return found


def test_every_toltek_command_line_in_the_docs_parses():
    root, commands = cli_commands()
    lines = doc_command_lines()
    assert len(lines) > 50, "the extraction found almost no command lines: is the pattern broken?"
    bad = [f"{name}:{number}: toltek {args}: {'; '.join(found)}" for name, number, args in lines if (found := problems(args, root, commands))]
    assert not bad, "\n".join(bad)


def reference_table() -> str:
    """The CLI table of the README's Reference section: its rows, up to the first line that is not one."""
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index("| command | what it does |")
    rows = []
    for line in text[start:].splitlines():
        if not line.startswith("|"):
            break
        rows.append(line)
    return "\n".join(rows)


def test_the_reference_table_names_every_command_and_option():
    root, commands = cli_commands()
    documented: dict[str, set[str]] = {}
    for row in reference_table().splitlines()[2:]:
        first_cell = re.split(r"(?<!\\)\|", row)[1]
        for span in SPAN.findall(first_cell):
            said = words(span.removeprefix("toltek "))
            key = "" if said[0].startswith("-") else said[0]
            documented.setdefault(key, set()).update(w.split("=", 1)[0] for w in said if w.startswith("-"))
    missing = [f"`toltek {name}` has no row" for name in commands if name not in documented]
    for name, command in [("", root), *commands.items()]:
        for p in command.params:
            names = set(p.opts + p.secondary_opts)
            if p.param_type_name == "option" and not names & {"--help", "--install-completion", "--show-completion"}:
                if not names & documented.get(name, set()):
                    missing.append(f"`{f'toltek {name}'.strip()}`: {p.opts[0]} is not in the table")
    assert not missing, "\n".join(missing)


def test_the_docs_tables_are_valid_github_tables():
    """A blank line inside a table ends it: the rows after it would show as a paragraph of pipes."""
    from gfm import tables

    for name in DOCS:
        tables(FENCE.sub("", (REPO_ROOT / name).read_text()))  # fails on a malformed table


TOP_LEVEL = {p.name for p in REPO_ROOT.iterdir() if not p.name.startswith(".")} | {".github", ".ci"}


def test_every_repository_path_the_docs_name_exists():
    """A code span that is a path into the repository (`infra/grants.py`, `pipelines/samples/data/`)
    names something that is there; placeholders (`<name>`, `*`) are not checked."""
    missing = []
    for name in DOCS:
        prose = FENCE.sub("", (REPO_ROOT / name).read_text())
        for span in SPAN.findall(prose):
            path = span.strip()
            if re.fullmatch(r"[\w.-]+(/[\w.-]*)*", path) and path.split("/")[0] in TOP_LEVEL and not (REPO_ROOT / path).exists():
                missing.append(f"{name}: {path}")
    assert not missing, "\n".join(missing)


def test_a_file_and_line_the_readme_quotes_is_that_class():
    """The example declaration error names the file and line of the class, as `toltek` prints it."""
    text = (REPO_ROOT / "README.md").read_text()
    quoted = re.findall(r"`(pipelines/\w+/pipeline\.py):(\d+): (\w+)\.", text)
    assert quoted
    for path, line, cls in quoted:
        if (REPO_ROOT / path).exists():
            source = (REPO_ROOT / path).read_text().splitlines()
            assert source[int(line) - 1].startswith(f"class {cls}("), f"{path}:{line} is not the line of class {cls}"


def github_anchor(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def test_every_link_in_the_docs_leads_somewhere():
    for name in DOCS:
        text = (REPO_ROOT / name).read_text()
        anchors = {github_anchor(h) for h in re.findall(r"^#+ (.+)$", FENCE.sub("", text), re.M)}
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            if path:
                assert (REPO_ROOT / name).parent.joinpath(path).exists(), f"{name}: link to {target}"
            elif anchor:
                assert anchor in anchors, f"{name}: no heading for #{anchor}"
