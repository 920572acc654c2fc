"""Every IAM grant a resource makes, read from any scope pulumi-gcp has.

pulumi-gcp has some 200 resources with `*IamMember` / `*IamBinding` / `*IamPolicy` variants
(organization, folder, project, service account, key ring, key, dataset, topic, ...). They are
recognised by their type token, so a scope no rule ever listed is still read: "no basic roles
anywhere" means anywhere. BigQuery dataset access entries and bucket ACLs are grants too.

At a real preview a grant's target or member is often unknown (`secret_id=secret.id`,
`member=account.member`); stack rules resolve those through the resource graph (`resolve`), and
what cannot be resolved is refused, never passed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from infra.policy.model import IAM_ANY, SHARED, UNKNOWN, Res, get, items

_IAM_TOKEN = re.compile(r"^gcp:(?P<module>\w+)/(?P<res>\w*?)(?:iam|Iam|IAM|iAM)(?P<kind>Member|Binding|Policy):\w+$")

# (module, resource prefix of the token) -> (scope, property naming what is granted on).
# Every other IAM type gets the scope "<module>.<resource>" and its identifying properties.
SCOPES: dict[tuple[str, str], tuple[str, str]] = {
    ("organizations", ""): ("organization", "orgId"),
    ("folder", ""): ("folder", "folder"),
    ("projects", ""): ("project", "project"),
    ("billing", "account"): ("billing_account", "billingAccountId"),
    ("serviceaccount", ""): ("service_account", "serviceAccountId"),
    ("kms", "keyRing"): ("key_ring", "keyRingId"),
    ("kms", "cryptoKey"): ("key", "cryptoKeyId"),
    ("bigquery", "dataset"): ("dataset", "datasetId"),
    ("bigquery", ""): ("table", "tableId"),
    ("storage", "bucket"): ("bucket", "bucket"),
    ("storage", "managedFolder"): ("managed_folder", "managedFolder"),
    ("secretmanager", "secret"): ("secret", "secretId"),
    ("secretmanager", "regionalSecret"): ("secret", "secretId"),
    ("cloudrunv2", "job"): ("job", "name"),
    ("cloudrunv2", "service"): ("service", "name"),
    ("cloudrun", ""): ("service", "service"),
    ("artifactregistry", "repository"): ("repository", "repository"),
    ("iam", "workloadIdentityPool"): ("workload_identity_pool", "workloadIdentityPoolId"),
}
# Scopes above individual resources: a grant there reaches everything below.
HIERARCHY = ("organization", "folder", "project")
DATASET_ACCESS = "gcp:bigquery/datasetAccess:DatasetAccess"
DATASET = "gcp:bigquery/dataset:Dataset"
BUCKET_ACL = "gcp:storage/bucketAccessControl:BucketAccessControl"
GRANTING_TYPES = (DATASET_ACCESS, DATASET, BUCKET_ACL)
PUBLIC = ("allUsers", "allAuthenticatedUsers")
# BigQuery's legacy dataset access roles, as the IAM roles they stand for.
LEGACY_DATASET_ROLES = {"OWNER": "roles/bigquery.dataOwner", "WRITER": "roles/bigquery.dataEditor", "READER": "roles/bigquery.dataViewer"}
_NOT_TARGET = {"role", "member", "members", "condition", "policyData", "etag", "project", "location", "region", "urn", "id"}


def iam_type(token: str) -> tuple[str, str | None, str] | None:
    """(scope, target property, member|binding|policy) of an IAM type token; None if not one."""
    match = _IAM_TOKEN.match(token)
    if not match:
        return None
    module, res, kind = match["module"], match["res"], match["kind"].lower()
    scope, target = SCOPES.get((module, res), (f"{module}.{res or module}", None))
    return scope, target, kind


def is_iam_type(token: str) -> bool:
    return iam_type(token) is not None


def is_granting(token: str) -> bool:
    return is_iam_type(token) or token in GRANTING_TYPES


@dataclass(frozen=True)
class Grant:
    """One (role, member) on one resource, read from any kind of IAM resource."""

    scope: str
    target: Any
    project: Any
    role: Any
    member: Any
    authoritative: bool
    condition: Any = None  # the IAM condition's expression, if any
    target_key: str | None = None  # the property the target came from (for resolving it)
    member_key: str = "member"


def _target(props: Mapping[str, Any], key: str | None) -> Any:
    if key is not None:
        return get(props, key)
    values = [get(props, k) for k in sorted(props) if k not in _NOT_TARGET]
    if any(v is UNKNOWN for v in values):
        return UNKNOWN
    return "/".join(str(v) for v in values if isinstance(v, (str, int))) or None


def _access_member(entry: Any) -> Any:
    """The principal of a BigQuery dataset access entry."""
    for key, prefix in (("iamMember", ""), ("userByEmail", "user:"), ("groupByEmail", "group:"), ("domain", "domain:")):
        value = get(entry, key)
        if value is UNKNOWN:
            return UNKNOWN
        if value:
            return f"{prefix}{value}"
    special = get(entry, "specialGroup")
    if special is UNKNOWN or special:
        return special
    if get(entry, "view") or get(entry, "routine") or get(entry, "dataset"):
        return "authorized:" + json.dumps({k: get(entry, k) for k in ("view", "routine", "dataset") if get(entry, k)}, default=str)
    return None


def _legacy(role: Any) -> Any:
    return LEGACY_DATASET_ROLES.get(role, role) if isinstance(role, str) else role


def grants(res: Res) -> list[Grant]:
    """Every grant `res` makes (empty for resources that grant nothing)."""
    props, project = res.props, get(res.props, "project")
    kind = iam_type(res.type)
    if kind is not None:
        scope, key, how = kind
        target = _target(props, key)
        condition = get(props, "condition", "expression")
        if how == "member":
            return [Grant(scope, target, project, get(props, "role"), get(props, "member"), False, condition, key)]
        if how == "binding":
            role = get(props, "role")
            members = get(props, "members")
            if members is UNKNOWN:
                return [Grant(scope, target, project, role, UNKNOWN, True, condition, key, "members")]
            return [Grant(scope, target, project, role, m, True, condition, key, "members") for m in items(props, "members")]
        data = get(props, "policyData")
        if data is UNKNOWN or not data:
            return [Grant(scope, target, project, UNKNOWN, UNKNOWN, True, None, key, "policyData")]
        try:
            bindings = json.loads(data).get("bindings", [])
        except (ValueError, AttributeError):
            return [Grant(scope, target, project, UNKNOWN, UNKNOWN, True, None, key, "policyData")]
        return [
            Grant(scope, target, project, b.get("role"), m, True, (b.get("condition") or {}).get("expression"), key, "policyData")
            for b in bindings
            for m in b.get("members", [])
        ]
    if res.type == DATASET_ACCESS:
        return [Grant("dataset", get(props, "datasetId"), project, _legacy(get(props, "role")), _access_member(props), False, None, "datasetId", "iamMember")]
    if res.type == DATASET:
        return [
            Grant("dataset", get(props, "datasetId"), project, _legacy(get(a, "role")), _access_member(a), True, None, "datasetId", "accesses")
            for a in items(props, "accesses")
        ]
    if res.type == BUCKET_ACL:
        entity = get(props, "entity")
        member = entity if entity in PUBLIC or entity is UNKNOWN else str(entity).replace("-", ":", 1)
        return [Grant("bucket", get(props, "bucket"), project, f"acl:{get(props, 'role')}", member, False, None, "bucket", "entity")]
    return []


# Resolving unknowns through the resource graph ---------------------------------------------------

SA_SUFFIX = ".iam.gserviceaccount.com"
# A user-managed service account: its id and the project it belongs to.
ACCOUNT = re.compile(r"^serviceAccount:(?P<id>[a-z0-9-]+)@(?P<project>[a-z][a-z0-9-]+)\.iam\.gserviceaccount\.com$", re.IGNORECASE)


def _project_of(res: Res) -> Any:
    return get(res.props, "project") or res.project


def identity(res: Res) -> Any:
    """What a grant on (or to) `res` names it by, read from its inputs; UNKNOWN if it has none."""
    props, t = res.props, res.type
    if t == "gcp:serviceaccount/account:Account":
        account, project = get(props, "accountId"), _project_of(res)
        return f"{account}@{project}{SA_SUFFIX}" if isinstance(account, str) and isinstance(project, str) else UNKNOWN
    if t in ("gcp:projects/iAMCustomRole:IAMCustomRole", "gcp:organizations/iAMCustomRole:IAMCustomRole"):
        role, parent = get(props, "roleId"), (get(props, "orgId") and f"organizations/{get(props, 'orgId')}") or f"projects/{_project_of(res)}"
        return f"{parent}/roles/{role}" if isinstance(role, str) else UNKNOWN
    for key in ("secretId", "datasetId", "tableId", "repositoryId", "accountId", "name"):
        value = get(props, key)
        if value is not None:
            return value
    return UNKNOWN


def short(target: Any) -> Any:
    """`projects/p/secrets/s` -> `s`; `projects/p/serviceAccounts/a@p.iam…` -> `a@p.iam…`."""
    return target.rstrip("/").rsplit("/", 1)[-1] if isinstance(target, str) else target


def resolve(res: Res, grant: Grant, by_urn: Mapping[str, Res]) -> tuple[Grant, list[str]]:
    """`grant` with unknown target, member or role traced to the resources they were computed
    from; and what stays unknown (empty when every part is known)."""

    def traced(key: str | None) -> list[Res]:
        return [by_urn[u] for u in res.deps.get(key or "", ()) if u in by_urn] if key else []

    unknown: list[str] = []
    target, member, role = grant.target, grant.member, grant.role
    if target is UNKNOWN:
        named = [identity(d) for d in traced(grant.target_key)]
        named = [n for n in named if n is not UNKNOWN]
        target = named[0] if len(named) == 1 else UNKNOWN
        if target is UNKNOWN:
            unknown.append(f"its target ({grant.target_key or 'resource'})")
    if member is UNKNOWN:
        accounts = [d for d in traced(grant.member_key) if d.type == "gcp:serviceaccount/account:Account"]
        named = [identity(a) for a in accounts]
        member = f"serviceAccount:{named[0]}" if len(named) == 1 and named[0] is not UNKNOWN else UNKNOWN
        if member is UNKNOWN:
            unknown.append(f"its member ({grant.member_key})")
    if role is UNKNOWN:
        named = [identity(d) for d in traced("role")]
        role = named[0] if len(named) == 1 else UNKNOWN
        if role is UNKNOWN:
            unknown.append("its role")
    return replace(grant, target=target, member=member, role=role), unknown


def stack_grants(resources: Iterable[Res]) -> list[tuple[Res, Grant, list[str]]]:
    """Every grant of the stack, resolved: (resource, grant, what stays unknown); once per
    analysis for rules handed the same resources."""
    resources = list(resources)
    return SHARED.get(("grants", tuple(map(id, resources))), resources, lambda: _stack_grants(resources))


def _stack_grants(resources: list[Res]) -> list[tuple[Res, Grant, list[str]]]:
    by_urn = {r.urn: r for r in resources}
    out = []
    for res in resources:
        for grant in grants(res):
            resolved, unknown = resolve(res, grant, by_urn)
            out.append((res, resolved, unknown))
    return out


def known(*values: Any) -> bool:
    return all(v is not UNKNOWN and v is not None for v in values)


def email_of(member: Any) -> str | None:
    """`serviceAccount:a@b` -> `a@b`; None for anything else."""
    if isinstance(member, str) and ":" in member:
        return member.split(":", 1)[1].lower()
    return None


# What rules over grants list as their types: every IAM type, dataset access and bucket ACLs.
ALL_IAM_TYPES = (IAM_ANY, *GRANTING_TYPES)
