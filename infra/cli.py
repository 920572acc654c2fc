"""`toltek plan` (and the other infrastructure commands), added to the CLI through the
`toltek.commands` entry point so the pipeline runtime never imports Pulumi."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from pipelines.console_text import labelled, plain
from pipelines.errors import UserError

# No emoji codes; text from outside (messages, names, values) is printed as `Text`, never as markup.
out = Console(emoji=False)
err = Console(stderr=True, emoji=False)

PolicyJson = Annotated[bool, typer.Option("--json", help="Print the violations (with --list: the rules) as JSON.")]


def _fail(message: str) -> None:
    err.print(labelled("error:", message), soft_wrap=True)
    raise typer.Exit(2)


def plan(
    stack: Annotated[str | None, typer.Option("--stack", "-s", help="Stack: dev or prd (reads Pulumi.<stack>.yaml).", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan document (resources, deploy findings, secret versions, cost estimate) as JSON; with --diff, the diff.")] = False,
    checklist: Annotated[bool, typer.Option("--checklist", help="Print the first-deploy checklist of the dev and prd stacks (Markdown, as in the README).")] = False,
    diagram: Annotated[
        Path | None,
        typer.Option("--diagram", metavar="FILE", help="Write the stack's architecture as a Mermaid flowchart instead (FILE.md: a page with a mermaid fence; FILE.mmd: the chart alone), and an SVG beside it when Graphviz `dot` is on PATH.", show_default=False),
    ] = None,
    diff: Annotated[
        str | None,
        typer.Option(
            "--diff",
            metavar="BASE",
            help="Compare with BASE: a saved `toltek plan -s STACK --json` file, or a git ref (branch, tag, commit) whose stack is evaluated in a temporary worktree. Exit 3 when IAM widens.",
            show_default=False,
        ),
    ] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="With --diff: print the diff as a pull-request comment (GitHub-flavoured Markdown).")] = False,
) -> None:
    """Evaluate the Pulumi program for a stack offline (Pulumi's mocks: no CLI, no credentials), then run the deploy checks.

    Lists every resource the stack would create, grouped by GCP project and component, then what the first `pulumi up` would fail on: inputs the provider SDK's own types refuse, APIs the stack never enables, resources created before what they need, identities missing a permission their resource needs. Exit 1 on any finding. Also lists the secrets that need a version before the first execution, and estimates the stack's monthly cost (list prices in infra/prices.yaml; --json: every item).

    With --diff BASE: what changes against BASE instead: resources added, removed and changed (property by property), IAM grants added and removed as principal -> role -> scope with the ones that widen access marked, and the monthly cost when both plans estimate it. Exit 3 when IAM widens, 1 on a deploy finding.

    Examples:

    toltek plan -s prd --json > base.json

    toltek plan -s prd --diff main

    toltek plan -s prd --diff base.json --markdown

    toltek plan -s prd --diagram docs/architecture.md
    """
    from infra.deploy.report import check_plan
    from infra.plan import run_plan

    if checklist:
        from infra.deploy.checklist import stack_checklist

        try:
            print(stack_checklist(), end="")
        except UserError as exc:
            _fail(str(exc))
        return
    if stack is None:
        _fail("choose a stack with -s dev or -s prd (or --checklist)")
    if diagram is not None and diagram.suffix not in (".md", ".mmd"):
        _fail(f"--diagram {diagram}: the file must end in .md (a page) or .mmd (the chart alone)")
    if markdown and diff is None:
        _fail("--markdown prints a diff: add --diff BASE")
    if markdown and as_json:
        _fail("choose one of --json and --markdown")
    if diff is not None:
        from infra.review.command import plan_diff
        from pipelines import signals
        from pipelines.errors import Terminated

        signals.install()  # SIGTERM (a cancelled CI job) unwinds too: the base's worktree is removed
        try:
            code = plan_diff(stack, diff, "json" if as_json else "markdown" if markdown else "terminal", out)
        except UserError as exc:
            _fail(str(exc))
        except (Terminated, KeyboardInterrupt) as exc:
            code, line = signals.stopped_line(exc, "the base's worktree removed")
            err.print(labelled("interrupted", line), soft_wrap=True)
            raise typer.Exit(code) from None
        raise typer.Exit(code)
    try:
        with err.status(Text(f"evaluating stack {stack} under Pulumi's mocks")):  # plain text, whatever -s says
            result = run_plan(stack)
    except UserError as exc:
        _fail(str(exc))
    if diagram is not None:
        from infra.diagram import write

        try:
            for line in write(result, diagram):
                out.print(plain(line))
        except UserError as exc:
            _fail(str(exc))
        return
    report = check_plan(result)
    cost = _estimate(stack, result)
    if as_json:
        from infra.review.plan_json import document
        from pipelines.environments import REPO_ROOT

        print(json.dumps(document(result, report, root=REPO_ROOT, cost=cost.as_dict() if cost else None), indent=2))
    else:
        out.print(plan_tree(result))
        for line in cost.summary() if cost else []:
            out.print(plain(line), soft_wrap=True)
        if report.findings:
            out.print(findings_table(f"Deploy findings in stack {stack}", report.findings))
        for version in report.secret_versions:
            out.print(labelled("before the first run:", version.line(), "yellow"), soft_wrap=True)
        out.print(plain(f"stack {stack}: {len(report.findings)} deploy finding(s)"))
    raise typer.Exit(1 if report.findings else 0)


def _estimate(stack: str, result):  # noqa: ANN001, ANN202 - infra.plan.Plan -> infra.cost.Estimate | None
    """The plan's monthly cost estimate, or None with a one-line note: the plan stands without it."""
    from infra.cost import plan_estimate

    try:
        return plan_estimate(stack, result)
    except UserError as exc:
        err.print(labelled("cost not estimated:", str(exc), "yellow"), soft_wrap=True)
        return None


def findings_table(title: str, rows) -> Table:  # noqa: ANN001 - policy violations or deploy findings
    """Policy violations and deploy findings, in one shape: rule, level, resource (and property), message."""
    table = Table(title=plain(title), title_justify="left")
    for column in ("rule", "level", "resource", "message"):
        table.add_column(column, overflow="fold")
    for v in sorted(rows, key=lambda v: (v.level != "mandatory", v.rule, v.resource)):
        style = "red" if v.level == "mandatory" else "yellow"
        where = f"{v.resource} {getattr(v, 'path', '')}".strip()
        table.add_row(plain(v.rule, style), plain(v.level), plain(where), plain(v.message))
    return table


def policy(
    stack: Annotated[str | None, typer.Option("--stack", "-s", help="Stack: dev or prd.", show_default=False)] = None,
    as_json: PolicyJson = False,
    list_rules: Annotated[bool, typer.Option("--list", help="List the rules and the external rules they mirror.")] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Policy config JSON, as `pulumi preview --policy-pack-config` takes: rule id (or \"all\") -> advisory, mandatory or disabled.", show_default=False),
    ] = None,
) -> None:
    """Check a stack against the policy pack offline; exit 1 on any mandatory violation.

    The plan is evaluated as at a real preview (unknown values stay unknown) and run through pulumi-policy's own analyzer, with the stack's config, as `pulumi preview --policy-pack infra/policy` does.

    Examples:

    toltek policy -s prd

    toltek policy --list

    toltek policy -s prd --json
    """
    from infra.policy.offline import analyze_plan, read_policy_config

    try:
        enforcement = read_policy_config(config) if config else None
    except UserError as exc:
        _fail(str(exc))
    if list_rules:
        _list_rules(as_json, enforcement or {})
        return
    if stack is None:
        _fail("choose a stack with -s dev or -s prd (or --list)")
    from infra.deploy.report import check_plan
    from infra.plan import read_stack_file, run_plan

    try:
        with err.status(Text(f"evaluating stack {stack} under Pulumi's mocks")):  # plain text, whatever -s says
            plan_ = run_plan(stack, preview=True)
        with err.status(f"checking {len(plan_.resources)} resources against the policy pack and the deploy checks"):
            report = analyze_plan(plan_, read_stack_file(stack), enforcement)
            findings = check_plan(plan_).findings
    except UserError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps([v.as_dict() for v in report.violations] + [f.as_dict() for f in findings], indent=2))
    else:
        _print_report(stack, report, findings)
    raise typer.Exit(1 if report.mandatory or findings else 0)


