"""Run the pack over a plan offline, through pulumi-policy's own analyzer servicer.

This is the code path `pulumi preview --policy-pack` drives over gRPC: the CLI asks the pack for its
policies, configures their enforcement levels, sends each resource to `Analyze` and the whole stack
to `AnalyzeStack`, with the stack's config and name in the environment. Here the same calls are
made in-process. The servicer is pulumi-policy's private API, hence the exact version pin.

One difference, for speed: the servicer decodes a resource's properties anew for every policy
(`MessageToDict`, `deserialize_properties`, then a proxy that refuses unknown values), and for every stack policy decodes the whole
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

from infra.heap import fewer_collections
from infra.plan import PROJECT, PROVIDER_PREFIX, PlannedResource
from infra.policy.model import SHARED
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


class _ByIdentity:
    """`fn(obj, *args)` computed once per argument object (and extra arguments) within one
    analysis. Entries keep their object alive, so an id is never reused for another one while
    it is cached."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.entries: dict[tuple[int, tuple], tuple[Any, Any]] = {}

    def __call__(self, obj: Any, *args: Any) -> Any:
        key = (id(obj), args)
        hit = self.entries.get(key)
        if hit is None or hit[0] is not obj:
            hit = self.entries[key] = (obj, self.fn(obj, *args))
        return hit[1]


class _SharedDecodings:
    """pulumi-policy's `MessageToDict`, `deserialize_properties` and `unknown_checking_proxy`,
    each computed once per object for one analysis."""

    def __init__(self, json_format_module: Any, deserialize: Any, proxy: Any) -> None:
        self._json_format = json_format_module
        self.dicts = _ByIdentity(json_format_module.MessageToDict)
        self.decoded = _ByIdentity(deserialize)
        self.proxies = _ByIdentity(proxy)

    def __getattr__(self, name: str) -> Any:  # the rest of protobuf's json_format, unchanged
        return getattr(self._json_format, name)

    def MessageToDict(self, message: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - protobuf's name
        return self.dicts(message) if not args and not kwargs else self._json_format.MessageToDict(message, *args, **kwargs)


@contextmanager
def _decoded_once() -> Iterator[_SharedDecodings]:
    import pulumi_policy.policy as sdk

    saved = sdk.json_format, sdk.deserialize_properties, sdk.unknown_checking_proxy
    shared = _SharedDecodings(*saved)
    sdk.json_format, sdk.deserialize_properties, sdk.unknown_checking_proxy = shared, shared.decoded, shared.proxies
    try:
        yield shared
    finally:
        sdk.json_format, sdk.deserialize_properties, sdk.unknown_checking_proxy = saved


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(dict(props), struct_pb2.Struct())


# Custom resources from which the stack rules are shared between two forked processes: below it,
# forking costs more than it saves.
PARALLEL_FROM = 2000


def analyze(
    resources: Sequence[PlannedResource],
    *,
    stack: str,
    config: Mapping[str, str],
    enforcement: Mapping[str, str] | None = None,
    workers: int | None = None,
) -> Report:
    """Run every policy over `resources` (custom resources of a plan or a fixture).

    `enforcement` overrides a rule's level by id (advisory, mandatory, disabled), as a user's
    policy config would. A large stack is analysed by two forked processes (`workers`, default:
    two from `PARALLEL_FROM` resources on a machine with two cores): each runs the servicer with
    half of the stack rules enabled (the first also every resource rule), and their reports are
    merged in rule order, as one process would have made them.
    """
    with fewer_collections():
        return _analyze_all(resources, stack, config, enforcement, workers)


def _analyze_all(
    resources: Sequence[PlannedResource], stack: str, config: Mapping[str, str], enforcement: Mapping[str, str] | None, workers: int | None
) -> Report:
    levels = _levels(enforcement)
    custom = [r for r in resources if r.custom]
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if len(custom) >= PARALLEL_FROM and hasattr(os, "fork") else 1
    if workers <= 1:
        by_resource, by_stack = _analyze(custom, stack, config, levels, resource_rules=True, stack_rules=None)
        return _merge([by_resource, by_stack])
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from infra.policy.pack import rules

    stack_rules = [r.id for r in rules() if r.stack]
    global _JOB
    _JOB = (custom, stack, config, levels, [stack_rules[i::workers] for i in range(workers)])
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_part, range(workers)))
    finally:
        _JOB = None
    return _merge([parts[0][0]] + [p[1] for p in parts])


_JOB: tuple | None = None  # what forked workers analyse (inherited, not pickled)


