"""Building blocks of the policy pack: rule metadata, reading properties safely, IAM grants.

Properties use the engine's camelCase names. At a real preview some values are unknown (a new
key's id, an image digest): reading one yields `UNKNOWN`, and each rule decides deliberately what
an unknown means for it instead of crashing or silently passing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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


class _Shared:
    """What stack rules may share within one analysis (set by the offline analyzer, which hands
    every policy the same decoded properties): each resource converted once, the stack's grants
    resolved once. Outside an analysis (the pack as a plugin of the Pulumi CLI) nothing is kept."""

    def __init__(self) -> None:
        self.values: dict[Any, tuple[Any, Any]] | None = None

    @contextmanager
    def analysis(self) -> Iterator[None]:
        self.values = {}
        try:
            yield
        finally:
            self.values = None

    def get(self, key: Any, anchor: Any, compute: Callable[[], Any]) -> Any:
        """`compute()`, once per `key` in an analysis; `anchor` is kept alive with the value so
        that an id inside `key` is never reused for another object meanwhile."""
        if self.values is None:
            return compute()
        hit = self.values.get(key)
        if hit is None:
            hit = self.values[key] = (anchor, compute())
        return hit[1]


SHARED = _Shared()
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
    # Stack rules only: the URNs each input property was computed from, and the project the
    # resource lives in (its `project` input, else its provider's).
    deps: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    project: Any = None


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


def matches(rule_types: Iterable[str], resource_type: str) -> bool:
    """Whether a rule listing `rule_types` reads `resource_type` (`IAM_ANY` stands for every IAM type)."""
    from infra.policy.iam import is_iam_type

    return resource_type in rule_types or (IAM_ANY in rule_types and is_iam_type(resource_type))


IAM_ANY = "gcp:*/*Iam{Member,Binding,Policy}"


def iter_containers(res: Res) -> Iterator[Any]:
    """Containers of a Cloud Run v2 job or service."""
    if res.type == "gcp:cloudrunv2/job:Job":
        yield from items(get(res.props, "template", "template", default={}), "containers")
    elif res.type == "gcp:cloudrunv2/service:Service":
        yield from items(get(res.props, "template", default={}), "containers")
