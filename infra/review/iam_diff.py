"""Grants added and removed between two plans, and which added ones widen access.

Grants are read by the policy pack's reader (`infra.policy.iam.grants`), so every IAM resource
type counts: `*IamMember`, `*IamBinding` and `*IamPolicy` of any scope, BigQuery dataset access
entries and bucket ACLs. A grant is *principal → role → scope* (project, dataset, bucket, secret,
job, key, ...) with its IAM condition; the resource that makes it does not matter, so moving a
grant from one resource type to another changes nothing here.

An added grant **widens** access when any of these holds (BASE: the plan compared against):

- `basic-role`: the role is `roles/owner`, `roles/editor` or `roles/viewer`.
- `public`: the principal is `allUsers` or `allAuthenticatedUsers`.
- `new-principal-kind`: the principal is outside the stack (a `user:`, `group:`, `domain:`, a
  service account of a project the stack does not plan, a federated identity; anything but the
  stack's own service accounts and Google's service agents) and BASE grants nothing to any
  principal of that kind.
- `new-principal`: a principal outside the stack, of a kind BASE already grants to, that holds
  nothing in BASE.
- `new-role`: the role allows something its principal held under no role in BASE; for a
  principal that is new in this plan (a new pipeline's account), something no principal held in
  BASE. Roles compare by the permissions in the policy pack's role table (`infra.policy.roles`:
  `dataViewer` is within `dataEditor`); a role not in that table only by its name.
- `wider-scope`: the principal (for a new principal: any principal) held the role in BASE, but
  only at a narrower level — resource (dataset, secret, job, bucket, key, ...) < project <
  folder < organization — or only under an IAM condition, and now holds it above that level or
  without a condition (a pipeline's `dataEditor` moving from its datasets to the project; the
  landing bucket's `objectViewer` without its prefix condition).
- `existing-resource`: an unconditional grant on a resource (below project level) that BASE
  already grants on, to a principal that held nothing on it in BASE (a pipeline's account reading
  another pipeline's secret or dataset).

Removed grants never widen. A grant on a resource this plan adds, of a role the principal already
holds at that level (the dbt account reading a new pipeline's raw dataset, the scheduler invoking
its job), does not widen: adding a pipeline is not a widening.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from infra.policy.iam import ACCOUNT, PUBLIC, stack_grants
from infra.policy.model import UNKNOWN, Res
from infra.policy.roles import PREDEFINED
from infra.policy.rules_iam import BASIC_ROLES, SERVICE_AGENT

RANK = {"organization": 3, "billing_account": 3, "folder": 2, "project": 1}  # anything else: a resource (0)
STACK_ACCOUNT = "service account of the stack"
AGENT = "Google service agent"
INSIDE = (STACK_ACCOUNT, AGENT)


@dataclass(frozen=True, order=True)
class GrantRow:
    """One grant as the diff shows it."""

    principal: str
    role: str
    scope: str
    target: str
    project: str | None
    condition: str | None = None
    authoritative: bool = field(default=False, compare=False)
    resource: str = field(default="", compare=False)  # the URN of the resource that makes it

    def in_project(self) -> str | None:
        """The project to name beside the target: none for a project or above, or a target
        that names its project itself (a key's full name)."""
        if self.scope in RANK or not self.project or self.project in self.target:
            return None
        return self.project

    def where(self) -> str:
        """`dataset raw_payments in toltek-datalake-prd`, `project toltek-dwh-prd`."""
        project = self.in_project()
        return f"{self.scope} {self.target}" + (f" in {project}" if project else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "principal": self.principal, "role": self.role, "scope": self.scope, "target": self.target,
            "project": self.project, "condition": self.condition, "authoritative": self.authoritative,
            "resource": self.resource,
        }


@dataclass(frozen=True)
class Reason:
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


@dataclass
class IamDiff:
    added: list[tuple[GrantRow, list[Reason]]] = field(default_factory=list)
    removed: list[GrantRow] = field(default_factory=list)

    @property
    def widening(self) -> list[tuple[GrantRow, list[Reason]]]:
        return [(g, reasons) for g, reasons in self.added if reasons]

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": [{**g.as_dict(), "widening": [r.as_dict() for r in reasons]} for g, reasons in self.added],
            "removed": [g.as_dict() for g in self.removed],
            "widening": bool(self.widening),
        }


def _text(value: Any) -> str:
    return "(unknown)" if value is UNKNOWN or value is None else str(value)


