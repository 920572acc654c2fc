"""The plan document of `toltek plan --json`: what review tools read, fresh or saved.

Version 1, one JSON object:

    {
      "version": 1,
      "stack": "prd",
      "resources": [
        {"urn": "urn:pulumi:prd::toltek::…", "type": "gcp:cloudrunv2/job:Job", "name": "toltek-shop-api-prd",
         "custom": true, "parent": "toltek-shop-api-prd", "project": "toltek-datalake-prd",
         "protect": false, "inputs": {…}}
      ],
      "findings": [...],           # the deploy checks' findings (as `toltek plan` prints them)
      "secret_versions": [...],    # secrets a job reads that need a version before it first runs
      "cost": {...}                # the estimate, where the tree estimates cost (`cost_estimate`)
    }

`parent` is the parent component's name (null at the stack's root), `custom` is false for
components. Inputs are what the Pulumi engine receives (camelCase): secret values as "[secret]",
references to other resources as their URN, and paths inside the repository relative to it (a
Docker build context is ".", its Dockerfile "images/dbt/Dockerfile"), so the plans of two
checkouts compare. No value of a secret is ever written.

This module imports only the standard library at load time: `base` runs it by file path inside
a worktree of another commit, where it evaluates that commit's program with that commit's code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VERSION = 1
SECRET = "[secret]"


def _relative(value: Any, root: str) -> Any:
    """`value` with strings naming a path in the repository at `root` made relative to it."""
    if isinstance(value, dict):
        return {k: _relative(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v, root) for v in value]
    if isinstance(value, str) and value.startswith(root):
        rest = value[len(root):]
        if rest == "":
            return "."
        if rest.startswith("/"):
            return rest.lstrip("/")
    return value


def resource_entry(resource: Any, root: Path) -> dict[str, Any]:
    """One `infra.plan.PlannedResource` as the document holds it."""
    return {
        "urn": resource.urn,
        "type": resource.type,
        "name": resource.name,
        "custom": bool(getattr(resource, "custom", True)),
        "parent": resource.parent,
        "project": resource.project,
        "protect": bool(getattr(resource, "protect", False)),
        "inputs": _relative(resource.inputs, str(root)),
    }


def document(plan: Any, report: Any = None, *, root: Path, cost: dict[str, Any] | None = None) -> dict[str, Any]:
    """The document of an `infra.plan.Plan` and its deploy report (`infra.deploy.report`)."""
    doc: dict[str, Any] = {
        "version": VERSION,
        "stack": plan.stack,
        "resources": [resource_entry(r, root) for r in plan.resources],
        "findings": [f.as_dict() for f in report.findings] if report is not None else [],
        "secret_versions": [
            {"project": v.project, "secret": v.secret, "jobs": list(v.jobs), "command": v.command()}
            for v in (report.secret_versions if report is not None else [])
        ],
        "cost": cost,  # None: no estimate (another currency, or a tree without the estimator)
    }
    return doc


def cost_estimate(stack: str, plan: Any) -> dict[str, Any] | None:
    """The document's `cost`: the estimate of `infra.cost.plan_estimate(stack, plan)` in a tree
    that has that estimator; None in one without it, or when it cannot estimate this stack."""
    try:
        from infra.cost import plan_estimate  # type: ignore[import-not-found]
    except ImportError:
        return None
    from pipelines.errors import UserError

    try:
        return plan_estimate(stack, plan).as_dict()
    except UserError:
        return None


def evaluate(stack: str) -> dict[str, Any]:
    """The document of `stack` as the code importable as `infra` and `pipelines` plans it."""
    from infra.plan import run_plan
    from pipelines.environments import REPO_ROOT

    plan = run_plan(stack)
    try:
        from infra.deploy.report import check_plan
    except ImportError:  # a tree from before the deploy checks
        report = None
    else:
        report = check_plan(plan)
    return document(plan, report, root=REPO_ROOT, cost=cost_estimate(stack, plan))


class PlanFileError(ValueError):
    """A saved plan this version cannot read; the message is one line naming the file."""


def load(path: Path, stack: str) -> dict[str, Any]:
    """A saved `toltek plan -s STACK --json`, checked: JSON, this version, this stack, resources."""
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise PlanFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise PlanFileError(f"{path} is not JSON ({exc}): save it with `toltek plan -s {stack} --json > {path.name}`") from None
    return check(doc, stack, str(path))


def check(doc: Any, stack: str, where: str) -> dict[str, Any]:
    """`doc` if it is a version-1 plan of `stack`; else a `PlanFileError` naming `where`."""
    again = f"save it again with `toltek plan -s {stack} --json`"
    if not isinstance(doc, dict):
        raise PlanFileError(f"{where} is not a plan of `toltek plan --json` (a JSON object): {again}")
    if "version" not in doc:
        raise PlanFileError(f"{where} has no plan format version (saved by an older toltek): {again}")
    if doc["version"] != VERSION:
        raise PlanFileError(f"{where} is plan format version {doc['version']!r}; this toltek reads version {VERSION}: {again}")
    if doc.get("stack") != stack:
        raise PlanFileError(f"{where} is a plan of stack {doc.get('stack')!r}, not {stack!r}")
    resources = doc.get("resources")
    keys = {"urn", "type", "name", "inputs"}
    if not isinstance(resources, list) or not all(isinstance(r, dict) and keys <= r.keys() for r in resources):
        raise PlanFileError(f"{where} has no list of resources with {', '.join(sorted(keys))}: {again}")
    return doc