def _print_report(stack: str, report, findings) -> None:  # noqa: ANN001 - infra.policy.offline.Report, deploy findings
    if report.violations or findings:
        out.print(findings_table(f"Policy violations and deploy findings in stack {stack}", [*report.violations, *findings]))
    for message in report.diagnostics:
        err.print(labelled("note:", message, "yellow"))
    advisory = len(report.violations) - len(report.mandatory)
    out.print(plain(f"stack {stack}: {len(report.mandatory)} mandatory, {advisory} advisory violation(s), {len(findings)} deploy finding(s)"))


def _list_rules(as_json: bool, enforcement: dict[str, str]) -> None:
    """The rules, each at its level after the policy config (`enforcement`: rule id -> level)."""
    from infra.policy.pack import rules

    def level(rule) -> str:  # noqa: ANN001 - infra.policy.model.Rule
        return enforcement.get(rule.id, rule.enforcement.name.lower())

    if as_json:
        print(json.dumps([
            {"id": r.id, "level": level(r), "severity": r.severity.name.lower(), "stack": r.stack,
             "resource_types": list(r.resource_types), "mirrors": list(r.mirrors), "description": r.description,
             "rationale": r.rationale}
            for r in rules()
        ], indent=2))
        return
    table = Table(title=f"{len(rules())} policy rules", title_justify="left")
    table.add_column("rule", no_wrap=True)
    for column in ("level", "severity", "mirrors", "description"):
        table.add_column(column, overflow="fold")
    for r in rules():
        table.add_row(r.id, level(r), r.severity.name.lower(), plain("\n".join(r.mirrors) or "-"), plain(r.description))
    out.print(table)


def plan_tree(result) -> Tree:  # noqa: ANN001 - infra.plan.Plan, imported lazily
    components = {r.name: r for r in result.resources if not r.custom}
    grouped: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in result.resources:
        if r.custom:
            grouped[r.project or "(no project)"][r.parent or "(stack)"].append(r)
    counts = f"{sum(1 for r in result.resources if r.custom)} resources in {len(components)} components"
    tree = Tree(Text.assemble((f"stack {result.stack}", "bold"), f": {counts}"))
    for project in sorted(grouped):
        branch = tree.add(plain(project, "bold cyan"))
        for parent in sorted(grouped[project]):
            kind = components[parent].type if parent in components else ""
            node = branch.add(Text.assemble((parent, "bold"), " ", (kind, "dim")))
            for r in sorted(grouped[project][parent], key=lambda r: (r.type, r.name)):
                node.add(Text.assemble(r.type.split(":")[-1], " ", (r.name, "dim")))
    return tree


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("policy")(policy)
