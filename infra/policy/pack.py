"""The rules as pulumi-policy policies (used by `__main__.py` and by the offline runner)."""

from __future__ import annotations

from pulumi_policy import (
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.policy import (  # noqa: F401 - they register
    rules_hardening,
    rules_iam,
    rules_monitoring,
    rules_registry,
    rules_resources,
    rules_secrets,
)
from infra.policy.context import stack_context
from infra.policy.model import RULES, SHARED, Res, Rule, matches

PACK_NAME = "toltek-gcp-least-privilege"
PACK_VERSION = "0.1.0"
DESCRIPTION = "Least privilege and hardening for Toltek's generated GCP infrastructure."


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not matches(rule.resource_types, args.resource_type):
            return
        res = Res(args.resource_type, args.name, args.urn, args.props, bool(args.opts.protect))
        for message in rule.check(res):
            report(message, None)

    return ResourceValidationPolicy(
        name=rule.id, description=rule.description, validate=validate, enforcement_level=rule.enforcement, severity=rule.severity
    )


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        context = SHARED.get(("stack context",), None, stack_context)  # the registry is discovered once per analysis
        if rule.registry and context is None:
            args.not_applicable("no toltek:* stack config: not a Toltek stack")
        resources = [SHARED.get(("res", r.urn, id(r.props)), r.props, lambda r=r: _stack_res(r)) for r in args.resources]
        for message, urn in rule.check(resources, context):
            report(message, urn or None)

    return StackValidationPolicy(
        name=rule.id, description=rule.description, validate=validate, enforcement_level=rule.enforcement, severity=rule.severity
    )


def _stack_res(r: PolicyResource) -> Res:
    """A stack resource with the graph a rule needs to resolve unknowns."""
    deps = {key: tuple(d.urn for d in on) for key, on in (r.property_dependencies or {}).items()}
    project = r.provider.props.get("project") if r.provider is not None else None
    return Res(r.resource_type, r.name, r.urn, r.props, bool(r.opts.protect), deps, project)


def policies() -> list[Policy]:
    return [_stack_policy(r) if r.stack else _resource_policy(r) for r in RULES]


def rules() -> list[Rule]:
    return list(RULES)
