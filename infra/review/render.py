"""A `PlanDiff` for people: in a terminal (Rich), or as a pull-request comment (GitHub-flavoured
Markdown: a summary line, tables for IAM and cost, the resources in a `<details>` block).

Values are shown as JSON, long ones shortened in the middle (a digest's end stays visible); secret
values are "[secret]" in the plans already, and are shown so.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.console import Console
from rich.text import Text

from infra.review.compare import PlanDiff
from infra.review.iam_diff import GrantRow, Reason
from infra.review.resource_diff import MISSING, Change

TERMINAL_WIDTH = 160  # longest value shown in a terminal
MARKDOWN_WIDTH = 120  # ... in a comment
CONDITION_WIDTH = 60
# GitHub refuses a comment body over 65,536 characters, and the preview workflow posts both stacks
# in one comment: each stack's Markdown is cut to fit in half of it, least important part last.
MARKDOWN_LIMIT = 32_000
SIGNS = {"added": "+", "removed": "-", "changed": "~"}


def clip(text: str, limit: int) -> str:
    """`text` shortened in the middle to at most `limit` characters."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return f"{text[:head]}…{text[len(text) - (limit - 1 - head):]}"


def value_text(value: Any, limit: int) -> str:
    return clip(json.dumps(value, ensure_ascii=False, sort_keys=True), limit)


def change_parts(change: Change, limit: int) -> tuple[str | None, str | None]:
    """(old, new) of a property change as shown; None on the side it is absent from."""
    old = None if change.old is MISSING else value_text(change.old, limit)
    new = None if change.new is MISSING else value_text(change.new, limit)
    return old, new


def change_text(change: Change, limit: int) -> str:
    old, new = change_parts(change, limit)
    if old is None:
        return f"+ {new}"
    if new is None:
        return f"- {old}"
    return f"{old} → {new}"


def base_label(diff: PlanDiff) -> str:
    base = diff.base
    commit = base.get("commit")
    return f"{base['source']} ({commit[:12]})" if commit and not commit.startswith(base["source"]) else base["source"]


def condition_text(grant: GrantRow) -> str:
    return f"if {clip(' '.join(grant.condition.split()), CONDITION_WIDTH)}" if grant.condition else ""


def headline(diff: PlanDiff) -> str:
    added, removed, changed = diff.resources.counts()
    widening = len(diff.iam.widening)
    iam = f"{len(diff.iam.added)} grant(s) added, {len(diff.iam.removed)} removed" + _changed(diff)
    iam += f", {widening} widen(s) IAM" if widening else ", none widens IAM"
    return f"stack {diff.stack} against {base_label(diff)}: {added} to add, {removed} to remove, {changed} to change; {iam}"


def _changed(diff: PlanDiff) -> str:
    """`, 1 changed` when grants kept from BASE allow more (their custom role grew); else nothing."""
    return f", {len(diff.iam.changed)} changed" if diff.iam.changed else ""


