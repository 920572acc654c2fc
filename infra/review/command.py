"""`toltek plan -s STACK --diff BASE`: BASE opened, this tree's plan evaluated meanwhile, compared
and shown; returns the exit code (see `infra.review.compare`)."""

from __future__ import annotations

from rich.console import Console

from infra.review import plan_json, render
from infra.review.base import open_base
from infra.review.compare import compare
from pipelines.environments import REPO_ROOT


def plan_diff(stack: str, base: str, fmt: str, console: Console) -> int:
    """Print the diff of `stack` against `base` in `fmt`; raises `UserError` for a user mistake."""
    from infra.deploy.report import check_plan
    from infra.plan import run_plan, stack_settings

    stack_settings(stack)  # an unknown stack or a bad stack file: one line before BASE is read
    with open_base(base, stack, REPO_ROOT) as source:
        plan = run_plan(stack)
        head = plan_json.document(plan, check_plan(plan), root=REPO_ROOT, cost=plan_json.cost_estimate(stack, plan))
        base_doc = source.document()
    diff = compare(base_doc, head, source.as_dict())
    if fmt == "json":
        print(render.json_text(diff))
    elif fmt == "markdown":
        print(render.markdown(diff), end="")
    else:
        render.terminal(diff, console)
    return diff.exit_code
