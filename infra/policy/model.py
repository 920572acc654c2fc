"""Building blocks of the policy pack: rule metadata, reading properties safely, IAM grants.

Properties use the engine's camelCase names. At a real preview some values are unknown (a new
key's id, an image digest): reading one yields `UNKNOWN`, and each rule decides deliberately what
an unknown means for it instead of crashing or silently passing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import EnforcementLevel, Severity
from pulumi_policy.proxy import UnknownValueError


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()
MANDATORY, ADVISORY = EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY
LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """`obj[path[0]][path[1]]…`, `default` when absent, `UNKNOWN` when not known yet."""
    current = obj
    try:
        for key in path:
            if current is None or current is UNKNOWN:
                return current if current is UNKNOWN else default
            if isinstance(key, int):
                current = current[key] if isinstance(current, Sequence) and len(current) > key else None
            else:
                current = current.get(key) if isinstance(current, Mapping) else None
    except UnknownValueError:
        return UNKNOWN
    return default if current is None else current


def items(obj: Any, *path: str) -> list[Any]:
    """A list property as a list (unknown or absent -> empty; unknown elements -> UNKNOWN)."""
    value = get(obj, *path)
    if value is UNKNOWN or not isinstance(value, Sequence) or isinstance(value, str):
        return []
    out = []
    for i in range(len(value)):
        out.append(get(value, i))
    return out


@dataclass(frozen=True)
class Res:
    """A resource as a rule sees it, whether it comes from a preview or a fixture."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool = False


@dataclass(frozen=True)
class Rule:
    """One rule: its metadata, and a check yielding violation messages."""

    id: str
    description: str
    severity: Severity
    resource_types: tuple[str, ...]  # for stack rules: the types it reads
    mirrors: tuple[str, ...]  # external rules it mirrors (CIS, Checkov, Trivy, KICS)
    rationale: str  # why, in one line (the only justification when it mirrors nothing)
    enforcement: EnforcementLevel = MANDATORY
    stack: bool = False
    registry: bool = False  # compares against the pipeline registry and stack config
    check: Callable[..., Iterable[Any]] = field(default=lambda *_: (), repr=False, compare=False)


RULES: list[Rule] = []


def rule(
    id: str,  # noqa: A002 - the rule's id
    description: str,
    *,
    severity: Severity,
    types: Iterable[str],
    rationale: str,
    mirrors: Iterable[str] = (),
    enforcement: EnforcementLevel = MANDATORY,
    stack: bool = False,
    registry: bool = False,
) -> Callable[[Callable[..., Iterable[Any]]], Callable[..., Iterable[Any]]]:
    """Register a rule. Resource checks take a `Res` and yield messages; stack checks take the
    list of `Res` and yield `(message, urn)`."""

    def register(check: Callable[..., Iterable[Any]]) -> Callable[..., Iterable[Any]]:
        if any(r.id == id for r in RULES):
            raise ValueError(f"duplicate rule id {id}")
        RULES.append(
            Rule(id, description, severity, tuple(types), tuple(mirrors), rationale, enforcement, stack, registry, check)
        )
        return check

    return register


# IAM --------------------------------------------------------------------------------------------

# type -> (scope, property naming the resource granted on, how members are given)
IAM_TYPES: dict[str, tuple[str, str, str]] = {}
for _scope, _prefix, _target in [
    ("project", "gcp:projects/iAM{}:IAM{}", "project"),
    ("dataset", "gcp:bigquery/datasetIam{}:DatasetIam{}", "datasetId"),
    ("table", "gcp:bigquery/iam{}:Iam{}", "tableId"),
    ("bucket", "gcp:storage/bucketIAM{}:BucketIAM{}", "bucket"),
    ("secret", "gcp:secretmanager/secretIam{}:SecretIam{}", "secretId"),
    ("job", "gcp:cloudrunv2/jobIam{}:JobIam{}", "name"),
    ("service", "gcp:cloudrunv2/serviceIam{}:ServiceIam{}", "name"),
    ("service", "gcp:cloudrun/iam{}:Iam{}", "service"),
    ("repository", "gcp:artifactregistry/repositoryIam{}:RepositoryIam{}", "repository"),
    ("service_account", "gcp:serviceaccount/iAM{}:IAM{}", "serviceAccountId"),
    ("key", "gcp:kms/cryptoKeyIAM{}:CryptoKeyIAM{}", "cryptoKeyId"),
]:
    for _kind in ("Member", "Binding", "Policy"):
        IAM_TYPES[_prefix.format(_kind, _kind)] = (_scope, _target, _kind.lower())