def _part(index: int) -> tuple[Report, Report]:
    assert _JOB is not None
    custom, stack, config, levels, groups = _JOB
    return _analyze(custom, stack, config, levels, resource_rules=index == 0, stack_rules=set(groups[index]))


def _merge(parts: list[Report]) -> Report:
    """One report: the first part's (resource rules) as it is, the others' stack findings in rule order."""
    from infra.policy.pack import rules

    order = {r.id: i for i, r in enumerate(rules())}
    first, rest = parts[0], parts[1:]
    report = Report(list(first.violations), list(first.not_applicable), list(first.diagnostics), first.shared)
    report.violations += sorted((v for p in rest for v in p.violations), key=lambda v: order.get(v.rule, -1))
    report.not_applicable += sorted((n for p in rest for n in p.not_applicable), key=lambda n: order.get(n[0], -1))
    report.diagnostics += [d for p in rest for d in p.diagnostics]
    if report.shared is None:
        report.shared = next((p.shared for p in rest if p.shared is not None), None)
    return report


def _levels(enforcement: Mapping[str, str] | None) -> dict[str, int]:
    servicer = _PolicyAnalyzerServicer(PACK_NAME, PACK_VERSION, policies(), EnforcementLevel.MANDATORY)
    levels = {p.name: p.enforcementLevel for p in servicer.GetAnalyzerInfo(None, None).policies}
    for rule_id, level in (enforcement or {}).items():
        if rule_id not in levels:
            raise ValueError(f"unknown rule '{rule_id}'")
        levels[rule_id] = _level(level)
    return levels


def _analyze(
    custom: list[PlannedResource],
    stack: str,
    config: Mapping[str, str],
    levels: Mapping[str, int],
    *,
    resource_rules: bool,
    stack_rules: set[str] | None,
) -> tuple[Report, Report]:
    """(findings of the resource rules, findings of the stack rules): every resource rule when
    `resource_rules`, the stack rules named in `stack_rules` (all when None); the rest disabled."""
    from infra.policy.pack import rules

    kinds = {r.id: r.stack for r in rules()}
    def runs_here(name: str) -> bool:
        return (stack_rules is None or name in stack_rules) if kinds.get(name) else resource_rules

    enabled = {name: level if runs_here(name) else proto.DISABLED for name, level in levels.items()}
    servicer = _PolicyAnalyzerServicer(PACK_NAME, PACK_VERSION, policies(), EnforcementLevel.MANDATORY)
    servicer.Configure(
        proto.ConfigureAnalyzerRequest(policyConfig={k: proto.PolicyConfig(enforcementLevel=v) for k, v in enabled.items()}),
        None,
    )
    for name in ("_get_resource_options", "_get_provider_resource"):  # per request, not per policy
        setattr(servicer, name, _ByIdentity(getattr(servicer, name)))
    by_urn = {r.urn: r for r in custom}
    providers = {r.urn: r for r in custom if r.type.startswith(PROVIDER_PREFIX)}
    by_resource, by_stack = Report(), Report()

    def provider_of(r: PlannedResource) -> proto.AnalyzerProviderResource | None:
        p = providers.get(r.provider_urn or "")
        return proto.AnalyzerProviderResource(type=p.type, properties=_struct(p.raw_inputs), urn=p.urn, name=p.name) if p else None

    def collect(report: Report, response: Any, default_urn: str) -> None:
        for d in response.diagnostics:
            level = LEVELS.get(d.enforcementLevel, "advisory")
            target = by_urn.get(d.urn or default_urn)
            message = d.message.split("\n", 1)[1] if "\n" in d.message else d.message
            if message.startswith("can't run policy"):
                report.diagnostics.append(message)
                continue
            report.violations.append(Violation(d.policyName, level, message, target.name if target else "-", target.type if target else "-"))
        report.not_applicable += [(n.policy_name, n.reason) for n in response.not_applicable]

    with _engine_environment(stack, config), _decoded_once() as shared, SHARED.analysis():
        for r in custom if resource_rules else []:
            request = proto.AnalyzeRequest(
                type=r.type, properties=_struct(r.raw_inputs), urn=r.urn, name=r.name,
                options=proto.AnalyzerResourceOptions(protect=r.protect), provider=provider_of(r),
            )
            collect(by_resource, servicer.Analyze(request, None), r.urn)
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
        collect(by_stack, servicer.AnalyzeStack(stack_request, None), "")
    if os.getpid() == _PARENT:  # a forked worker sends back findings, not its caches
        by_resource.shared = shared
    return by_resource, by_stack


_PARENT = os.getpid()


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
