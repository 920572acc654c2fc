"""Grants added and removed between two plans, and which added ones widen access.

Grants are read by the policy pack's reader (`infra.policy.iam.grants`), so every IAM resource
type counts: `*IamMember`, `*IamBinding` and `*IamPolicy` of any scope, BigQuery dataset access
entries and bucket ACLs. A grant is *principal → role → scope* (project, dataset, bucket, secret,
job, service account, key, ...) with its IAM condition; the resource that makes it does not
matter, so moving a grant from one resource type to another changes nothing here (an
authoritative binding or policy is read as the members it lists).

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

The next three look at the very resource or project the grant is on, when BASE already has it
(grants on it, or plans it: another pipeline's dataset, an existing service account):

- `changed-condition`: the principal held the role there in BASE only under IAM conditions, and
  the added grant's condition is none of them nor implied by one as far as its text shows
  (`infra.review.conditions`: dropping alternatives of an `||` or adding `&& ...` narrows; any
  other change, a shorter prefix, `true`, an added `|| ...`, is flagged, and so is a longer prefix:
  the diff never evaluates a condition). No condition where BASE had one is `wider-scope`, or
  this rule when the principal holds the role unconditionally elsewhere.
- `stronger-role`: the principal held roles there, none allowing what this one does, though a
  role it holds elsewhere does (else it is `new-role`): dbt writing a raw dataset it reads.
- `existing-resource`: the principal held nothing there in BASE (a pipeline's account reading
  another pipeline's secret or dataset, with or without a condition; an account allowed to
  impersonate another that exists; dbt running jobs in the datalake project). At project level
  and above only when no other rule flags the grant: for a principal BASE has (a same-level grant
  in another project), and for a new account when no account of its own project held the role
  there unconditionally in BASE (a new pipeline's account running jobs in the warehouse project,
  where only the warehouse's accounts do; not in the datalake project, as the other pipelines'
  accounts do), or when the role acts on identities or IAM (acting as an account, minting its
  tokens or keys, `setIamPolicy` of any service, a service's `*` included; a role the pack's
  table lacks counts as one). A new Google service agent is not flagged at project level:
  the diff cannot tell the project an agent serves from its e-mail (`service-<number>@…`), and a
  stack grants agents what enabling an API asks. Not for a conditional grant on a resource that BASE grants only under
  conditions, when it takes its own part of it (`conditions.own_part`: their form, other values,
  none a prefix of another: a new file pipeline's folder of the landing bucket beside shop_files').

A grant kept from BASE widens too:

- `custom-role-grows`: its role is a custom role of the stack whose permissions in this plan
  include some its definition in BASE did not (added grants of that role carry it as well).

Removed grants never widen. A grant on a resource or project this plan adds, of a role the
principal already holds at that level (the dbt account reading a new pipeline's raw dataset, the
scheduler invoking its job, the new pipeline's account running jobs in the datalake project), does
not widen: adding a pipeline is not a widening.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from infra.policy.iam import ACCOUNT, PUBLIC, identity, short, stack_grants
from infra.policy.model import UNKNOWN, Res, get
from infra.policy.roles import ESCALATION, PREDEFINED, risks
from infra.policy.rules_iam import BASIC_ROLES, SERVICE_AGENT, custom_roles
from infra.review.conditions import implies, own_part

RULES = (
    "basic-role", "public", "new-principal-kind", "new-principal", "new-role", "wider-scope",
    "changed-condition", "stronger-role", "existing-resource", "custom-role-grows",
)
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
    # Grants in both plans whose custom role allows more in this one.
    changed: list[tuple[GrantRow, list[Reason]]] = field(default_factory=list)

    @property
    def widening(self) -> list[tuple[GrantRow, list[Reason]]]:
        return [(g, reasons) for g, reasons in self.added + self.changed if reasons]

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": [{**g.as_dict(), "widening": [r.as_dict() for r in reasons]} for g, reasons in self.added],
            "removed": [g.as_dict() for g in self.removed],
            "changed": [{**g.as_dict(), "widening": [r.as_dict() for r in reasons]} for g, reasons in self.changed],
            "widening": bool(self.widening),
        }


def _text(value: Any) -> str:
    return "(unknown)" if value is UNKNOWN or value is None else str(value)


def plan_resources(resources: Iterable[dict[str, Any]]) -> list[Res]:
    """The resources of a plan document as the policy pack's readers take them."""
    return [
        Res(r["type"], r["name"], r["urn"], r.get("inputs") or {}, bool(r.get("protect")), {}, r.get("project"))
        for r in resources
    ]


def plan_grants(res: list[Res]) -> list[GrantRow]:
    """Every grant the resources of a plan make, once each."""
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


Place = tuple[str, str | None, str]  # (scope, project, name) of what a grant is on


def place(g: GrantRow) -> Place:
    """Where `g` is: a full name (`projects/p/secrets/s`) says its own project, and a service
    account's e-mail its own (`projects/-/serviceAccounts/a@p.iam.gserviceaccount.com`)."""
    full = g.target.startswith("projects/")
    name = g.target.rsplit("/", 1)[-1] if full else g.target
    account = ACCOUNT.match(f"serviceAccount:{name}")
    return g.scope, account["project"] if account else g.target.split("/")[1] if full else g.project, name


