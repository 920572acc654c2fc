"""Run the pack over a plan offline, through pulumi-policy's own analyzer servicer.

This is the code path `pulumi preview --policy-pack` drives over gRPC: the CLI asks the pack for its
policies, configures their enforcement levels, sends each resource to `Analyze` and the whole stack
to `AnalyzeStack`, with the stack's config and name in the environment. Here the same calls are
made in-process. The servicer is pulumi-policy's private API, hence the exact version pin.

One difference, for speed: the servicer decodes a resource's properties anew for every policy
(`MessageToDict`, then `deserialize_properties`), and for every stack policy decodes the whole
stack again: (policies x resources) decodings, most of a large stack's analysis. Here each message
is decoded once and the result shared (`_decoded_once`); rules only read their arguments, and a
test checks that a whole analysis leaves every shared decoding equal to a fresh one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from infra.plan import PROJECT, PROVIDER_PREFIX, PlannedResource
from infra.policy.pack import PACK_NAME, PACK_VERSION, policies
from pipelines.errors import UserError

LEVELS = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory", proto.REMEDIATE: "remediate", proto.DISABLED: "disabled"}


@dataclass(frozen=True)
class Violation:
    rule: str
    level: str
    message: str
    resource: str
    type: str

    def as_dict(self) -> dict[str, str]:
        from infra.policy.pack import rules

        why = next((r.rationale for r in rules() if r.id == self.rule), "")
        return {"rule": self.rule, "level": self.level, "resource": self.resource, "type": self.type, "path": "", "message": self.message, "why": why}


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    not_applicable: list[tuple[str, str]] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)  # rules that could not run (unknowns)
    shared: Any = field(default=None, repr=False, compare=False)  # the decodings the rules shared

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    def rule_ids(self) -> set[str]:
        return {v.rule for v in self.violations}


@contextmanager
def _engine_environment(stack: str, config: Mapping[str, str]) -> Iterator[None]:
    """The variables the Pulumi CLI sets for a policy pack during a preview."""
    values = {"PULUMI_CONFIG": json.dumps(dict(config)), "PULUMI_PROJECT": PROJECT, "PULUMI_STACK": stack, "PULUMI_DRY_RUN": "true"}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _SharedDecodings:
    """`MessageToDict` and `deserialize_properties` of pulumi-policy's servicer, memoised per
    message object for one analysis. Entries keep their key objects alive, so an id is never
    reused for another object while it is cached."""

    def __init__(self, json_format_module: Any, deserialize: Any) -> None:
        self._json_format, self._deserialize = json_format_module, deserialize
        self.dicts: dict[int, tuple[Any, Any]] = {}
        self.decoded: dict[tuple[int, tuple], tuple[Any, Any]] = {}

    def __getattr__(self, name: str) -> Any:  # the rest of protobuf's json_format, unchanged
        return getattr(self._json_format, name)

    def MessageToDict(self, message: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - protobuf's name
        if args or kwargs:
            return self._json_format.MessageToDict(message, *args, **kwargs)
        hit = self.dicts.get(id(message))
        if hit is None or hit[0] is not message:
            hit = self.dicts[id(message)] = (message, self._json_format.MessageToDict(message))
        return hit[1]

    def deserialize_properties(self, props: Any, *args: Any) -> Any:
        key = (id(props), args)
        hit = self.decoded.get(key)
        if hit is None or hit[0] is not props:
            hit = self.decoded[key] = (props, self._deserialize(props, *args))
        return hit[1]


@contextmanager
def _decoded_once() -> Iterator[_SharedDecodings]:
    import pulumi_policy.policy as sdk

    saved = sdk.json_format, sdk.deserialize_properties
    shared = _SharedDecodings(*saved)
    sdk.json_format, sdk.deserialize_properties = shared, shared.deserialize_properties
    try:
        yield shared
    finally:
        sdk.json_format, sdk.deserialize_properties = saved


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(dict(props), struct_pb2.Struct())


def analyze(
    resources: Sequence[PlannedResource],
    *,
    stack: str,
    config: Mapping[str, str],
    enforcement: Mapping[str, str] | None = None,
) -> Report:
    """Run every policy over `resources` (custom resources of a plan or a fixture).

    `enforcement` overrides a rule's level by id (advisory, mandatory, disabled), as a user's
    policy config would.
    """
    servicer = _PolicyAnalyzerServicer(PACK_NAME, PACK_VERSION, policies(), EnforcementLevel.MANDATORY)
    info = servicer.GetAnalyzerInfo(None, None)
    levels = {p.name: p.enforcementLevel for p in info.policies}
    for rule_id, level in (enforcement or {}).items():
        if rule_id not in levels:
            raise ValueError(f"unknown rule '{rule_id}'")
        levels[rule_id] = _level(level)
    servicer.Configure(
        proto.ConfigureAnalyzerRequest(policyConfig={k: proto.PolicyConfig(enforcementLevel=v) for k, v in levels.items()}),
        None,
    )
    custom = [r for r in resources if r.custom]
    by_urn = {r.urn: r for r in custom}
    providers = {r.urn: r for r in custom if r.type.startswith(PROVIDER_PREFIX)}
    report = Report()

    def provider_of(r: PlannedResource) -> proto.AnalyzerProviderResource | None:
        p = providers.get(r.provider_urn or "")
        return proto.AnalyzerProviderResource(type=p.type, properties=_struct(p.raw_inputs), urn=p.urn, name=p.name) if p else None

    def collect(response: Any, default_urn: str) -> None:
        for d in response.diagnostics:
            level = LEVELS.get(d.enforcementLevel, "advisory")
            target = by_urn.get(d.urn or default_urn)
            message = d.message.split("\n", 1)[1] if "\n" in d.message else d.message
            if message.startswith("can't run policy"):
                report.diagnostics.append(message)
                continue
            report.violations.append(Violation(d.policyName, level, message, target.name if target else "-", target.type if target else "-"))
        report.not_applicable += [(n.policy_name, n.reason) for n in response.not_applicable]

    with _engine_environment(stack, config), _decoded_once() as shared:
        for r in custom:
            request = proto.AnalyzeRequest(
                type=r.type, properties=_struct(r.raw_inputs), urn=r.urn, name=r.name,
                options=proto.AnalyzerResourceOptions(protect=r.protect), provider=provider_of(r),
            )
            collect(servicer.Analyze(request, None), r.urn)
        stack_request = proto.AnalyzeStackRequest(
            resources=[
                proto.AnalyzerResource(
                    type=r.type, properties=_struct(r.raw_inputs), urn=r.urn, name=r.name,
                    options=proto.AnalyzerResourceOptions(protect=r.protect), provider=provider_of(r),
                    parent=r.parent_urn or "",
                    dependencies=sorted(r.dependencies),
                    propertyDependencies={
                        key: proto.AnalyzerPropertyDependencies(urns=sorted(urns)) for key, urns in r.property_dependencies.items()
                    },
                )
                for r in custom
            ]
        )
        collect(servicer.AnalyzeStack(stack_request, None), "")
    report.shared = shared
    return report


def read_policy_config(path: Path) -> dict[str, str]:
    """Enforcement overrides from a policy config file, in the format the Pulumi CLI takes.

    `{"all": "advisory", "iam-no-user-principals": "disabled", "bucket-versioning": {"enforcementLevel": "mandatory"}}`
    """
    from infra.policy.pack import rules

    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"policy config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"policy config {path}: expected a JSON object of rule id -> level")
    ids = [r.id for r in rules()]
    levels: dict[str, str] = {}
    for key in sorted(data, key=lambda k: k != "all"):  # "all" first, then per-rule overrides
        value = data[key]
        level = value.get("enforcementLevel") if isinstance(value, dict) else value
        if level not in ("advisory", "mandatory", "disabled"):
            raise UserError(f"policy config {path}: '{key}' has level {level!r}; use advisory, mandatory or disabled")
        if key == "all":
            levels.update(dict.fromkeys(ids, level))
        elif key in ids:
            levels[key] = level
        else:
            raise UserError(f"policy config {path}: unknown rule '{key}' (see toltek policy --list)")
    return levels


def _level(name: str) -> int:
    return {v: k for k, v in LEVELS.items()}[name]


def analyze_plan(plan: Any, config: Mapping[str, str], enforcement: Mapping[str, str] | None = None) -> Report:
    return analyze(plan.resources, stack=plan.stack, config=config, enforcement=enforcement)