DATASET_ACCESS = "gcp:bigquery/datasetAccess:DatasetAccess"
DATASET = "gcp:bigquery/dataset:Dataset"
BUCKET_ACL = "gcp:storage/bucketAccessControl:BucketAccessControl"
ALL_IAM_TYPES = (*IAM_TYPES, DATASET_ACCESS, DATASET, BUCKET_ACL)
PUBLIC = ("allUsers", "allAuthenticatedUsers")


@dataclass(frozen=True)
class Grant:
    """One (role, member) on one resource, read from any kind of IAM resource."""

    scope: str
    target: Any
    project: Any
    role: Any
    member: Any
    authoritative: bool


def _access_member(entry: Any) -> Any:
    """The principal of a BigQuery dataset access entry."""
    for key, prefix in (("iamMember", ""), ("userByEmail", "user:"), ("groupByEmail", "group:"), ("domain", "domain:")):
        value = get(entry, key)
        if value is UNKNOWN:
            return UNKNOWN
        if value:
            return f"{prefix}{value}"
    special = get(entry, "specialGroup")
    return special or None


def grants(res: Res) -> list[Grant]:
    """Every grant `res` makes (empty for resources that grant nothing)."""
    props, project = res.props, get(res.props, "project")
    if res.type in IAM_TYPES:
        scope, target_key, kind = IAM_TYPES[res.type]
        target = get(props, target_key)
        if kind == "member":
            return [Grant(scope, target, project, get(props, "role"), get(props, "member"), False)]
        if kind == "binding":
            role = get(props, "role")
            return [Grant(scope, target, project, role, m, True) for m in items(props, "members")]
        data = get(props, "policyData")
        if data is UNKNOWN or not data:
            return [Grant(scope, target, project, UNKNOWN, UNKNOWN, True)]
        return [
            Grant(scope, target, project, b.get("role"), m, True)
            for b in json.loads(data).get("bindings", [])
            for m in b.get("members", [])
        ]
    if res.type == DATASET_ACCESS:
        return [Grant("dataset", get(props, "datasetId"), project, get(props, "role"), _access_member(props), False)]
    if res.type == DATASET:
        return [
            Grant("dataset", get(props, "datasetId"), project, get(a, "role"), _access_member(a), True)
            for a in items(props, "accesses")
        ]
    if res.type == BUCKET_ACL:
        entity = get(props, "entity")
        member = entity if entity in PUBLIC or entity is UNKNOWN else str(entity).replace("-", ":", 1)
        return [Grant("bucket", get(props, "bucket"), project, f"acl:{get(props, 'role')}", member, False)]
    return []


def known(*values: Any) -> bool:
    return all(v is not UNKNOWN and v is not None for v in values)


def email_of(member: Any) -> str | None:
    """`serviceAccount:a@b` -> `a@b`; None for anything else."""
    if isinstance(member, str) and ":" in member:
        return member.split(":", 1)[1].lower()
    return None


def iter_containers(res: Res) -> Iterator[Any]:
    """Containers of a Cloud Run v2 job or service."""
    if res.type == "gcp:cloudrunv2/job:Job":
        yield from items(get(res.props, "template", "template", default={}), "containers")
    elif res.type == "gcp:cloudrunv2/service:Service":
        yield from items(get(res.props, "template", default={}), "containers")