def cost_lines(cost: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(what, BASE, this plan, change) rows of the cost section (empty when it has a note)."""
    if "note" in cost:
        return []

    def money(v: float | None) -> str:
        return "-" if v is None else f"{v:,.2f}"

    rows = [("total per month", cost["total_monthly"])] + [(name, row) for name, row in cost["pipelines"].items()]
    return [(what, money(r["base"]), money(r["head"]), f"{r['delta']:+,.2f}") for what, r in rows]


# Terminal ----------------------------------------------------------------------------------------


def terminal(diff: PlanDiff, console: Console) -> None:
    def say(*parts: str | tuple[str, str]) -> None:
        """One line of plain text and (text, style) parts: names and values are never markup."""
        console.print(Text.assemble(*parts), soft_wrap=True)

    say((headline(diff), "bold"))
    say()
    say(("Resources", "bold"))
    if not (diff.resources.added or diff.resources.removed or diff.resources.changed):
        say("  no change")
    for sign, style, entries in (("+", "green", diff.resources.added), ("-", "red", diff.resources.removed)):
        for r in entries:
            component = "" if r.get("custom", True) else " (component)"
            parent = ("  ", (f"(parent {r['parent']})", "dim")) if r.get("parent") else ()
            say("  ", (sign, style), f" {r['type']}{component} ", (r["name"], "bold"), *parent)
    for c in diff.resources.changed:
        say("  ", ("~", "yellow"), f" {c.resource['type']} ", (c.resource["name"], "bold"))
        for change in c.changes:
            say(f"      {change.path}: {change_text(change, TERMINAL_WIDTH)}")
    say()
    say(("IAM", "bold"), " ", ("(principal → role → scope)", "dim"))
    if not (diff.iam.added or diff.iam.removed or diff.iam.changed):
        say("  no grant added or removed")
    for grant, reasons in diff.iam.added:
        say("  ", ("+", "green"), f" {_grant_line(grant)}", *_terminal_reasons(reasons))
    for grant in diff.iam.removed:
        say("  ", ("-", "red"), f" {_grant_line(grant)}")
    for grant, reasons in diff.iam.changed:
        say("  ", ("~", "yellow"), f" {_grant_line(grant)}", *_terminal_reasons(reasons))
    say()
    if "note" in diff.cost:
        say(("Cost", "bold"))
        say(f"  {diff.cost['note']}")
    else:
        say(("Cost", "bold"), " ", (f"({diff.cost.get('currency', '')} per month)", "dim"))
    for what, old, new, delta in cost_lines(diff.cost):
        say(f"  {what}: {old} → {new} ({delta})")
    if diff.findings:
        say()
        say(("Deploy findings", "bold red"), f" ({len(diff.findings)}): see `toltek plan -s {diff.stack}`")
        for f in diff.findings:
            where = f"{f['resource']} {f.get('path') or ''}".strip()
            say("  ", (f["rule"], "red"), f" {where}: {f['message']}")


def _grant_line(grant: GrantRow) -> str:
    condition = condition_text(grant)
    return f"{grant.principal} → {grant.role} → {grant.where()}" + (f" {condition}" if condition else "")


def _terminal_reasons(reasons: list[Reason]) -> tuple[str | tuple[str, str], ...]:
    if not reasons:
        return ()
    return ("\n      ", ("WIDENS IAM:", "bold red"), " " + "; ".join(r.message for r in reasons))


# Markdown ----------------------------------------------------------------------------------------


def code(text: str, *, in_table: bool = True) -> str:
    """`text` as a code span, backticks fenced; in a GFM table cell with its pipes escaped (the
    table reads `\\|` before the code span does; elsewhere a backslash would show)."""
    text = " ".join(str(text).split())
    if in_table:
        text = text.replace("|", "\\|")
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def cell(text: str) -> str:
    """Plain text for a GFM table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> list[str]:
    """A GFM table: header, separator and one line per row, all with the header's columns."""
    align = align or ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    for row in rows:
        assert len(row) == len(header), (header, row)
        lines.append("| " + " | ".join(c if c else " " for c in row) + " |")
    return lines


def _scope_md(grant: GrantRow) -> str:
    project = grant.in_project()
    where = f"{cell(grant.scope)} {code(grant.target)}" + (f" in {code(project)}" if project else "")
    condition = condition_text(grant)
    return f"{where} {code(condition)}" if condition else where


def markdown(diff: PlanDiff) -> str:
    added, removed, changed = diff.resources.counts()
    widening = diff.iam.widening
    base = diff.base
    commit = base.get("commit")
    against = code(base["source"]) + (f" ({code(commit[:12])})" if commit and not commit.startswith(base["source"]) else "")
    out = [f"### `toltek plan -s {diff.stack}` against {against}", ""]
    summary = f"**{added} to add, {removed} to remove, {changed} to change** · IAM: {len(diff.iam.added)} grant(s) added, {len(diff.iam.removed)} removed"
    summary += _changed(diff)
    if widening:
        summary += f" · :warning: **IAM widens: {len(widening)} grant(s)** (a second reviewer is needed)"
    else:
        summary += " · no IAM widening"
    summary += f" · cost: {cell(diff.cost['note'])}" if "note" in diff.cost else ""
    if diff.findings:
        summary += f" · :x: **{len(diff.findings)} deploy finding(s)**"
    out += [summary, ""]

    out += ["#### IAM", ""]
    if diff.iam.added or diff.iam.removed or diff.iam.changed:
        rows = [
            [sign, code(g.principal), code(g.role), _scope_md(g), f"**{cell('; '.join(r.message for r in reasons))}**" if reasons else ""]
            for sign, grants in (("+", diff.iam.added), ("-", [(g, []) for g in diff.iam.removed]), ("~", diff.iam.changed))
            for g, reasons in grants
        ]
        out += table(["", "principal", "role", "scope", "widens IAM"], rows)
    else:
        out.append("No grant added or removed.")
    out.append("")

    out += ["#### Cost", ""]
    if "note" in diff.cost:
        out.append(f"_{cell(diff.cost['note'])}_")
    else:
        currency = cell(diff.cost.get("currency") or "")
        rows = [[cell(what) if i else f"**{cell(what)}**", old, new, delta] for i, (what, old, new, delta) in enumerate(cost_lines(diff.cost))]
        out += table(["", f"BASE ({currency}/month)", f"this plan ({currency}/month)", "change"], rows, ["---", "---:", "---:", "---:"])
    out.append("")

    if diff.findings:
        out += ["#### Deploy findings", ""]
        out += table(
            ["rule", "resource", "message"],
            [[code(f["rule"]), code(f"{f['resource']} {f.get('path') or ''}".strip()), cell(f["message"])] for f in diff.findings],
        )
        out.append("")

    out += [f"<details><summary>Resources: {added} to add, {removed} to remove, {changed} to change</summary>", ""]
    listed = [("+", r) for r in diff.resources.added] + [("-", r) for r in diff.resources.removed]
    if listed:
        out += table(
            ["", "type", "name", "parent"],
            [[sign, code(r["type"]) + ("" if r.get("custom", True) else " (component)"), code(r["name"]), code(r.get("parent") or "")] for sign, r in listed],
        )
        out.append("")
    for c in diff.resources.changed:
        out.append(f"- ~ {code(c.resource['type'], in_table=False)} {code(c.resource['name'], in_table=False)}")
        for change in c.changes:
            old, new = (code(v, in_table=False) if v is not None else None for v in change_parts(change, MARKDOWN_WIDTH))
            what = f"added {new}" if old is None else f"removed (was {old})" if new is None else f"{old} → {new}"
            out.append(f"  - {code(change.path, in_table=False)}: {what}")
    if diff.resources.changed:
        out.append("")
    if not (listed or diff.resources.changed):
        out += ["No resource added, removed or changed.", ""]
    out += ["</details>", ""]
    return _fit(out, diff, MARKDOWN_LIMIT)


def _fit(lines: list[str], diff: PlanDiff, limit: int) -> str:
    """`lines` joined, or as many of them as fit in `limit` characters with a note saying what was
    left out and how to see it (the order of the sections puts the least important last)."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    note = (
        "_… {left} more line(s) of this diff are not shown: a pull-request comment holds 65,536 characters. "
        f"`toltek plan -s {diff.stack} --diff {diff.base['source']}` prints all of it._"
    )
    room = limit - len(note) - len("</details>") - 16
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > room:
            break
        kept.append(line)
    opened = sum(k.startswith("<details>") for k in kept) - sum(k == "</details>" for k in kept)
    kept += ["", note.format(left=len(lines) - len(kept)), ""] + ["</details>", ""] * opened
    return "\n".join(kept)


def json_text(diff: PlanDiff) -> str:
    return json.dumps(diff.as_dict(), indent=2, default=lambda v: None if v is MISSING else str(v))