def plan_grants(resources: Iterable[dict[str, Any]]) -> list[GrantRow]:
    """Every grant the resources of a plan document make, once each."""
    res = [
        Res(r["type"], r["name"], r["urn"], r.get("inputs") or {}, bool(r.get("protect")), {}, r.get("project"))
        for r in resources
    ]
    rows: dict[GrantRow, GrantRow] = {}
    for source, g, _unknown in stack_grants(res):
        project = g.project if isinstance(g.project, str) else source.project
        target = project if g.scope == "project" and g.target in (None, UNKNOWN) else g.target
        condition = g.condition if isinstance(g.condition, str) and g.condition else None
        row = GrantRow(_text(g.member), _text(g.role), g.scope, _text(target), project, condition, g.authoritative, source.urn)
        rows.setdefault(row, row)
    return sorted(rows)


def principal_kind(member: str, stack_projects: set[str]) -> str:
    """What kind of principal `member` is: the stack's own accounts and Google's service agents are inside."""
    if member in PUBLIC:
        return "public"
    if SERVICE_AGENT.search(member):
        return AGENT
    match = ACCOUNT.match(member)
    if match:
        return STACK_ACCOUNT if match["project"] in stack_projects else "service account of another project"
    if member.startswith("serviceAccount:"):
        return "service account of another project"
    return member.split(":", 1)[0] if ":" in member else member


@lru_cache(maxsize=4096)
def role_covers(held: str, wanted: str) -> bool:
    """Whether `held` allows everything `wanted` does (by the pack's role table, else by name)."""
    if held == wanted:
        return True
    have, want = PREDEFINED.get(held), PREDEFINED.get(wanted)
    if have is None or want is None:
        return False
    return all(any(fnmatchcase(w, h) for h in have) for w in want)


def rank(scope: str) -> int:
    return RANK.get(scope, 0)


class BaseGrants:
    """BASE's grants, indexed for the rules."""

    def __init__(self, grants: list[GrantRow], stack_projects: set[str]) -> None:
        self.projects = stack_projects
        # What each principal held, and what any did, as (role, scope, under a condition).
        self.by_principal: dict[str, set[tuple[str, str, bool]]] = defaultdict(set)
        for g in grants:
            self.by_principal[g.principal].add((g.role, g.scope, g.condition is not None))
        self.any_principal = {shape for shapes in self.by_principal.values() for shape in shapes}
        self.kinds = {principal_kind(g.principal, stack_projects) for g in grants}
        self.targets = {(g.scope, g.target, g.project) for g in grants}
        self.held_on = {(g.principal, g.scope, g.target, g.project) for g in grants}


def widening(g: GrantRow, base: BaseGrants) -> list[Reason]:
    """Why the added grant `g` widens access against BASE (empty: it does not)."""
    reasons: list[Reason] = []
    if g.role in BASIC_ROLES:
        reasons.append(Reason("basic-role", f"basic role {g.role}"))
    kind = principal_kind(g.principal, base.projects)
    existing = g.principal in base.by_principal
    if kind == "public":
        reasons.append(Reason("public", f"{g.principal}: anyone"))
    if kind not in INSIDE:
        if kind not in base.kinds:
            reasons.append(Reason("new-principal-kind", f"new principal kind: {kind}"))
        elif not existing:
            reasons.append(Reason("new-principal", f"new principal outside the stack ({kind})"))
    reference = base.by_principal[g.principal] if existing else base.any_principal
    level, conditional = rank(g.scope), g.condition is not None
    same_role = sorted((rank(scope), scope, cond) for role, scope, cond in reference if role_covers(role, g.role))
    if not same_role:
        held = "nothing it held in BASE" if existing else "no role of any principal in BASE"
        reasons.append(Reason("new-role", f"new role: {held} allows what {g.role} does"))
    elif not any(lvl >= level and (not cond or conditional) for lvl, _, cond in same_role):
        widest, scope, _ = same_role[-1]
        whose = "it" if existing else "any principal"
        if widest < level:
            reasons.append(Reason("wider-scope", f"wider scope: {g.scope} level (BASE: {whose} at {scope} level at most)"))
        else:
            reasons.append(Reason("wider-scope", f"wider scope: no condition (BASE: {whose} only under a condition)"))
    if (
        rank(g.scope) == 0 and g.condition is None
        and (g.scope, g.target, g.project) in base.targets
        and (g.principal, g.scope, g.target, g.project) not in base.held_on
    ):
        reasons.append(Reason("existing-resource", f"reaches existing {g.scope} {g.target}, where BASE grants it nothing"))
    return reasons


def stack_projects(*resource_lists: Iterable[dict[str, Any]]) -> set[str]:
    return {r["project"] for resources in resource_lists for r in resources if isinstance(r.get("project"), str)}


def diff_iam(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> IamDiff:
    """Grants added (each with why it widens access, if it does) and removed."""
    old, new = plan_grants(base), plan_grants(head)
    old_set, new_set = set(old), set(new)
    index = BaseGrants(old, stack_projects(base, head))
    return IamDiff(
        added=[(g, widening(g, index)) for g in new if g not in old_set],
        removed=[g for g in old if g not in new_set],
    )
