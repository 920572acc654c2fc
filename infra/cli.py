"""`toltek plan` (and the other infrastructure commands), added to the CLI through the
`toltek.commands` entry point so the pipeline runtime never imports Pulumi."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

import typer
from rich.console import Console
from rich.tree import Tree

from pipelines.errors import UserError

out = Console()
err = Console(stderr=True)

Stack = Annotated[str, typer.Option("--stack", "-s", help="Stack: dev or prd (reads Pulumi.<stack>.yaml).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the resources as JSON.")]


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def plan(stack: Stack, as_json: AsJson = False) -> None:
    """Evaluate the Pulumi program for a stack offline (Pulumi's mocks: no CLI, no credentials).

    Lists every resource the stack would create, grouped by GCP project and component; --json gives type, name, parent component, project and inputs (secret values masked).
    """
    from infra.plan import run_plan

    try:
        result = run_plan(stack)
    except UserError as exc:
        _fail(str(exc))
    if as_json:
        print(result.to_json())
        return
    out.print(plan_tree(result))


def plan_tree(result) -> Tree:  # noqa: ANN001 - infra.plan.Plan, imported lazily
    components = {r.name: r for r in result.resources if not r.custom}
    grouped: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in result.resources:
        if r.custom:
            grouped[r.project or "(no project)"][r.parent or "(stack)"].append(r)
    counts = f"{sum(1 for r in result.resources if r.custom)} resources in {len(components)} components"
    tree = Tree(f"[bold]stack {result.stack}[/]: {counts}")
    for project in sorted(grouped):
        branch = tree.add(f"[bold cyan]{project}[/]")
        for parent in sorted(grouped[project]):
            kind = components[parent].type if parent in components else ""
            node = branch.add(f"[bold]{parent}[/] [dim]{kind}[/]")
            for r in sorted(grouped[project][parent], key=lambda r: (r.type, r.name)):
                node.add(f"{r.type.split(':')[-1]} [dim]{r.name}[/]")
    return tree


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
