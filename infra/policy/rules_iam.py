"""Least privilege over every IAM grant of a stack, judged by the permissions a role carries.

These are stack rules: a grant is read from any IAM scope (`infra.policy.iam`), its unknown
target or member is traced through the resource graph, and its role is looked up in the pack's
own role table or among the custom roles the stack defines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from infra.policy.iam import (
    ACCOUNT,
    ALL_IAM_TYPES,
    HIERARCHY,
    PUBLIC,
    Grant,
    identity,
    stack_grants,
)
from infra.policy.model import CRITICAL, HIGH, MEDIUM, Res, get, items, rule
from infra.policy.roles import ESCALATION, PREDEFINED, is_custom, risks

BASIC_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
CUSTOM_ROLE_TYPES = ("gcp:projects/iAMCustomRole:IAMCustomRole", "gcp:organizations/iAMCustomRole:IAMCustomRole")
DEFAULT_ACCOUNTS = re.compile(r"(-compute@developer\.gserviceaccount\.com|@appspot\.gserviceaccount\.com)$")
PERSONAL_DOMAINS = {
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com", "icloud.com",
    "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.com", "gmx.de", "mail.com",
}
# Google-managed service agents live in Google's domains, not in a project of the customer.
SERVICE_AGENT = re.compile(
    r"@(gcp-sa-[a-z0-9-]+|bigquery-encryption|gs-project-accounts|cloudservices|container-engine-robot|"
    r"compute-system|serverless-robot-prod|cloud-ml\.google|dataflow-service-producer-prod)\.iam\.gserviceaccount\.com$"
    r"|@(cloudbuild|gcp-sa-[a-z0-9-]+)\.gserviceaccount\.com$"
)
Permissions = frozenset[str] | None


def custom_roles(resources: Iterable[Res]) -> dict[str, frozenset[str]]:
    """Custom roles this stack defines: `projects/p/roles/r` -> permissions."""
    out = {}
    for res in resources:
        if res.type in CUSTOM_ROLE_TYPES:
            name = identity(res)
            if isinstance(name, str):
                out[name] = frozenset(p for p in items(res.props, "permissions") if isinstance(p, str))
    return out


def permissions(role: object, custom: dict[str, frozenset[str]]) -> Permissions:
    """What `role` allows, or None when the pack cannot know."""
    if not isinstance(role, str):
        return None
    return PREDEFINED.get(role) if not is_custom(role) else custom.get(role)


def grant_rule(
    rule_id: str, description: str, *, severity: object, rationale: str, mirrors: tuple[str, ...] = ()
) -> Callable[[Callable[[Grant, Permissions], Iterable[str]]], None]:
    """A stack rule judging each resolved grant with the permissions of its role."""

    def register(judge: Callable[[Grant, Permissions], Iterable[str]]) -> None:
        @rule(rule_id, description, severity=severity, types=ALL_IAM_TYPES, stack=True, mirrors=mirrors, rationale=rationale)
        def check(resources: list[Res], ctx: object) -> Iterator[tuple[str, str]]:
            custom, seen = custom_roles(resources), set()
            for res, grant, _unknown in stack_grants(resources):
                for message in judge(grant, permissions(grant.role, custom)):
                    if (message, res.urn) not in seen:
                        seen.add((message, res.urn))
                        yield message, res.urn

    return register


def _where(g: Grant) -> str:
    return f"{g.scope} {g.target}" if g.target is not None else g.scope


def _risk_at(classes: tuple[str, ...], scopes: Callable[[str], bool], what: str) -> Callable[[Grant, Permissions], Iterator[str]]:
    def judge(g: Grant, perms: Permissions) -> Iterator[str]:
        if perms is None or not scopes(g.scope):
            return
        hit = risks(perms, *classes)
        if hit:
            found = sorted({p for ps in hit.values() for p in ps})
            yield f"{g.role} on {_where(g)} lets {g.member} {what} ({', '.join(found)})"

    return judge


@grant_rule(
    "iam-no-basic-roles",
    "No basic roles (owner, editor, viewer) anywhere: organization, folder, project or any resource.",
    severity=CRITICAL,
    mirrors=("CKV_GCP_117",),
    rationale="Basic roles grant thousands of permissions across every service of a project.",
)
def no_basic_roles(g: Grant, perms: Permissions) -> Iterator[str]:
    if g.role in BASIC_ROLES:
        yield f"{g.role} is granted on {_where(g)} to {g.member}"


grant_rule(
    "iam-no-project-admin-roles",
    "No role that changes who has access (setIamPolicy, role edits) at organization, folder or project level.",
    severity=HIGH,
    mirrors=("CIS GCP 3.0 1.5", "CKV_GCP_42", "AVD-GCP-0007", "KICS 84d36481-fd63-48cb-838e-635c44806ec2"),
    rationale="Whoever can change a project's policy can grant themselves everything in it.",
)(_risk_at(("change who has access",), lambda s: s in HIERARCHY, "change who has access"))

grant_rule(
    "iam-no-project-impersonation",
    "No role that acts as another identity (actAs, tokens, signing, keys) at organization, folder or project level, or on a service account.",
    severity=CRITICAL,
    mirrors=("CIS GCP 3.0 1.6", "CKV_GCP_41", "CKV_GCP_49", "AVD-GCP-0011", "AVD-GCP-0005", "AVD-GCP-0009",
             "KICS c68b4e6d-4e01-4ca1-b256-1e18e875785c", "KICS 617ef6ff-711e-4bd7-94ae-e965911b1b40"),
    rationale="Acting as a service account is holding all its access: a pipeline's account reads its secrets and raw data.",
)(_risk_at(("act as another identity",), lambda s: s in HIERARCHY or s == "service_account", "act as another identity"))

grant_rule(
    "iam-no-project-bigquery-data-roles",
    "No role that reads or changes table data or objects at organization, folder or project level: data roles go on datasets and buckets.",
    severity=HIGH,
    rationale="A data permission above a dataset reads or writes every dataset, present and future.",
)(_risk_at(("read data", "change or destroy data"), lambda s: s in HIERARCHY, "read or change all its data"))


grant_rule(
    "iam-secret-accessor-on-secrets-only",
    "Permission to read secret values (secretmanager.versions.access) only on individual secrets, never on an organization, folder or project.",
    severity=CRITICAL,
    rationale="Granted anywhere above a secret, it reads every secret there.",
)(_risk_at(("read secrets",), lambda s: s in HIERARCHY, "read every secret there"))

grant_rule(
    "iam-run-invoker-on-jobs-only",
    "Permission to start jobs or call services (run.jobs.run, run.routes.invoke) only on one job or service.",
    severity=HIGH,
    rationale="The scheduler may start its job, not every job and service of the project.",
)(_risk_at(("run workloads",), lambda s: s in HIERARCHY, "start every job and service"))


@grant_rule(
    "iam-known-roles",
    "Every granted role is one whose permissions the pack knows: a predefined role of its table or a custom role of the stack.",
    severity=HIGH,
    rationale="Deny by default: a role the pack cannot read may carry any permission.",
)
def known_roles(g: Grant, perms: Permissions) -> Iterator[str]:
    if perms is None and isinstance(g.role, str):
        where = "a custom role this stack does not define" if is_custom(g.role) else "not in the pack's role table (infra/policy/roles.py)"
        yield f"{g.role} granted on {_where(g)} to {g.member} is {where}: its permissions are unknown"


@grant_rule(
    "iam-access-changes-stay-in-project",
    "A role that changes access to a resource (dataOwner and the like) is held only by service accounts of that resource's own project.",
    severity=CRITICAL,
    rationale="A data owner can share the data onwards: that right must not leave the project that holds it.",
)
def access_changes_in_project(g: Grant, perms: Permissions) -> Iterator[str]:
    if perms is None or g.scope in HIERARCHY or not risks(perms, "change who has access"):
        return
    match = ACCOUNT.match(g.member) if isinstance(g.member, str) else None
    if match is None:
        yield f"{g.role} on {_where(g)} lets {g.member}, which is not a service account of the stack, change who has access"
    elif isinstance(g.project, str) and match["project"] != g.project:
        yield f"{g.role} on {_where(g)} in project {g.project} lets {g.member} of project {match['project']} change who has access"


@rule(
    "iam-custom-role-risky-permissions",
    "Custom roles (project or organization) carry no risky permission: acting as others, changing access, reading secrets or data.",
    severity=CRITICAL,
    types=CUSTOM_ROLE_TYPES,
    rationale="A custom role is a role name no rule recognises: it is judged by the permissions it lists.",
)
def custom_role_permissions(res: Res) -> Iterator[str]:
    perms = [p for p in items(res.props, "permissions") if isinstance(p, str)]
    hit = risks(perms, *ESCALATION, "read secrets", "change secrets", "read data")
    for what, found in sorted(hit.items()):
        yield f"custom role {get(res.props, 'roleId')} can {what}: {', '.join(found)}"


@rule(
    "iam-grants-resolvable",
    "Every grant's role, member and target are known at preview or traceable to a resource of the stack.",
    severity=HIGH,
    types=ALL_IAM_TYPES,
    stack=True,
    rationale="A grant the pack cannot read is a grant nobody reviewed: unknowns are refused, never passed.",
)
def grants_resolvable(resources: list[Res], ctx: object) -> Iterator[tuple[str, str]]:
    for res, _grant, unknown in stack_grants(resources):
        if unknown:
            yield f"{res.name}: {' and '.join(unknown)} is only known after apply and comes from no resource of the stack", res.urn


@grant_rule(
    "iam-no-default-service-accounts",
    "Nothing granted to the default Compute Engine or App Engine service accounts.",
    severity=HIGH,
    mirrors=("CKV_GCP_46", "AVD-GCP-0006", "AVD-GCP-0004", "AVD-GCP-0008"),
    rationale="Default accounts are shared by every workload that forgets to name its own.",
)
def no_default_service_accounts(g: Grant, perms: Permissions) -> Iterator[str]:
    if isinstance(g.member, str) and DEFAULT_ACCOUNTS.search(g.member):
        yield f"{g.role} is granted to the default account {g.member}"


@grant_rule(
    "iam-no-user-principals",
    "No grants to individual users (user:): grant to service accounts, or read-only to groups.",
    severity=MEDIUM,
    mirrors=("AVD-GCP-0003", "KICS 704fcc44-a58f-4af5-82e2-93f2a58ef918"),
    rationale="Access tied to a person outlives their role; groups are reviewed and revoked centrally.",
)
def no_user_principals(g: Grant, perms: Permissions) -> Iterator[str]:
    if isinstance(g.member, str) and g.member.startswith("user:"):
        yield f"{g.role} is granted to the individual {g.member}"


@grant_rule(
    "iam-no-personal-accounts",
    "No principals in personal e-mail domains (gmail.com and the like).",
    severity=HIGH,
    mirrors=("CIS GCP 3.0 1.1", "AVD-GCP-0069", "KICS 9356962e-4a4f-4d06-ac59-dc8008775eaa"),
    rationale="Only corporate identities, which the organization controls, may hold access.",
)
def no_personal_accounts(g: Grant, perms: Permissions) -> Iterator[str]:
    if isinstance(g.member, str) and ":" in g.member:
        domain = g.member.split(":", 1)[1].rsplit("@", 1)[-1].lower()
        if domain in PERSONAL_DOMAINS:
            yield f"{g.role} is granted to the personal account {g.member}"


@grant_rule(
    "iam-no-domain-principals",
    "No grants to a whole domain (domain:example.com or domain:@example.com).",
    severity=CRITICAL,
    rationale="A domain grant reaches every account of the domain, present and future, people and robots alike.",
)
def no_domain_principals(g: Grant, perms: Permissions) -> Iterator[str]:
    if isinstance(g.member, str) and g.member.lower().startswith("domain:"):
        yield f"{g.role} on {_where(g)} is granted to every account of {g.member.split(':', 1)[1].lstrip('@')}"


@grant_rule(
    "iam-no-federated-principals",
    "No grants to workload or workforce identity federation principals (principal://, principalSet://).",
    severity=CRITICAL,
    rationale="Federated identities come from outside Google Cloud; a principalSet with a wildcard admits a whole pool.",
)
def no_federated_principals(g: Grant, perms: Permissions) -> Iterator[str]:
    if isinstance(g.member, str) and g.member.lower().startswith(("principal://", "principalset://")):
        wide = " (a whole set)" if g.member.lower().startswith("principalset://") else ""
        yield f"{g.role} on {_where(g)} is granted to the federated identity {g.member}{wide}"


# A project's role holders as one principal: Cloud Storage's convenience values and BigQuery's
# special groups (dataset access `specialGroup`, or the same words as an IAM member).
CONVENIENCE = re.compile(r"^(?:project(?:Viewer|Editor|Owner):.*|project(?:Readers|Writers|Owners))$", re.IGNORECASE)


@grant_rule(
    "iam-no-convenience-principals",
    "No grants to a project's role holders: projectViewer:, projectEditor:, projectOwner: or BigQuery's projectReaders, projectWriters, projectOwners.",
    severity=CRITICAL,
    rationale="They admit whoever holds a basic role on a project, granted outside the stack and never reviewed here: "
    "a viewer of the project becomes a reader of secrets or a writer of data.",
)
def no_convenience_principals(g: Grant, perms: Permissions) -> Iterator[str]:
    if isinstance(g.member, str) and CONVENIENCE.match(g.member):
        yield f"{g.role} on {_where(g)} is granted to every holder of a role on the project ({g.member})"


@rule(
    "iam-no-external-service-accounts",
    "Service accounts from projects outside the stack hold nothing (Google's own service agents excepted).",
    severity=CRITICAL,
    types=ALL_IAM_TYPES,
    stack=True,
    rationale="An account of another project is run by people this stack's review never sees.",
)
def no_external_accounts(resources: list[Res], ctx: object) -> Iterator[tuple[str, str]]:
    projects = {p for r in resources for p in (get(r.props, "project"), r.project) if isinstance(p, str)}
    if ctx is not None:
        projects |= {p for p in (ctx.config.datalake_project, ctx.config.warehouse_project) if p}  # type: ignore[attr-defined]
    for res, g, _ in stack_grants(resources):
        if not isinstance(g.member, str) or SERVICE_AGENT.search(g.member) or DEFAULT_ACCOUNTS.search(g.member):
            continue
        match = ACCOUNT.match(g.member)
        if match and match["project"] not in projects:
            yield f"{g.role} on {_where(g)} is granted to {g.member} of project {match['project']}, outside the stack", res.urn
        elif g.member.lower().startswith("serviceaccount:") and not match:
            yield f"{g.role} on {_where(g)} is granted to {g.member}, not a service account of any project of the stack", res.urn


@grant_rule(
    "iam-groups-read-only",
    "Groups hold only read access to data: never rights to act as others, change access, read or change secrets, write or run.",
    severity=HIGH,
    rationale="A group's membership is managed outside the stack; what it may do must be harmless to the pipelines.",
)
def groups_read_only(g: Grant, perms: Permissions) -> Iterator[str]:
    if not (isinstance(g.member, str) and g.member.startswith("group:")) or perms is None:
        return
    hit = risks(perms, *ESCALATION, "read secrets", "change secrets", "change or destroy data", "run workloads")
    if hit:
        yield f"{g.role} on {_where(g)} lets the group {g.member.split(':', 1)[1]} {', '.join(sorted(hit))}"


PUBLIC_SCOPES = {
    "bucket": ("buckets", "iam-no-public-buckets", ("CIS GCP 3.0 5.1", "CKV_GCP_28", "AVD-GCP-0001", "KICS a6cd52a1-3056-4910-96a5-894de9f3f3b3")),
    "dataset": ("datasets", "iam-no-public-datasets", ("CIS GCP 3.0 7.1", "CKV_GCP_15", "AVD-GCP-0046", "KICS e576ce44-dd03-4022-a8c0-3906acca2ab4")),
    "table": ("tables", "iam-no-public-tables", ("CKV_GCP_100",)),
    "repository": ("Artifact Registry repositories", "iam-no-public-repositories", ("CKV_GCP_101", "KICS 664c673f-71f2-4a7f-a54a-2efa25e8567f")),
    "job": ("Cloud Run jobs", "iam-no-public-run-jobs", ()),
    "service": ("Cloud Run services", "iam-no-public-run-services", ("CKV_GCP_102", "KICS 07a27a3b-46e9-4172-bc68-25e3277d7998")),
    "secret": ("secrets", "iam-no-public-secrets", ()),
}


def _public(scope: str | None, what: str, rule_id: str, mirrors: tuple[str, ...]) -> None:
    @grant_rule(rule_id, f"No allUsers or allAuthenticatedUsers on {what}.", severity=CRITICAL, mirrors=mirrors,
                rationale=f"Public {what} expose data or execution to the whole internet.")
    def judge(g: Grant, perms: Permissions) -> Iterator[str]:
        in_scope = g.scope == scope if scope else g.scope not in PUBLIC_SCOPES
        if in_scope and g.member in PUBLIC:
            yield f"{g.role} on {_where(g)} is granted to {g.member}"


for _scope, (_what, _id, _mirrors) in PUBLIC_SCOPES.items():
    _public(_scope, _what, _id, _mirrors)
_public(None, "anything else (projects, folders, topics, keys, ...)", "iam-no-public-anywhere", ())


@grant_rule(
    "iam-additive-members-only",
    "IAM through additive *IamMember resources only, never authoritative bindings or policies.",
    severity=HIGH,
    rationale="Authoritative IAM silently removes grants made elsewhere (incl. Google service agents).",
)
def additive_members_only(g: Grant, perms: Permissions) -> Iterator[str]:
    if g.authoritative:
        yield f"an authoritative {g.scope} binding replaces every other grant of {g.role} there; use the *IamMember resource"