class BaseGrants:
    """BASE's grants, indexed for the rules."""

    def __init__(self, grants: list[GrantRow], stack_projects: set[str], resources: Iterable[Res] = ()) -> None:
        self.projects = stack_projects
        # What each principal held, and what any did, as (role, scope, under a condition).
        self.by_principal: dict[str, set[tuple[str, str, bool]]] = defaultdict(set)
        self.on: dict[Place, list[GrantRow]] = defaultdict(list)
        for g in grants:
            self.by_principal[g.principal].add((g.role, g.scope, g.condition is not None))
            self.on[place(g)].append(g)
        self.any_principal = {shape for shapes in self.by_principal.values() for shape in shapes}
        self.kinds = {principal_kind(g.principal, stack_projects) for g in grants}
        # What BASE already has, as (project, name): what it grants on, its projects, its resources.
        self.existing = {(project, name) for _, project, name in self.on}
        resources = list(resources)
        self.existing |= {(r.project, r.project) for r in resources if isinstance(r.project, str)}
        for r in resources:
            name = identity(r)
            if isinstance(name, str):
                self.existing.add((get(r.props, "project") or r.project, short(name)))


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
    return reasons + on_existing(g, base, reasons)


def on_existing(g: GrantRow, base: BaseGrants, reasons: list[Reason]) -> list[Reason]:
    """The rules on the resource or project `g` is on, when BASE has it: `changed-condition`,
    `stronger-role`, `existing-resource` (`reasons`: what the other rules found)."""
    scope, project, name = place(g)
    if (project, name) not in base.existing:
        return []  # a resource or project this plan adds
    said = {r.rule for r in reasons}
    there = [h for h in base.on[scope, project, name] if h.principal == g.principal]
    conditions = [h.condition for h in there if role_covers(h.role, g.role)]  # None: unconditional
    if None in conditions or (g.condition and any(implies(g.condition, c) for c in conditions)):
        return []
    if conditions:
        if g.condition is not None:
            return [Reason("changed-condition", f"changed condition on {g.where()} (BASE: another one; conditions compare as text)")]
        return [] if "wider-scope" in said else [Reason("changed-condition", f"no condition on {g.where()} (BASE: only under a condition)")]
    if rank(g.scope) > 0 and said:
        return []  # its level is flagged already
    if rank(g.scope) > 0 and g.principal not in base.by_principal:
        if principal_kind(g.principal, base.projects) == AGENT or peers_hold(g, base.on[scope, project, name]):
            return []  # a new account running jobs in a project as the other accounts of its project do
        return [Reason("existing-resource", f"reaches existing {g.where()}, where no account of its own project held {g.role} in BASE")]
    if there:
        held = ", ".join(sorted({h.role for h in there}))
        return [] if "new-role" in said else [Reason("stronger-role", f"stronger role on existing {g.where()} (BASE: {held} there)")]
    others = [h.condition for h in base.on[scope, project, name]]
    if g.condition and all(others) and own_part(g.condition, others):
        return []  # its own part of a resource BASE shares out by conditions (a new file pipeline's folder)
    return [Reason("existing-resource", f"reaches existing {g.where()}, where BASE grants it nothing")]


def home_project(member: str) -> str | None:
    """The project a service account belongs to (None for any other principal)."""
    match = ACCOUNT.match(member)
    return match["project"] if match else None


@lru_cache(maxsize=1024)
def powerful(role: str) -> bool:
    """Whether `role` lets its holder escalate (the policy pack's `ESCALATION` classes: act as
    another identity, change who has access, wildcards included); a role not in the pack's table
    counts as such (what it allows is not known)."""
    held = PREDEFINED.get(role)
    return held is None or bool(risks(held, *ESCALATION))


def peers_hold(g: GrantRow, there: list[GrantRow]) -> bool:
    """Whether an account of `g`'s principal's own project held `g`'s role (or one allowing it)
    unconditionally where `g` is, in BASE, and the role is not `powerful`: another pipeline's
    account running jobs in the datalake project, for a new pipeline's."""
    home = home_project(g.principal)
    if home is None or powerful(g.role):
        return False
    return any(h.condition is None and home_project(h.principal) == home and role_covers(h.role, g.role) for h in there)


def stack_projects(*resource_lists: Iterable[dict[str, Any]]) -> set[str]:
    return {r["project"] for resources in resource_lists for r in resources if isinstance(r.get("project"), str)}


def grown_roles(base: list[Res], head: list[Res]) -> dict[str, list[str]]:
    """Custom roles of both plans -> the permissions this plan gives them that BASE did not."""
    old, new = custom_roles(base), custom_roles(head)
    grown = {role: sorted(p for p in perms if not any(fnmatchcase(p, q) for q in old[role])) for role, perms in new.items() if role in old}
    return {role: perms for role, perms in grown.items() if perms}


def grows(g: GrantRow, grown: dict[str, list[str]]) -> list[Reason]:
    if g.role not in grown:
        return []
    return [Reason("custom-role-grows", f"custom role {g.role} now also allows {', '.join(grown[g.role])}")]


def diff_iam(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> IamDiff:
    """Grants added (each with why it widens access, if it does), removed, and kept with a custom
    role that allows more."""
    old_res, new_res = plan_resources(base), plan_resources(head)
    old, new = plan_grants(old_res), plan_grants(new_res)
    old_set, new_set = set(old), set(new)
    index = BaseGrants(old, stack_projects(base, head), old_res)
    grown = grown_roles(old_res, new_res)
    return IamDiff(
        added=[(g, widening(g, index) + grows(g, grown)) for g in new if g not in old_set],
        removed=[g for g in old if g not in new_set],
        changed=[(g, grows(g, grown)) for g in new if g in old_set and g.role in grown],
    )
