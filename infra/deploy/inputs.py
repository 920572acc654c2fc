"""Every input property against the installed provider SDK's own `*Args` input types.

Read from pulumi-gcp / pulumi-docker as installed (their resource-module tables, the `*Args`
classes, their annotations and property docstrings), never from a copy kept here, so a version
bump keeps the checks true. Pulumi's mocks accept anything; the provider's `Check` would refuse
an unknown property, a missing required one or a value of the wrong kind, and the Google API a
value outside its documented enum or a malformed duration.
"""

from __future__ import annotations

import enum
import functools
import importlib
import importlib.metadata
import inspect
import json
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pulumi._types as pulumi_types

from infra.deploy.model import Finding, check, finding
from infra.plan import PROVIDER_PREFIX, RESOURCE_SIG, SECRET_SIG, SIG_KEY, UNKNOWN, PlannedResource

PACKAGES = {"gcp": "pulumi_gcp", "docker": "pulumi_docker"}
OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
POSSIBLE = re.compile(r"Possible values are:?\s*((?:`[^`]+`[,\s]*)+)")
DURATION_DOC = re.compile(
    r"duration in seconds with up to nine fractional digits"
    r"|fractional digits,?\s+(?:followed by|ending with|terminated by)\s+(?:the letter\s+)?[`'\"]s[`'\"]",
    re.IGNORECASE,
)
DURATION = re.compile(r"\d+(\.\d{1,9})?s")
_PROVIDER_PLUMBING = {"version", "pluginDownloadURL"}  # set by the engine, not the schema


class Unsupported(Exception):
    """A resource type the installed SDKs do not define."""


@functools.cache
def _resource_modules(package: str) -> dict[str, tuple[str, str]]:
    """type token -> (module, class) as the SDK registers its resource modules."""
    module = importlib.import_module(package)
    source = open(module.__file__).read()  # noqa: SIM115 - the generated __init__
    match = re.search(r'resource_modules="""(.*?)"""', source, re.S)
    table: dict[str, tuple[str, str]] = {}
    for entry in json.loads(match.group(1)) if match else []:
        for token, cls in entry["classes"].items():
            table[token] = (entry["fqn"], cls)
    return table


@functools.cache
def args_class(type_token: str) -> type:
    """The `*Args` input type of a resource type token (providers: the package's ProviderArgs)."""
    if type_token.startswith(PROVIDER_PREFIX):
        package = PACKAGES.get(type_token[len(PROVIDER_PREFIX):])
        if package:
            return importlib.import_module(package).ProviderArgs
        raise Unsupported(type_token)
    package = PACKAGES.get(type_token.split(":", 1)[0])
    found = _resource_modules(package).get(type_token) if package else None
    if not found:
        raise Unsupported(type_token)
    module, cls = found
    loaded = importlib.import_module(module)
    return _declared_args(getattr(loaded, cls)) or getattr(loaded, f"{cls}Args")


def _declared_args(resource: type) -> type | None:
    """The input type a resource's constructor declares for `args`. Usually `<Name>Args`, but the
    SDK names it `<Name>InitArgs` where a nested type took that name (`bigquery.DatasetAccess`
    has a `DatasetAccessArgs` for a dataset's access entries)."""
    for overload in typing.get_overloads(resource.__init__):
        declared = inspect.signature(overload).parameters.get("args")
        if declared is not None and isinstance(declared.annotation, type):
            return declared.annotation
    return None


def sdk_version(type_token: str) -> str:
    package = "pulumi_gcp" if type_token.startswith(("gcp:", "pulumi:providers:gcp")) else "pulumi_docker"
    dist = package.replace("_", "-")
    return f"{dist} {importlib.metadata.version(dist)}"


@functools.cache
def _docs(cls: type) -> dict[str, str]:
    """Pulumi property name -> the SDK's docstring of it."""
    names = pulumi_types.input_type_py_to_pulumi_names(cls)
    docs = {}
    for py_name, pulumi_name in names.items():
        attr = getattr(cls, py_name, None)
        doc = getattr(getattr(attr, "fget", None), "__doc__", None)
        docs[pulumi_name] = doc or ""
    return docs


def documented_values(cls: type, prop: str) -> list[str] | None:
    match = POSSIBLE.search(_docs(cls).get(prop, ""))
    return re.findall(r"`([^`]+)`", match.group(1)) if match else None


def documented_duration(cls: type, prop: str) -> bool:
    return bool(DURATION_DOC.search(_docs(cls).get(prop, "")))


def _candidates(annotation: Any) -> list[Any]:
    """The value types an annotation admits (Optional, Awaitable and Output stripped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        out = []
        for arg in typing.get_args(annotation):
            out += _candidates(arg)
        return out
    if annotation is type(None) or origin in (Mapping, Sequence) and False:
        return []
    name = getattr(origin, "__name__", "") or getattr(annotation, "__name__", "")
    if name in ("Awaitable", "Output") or isinstance(annotation, typing.ForwardRef):
        return []
    return [annotation]


def _describe(annotation: Any) -> str:
    if isinstance(annotation, type) and pulumi_types.is_input_type(annotation):
        return f"an object ({annotation.__name__})"
    origin = typing.get_origin(annotation)
    if origin is not None and origin.__name__ in ("Mapping", "Sequence"):
        return {"Mapping": "a map", "Sequence": "a list"}[origin.__name__]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return f"one of {', '.join(str(m.value) for m in annotation)}"
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}.get(annotation, str(annotation))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", dict: "an object", list: "a list"}.get(type(value), type(value).__name__)


def _plain(value: Any) -> tuple[bool, Any]:
    """(known, value) with secrets unwrapped; unknowns and resource references are not judged."""
    if value == UNKNOWN:
        return False, None
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return _plain(value.get("value"))
        if sig == OUTPUT_SIG:
            return ("value" in value, value.get("value"))
        if sig == RESOURCE_SIG:
            return False, None
    return True, value


class Walker:
    """Walks one resource's wire inputs against its `*Args` type, collecting findings."""

    def __init__(self, resource: PlannedResource) -> None:
        self.resource = resource
        self.findings: list[Finding] = []
        self.provider = resource.type.startswith(PROVIDER_PREFIX)

    def report(self, rule: str, path: str, message: str) -> None:
        self.findings.append(finding(rule, self.resource, path, message))

    def object(self, value: Mapping[str, Any], cls: type, path: str) -> None:
        types = pulumi_types.input_type_types(cls)
        for key in sorted(pulumi_types._required_property_names(cls)):
            if key not in value or value[key] is None:
                self.report(
                    "inputs-required",
                    _join(path, key),
                    f"required property '{key}' of {cls.__name__} is missing",
                )
        for key, item in value.items():
            if self.provider and not path and key in _PROVIDER_PLUMBING:
                continue
            where = _join(path, key)
            if key not in types:
                self.report(
                    "inputs-known-properties",
                    where,
                    f"'{key}' is not an input of {cls.__name__} ({sdk_version(self.resource.type)}); "
                    f"the provider refuses unknown properties",
                )
                continue
            self.value(item, types[key], where, cls, key)

    def value(self, raw: Any, annotation: Any, path: str, owner: type, prop: str) -> None:
        known, value = _plain(raw)
        if not known or value is None:
            return
        if self.provider and isinstance(value, str) and not path.count("."):
            value = _provider_value(value, annotation)
        candidates = _candidates(annotation)
        if not candidates or any(c is Any for c in candidates):
            return
        # Several admitted kinds (rare): accept the first that matches without findings.
        if len(candidates) > 1:
            for candidate in candidates:
                probe = Walker(self.resource)
                probe.value(value, candidate, path, owner, prop)
                if not probe.findings:
                    return
        self._one(value, candidates[0], path, owner, prop)

    def _one(self, value: Any, annotation: Any, path: str, owner: type, prop: str) -> None:
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and pulumi_types.is_input_type(annotation):
            if not isinstance(value, dict):
                return self._kind(path, annotation, value)
            return self.object(value, annotation, path)
        if origin is not None and origin.__name__ == "Mapping":
            if not isinstance(value, dict):
                return self._kind(path, annotation, value)
            element = typing.get_args(annotation)[1]
            for key, item in value.items():
                self.value(item, element, _join(path, key), owner, prop)
            return None
        if origin is not None and origin.__name__ == "Sequence":
            if not isinstance(value, list):
                return self._kind(path, annotation, value)
            element = typing.get_args(annotation)[0]
            for i, item in enumerate(value):
                self.value(item, element, _join(path, str(i)), owner, prop)
            return None
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            allowed = [str(m.value) for m in annotation]
            if str(value) not in allowed:
                self.report("inputs-enum-values", path, f"{value!r} is not one of {', '.join(allowed)} ({annotation.__name__})")
            return None
        if annotation is bool and not isinstance(value, bool):
            return self._kind(path, annotation, value)
        if annotation in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return self._kind(path, annotation, value)
        if annotation is int and not float(value).is_integer():
            return self._kind(path, annotation, value)
        if annotation is str:
            if not isinstance(value, str):
                return self._kind(path, annotation, value)
            self._documented(value, path, owner, prop)
        return None

    def _documented(self, value: str, path: str, owner: type, prop: str) -> None:
        allowed = documented_values(owner, prop)
        if allowed is not None and value not in allowed:
            self.report(
                "inputs-enum-values",
                path,
                f"{value!r} is not a value {owner.__name__}.{prop} accepts; the SDK documents: {', '.join(allowed)}",
            )
        if documented_duration(owner, prop) and not DURATION.fullmatch(value):
            self.report(
                "inputs-durations",
                path,
                f"{value!r} is not a duration: the SDK documents seconds with up to nine fractional digits "
                f"ending in 's' (e.g. '3.5s') for {owner.__name__}.{prop}",
            )

    def _kind(self, path: str, annotation: Any, value: Any) -> None:
        self.report("inputs-value-kinds", path, f"expects {_describe(annotation)}, got {_kind(value)} {json.dumps(value)[:60]}")


def _provider_value(value: str, annotation: Any) -> Any:
    """Provider configuration travels as strings, non-string values JSON-encoded."""
    if str in _candidates(annotation):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_inputs(resource: PlannedResource) -> list[Finding]:
    """Findings for one custom resource's inputs; a type no SDK defines is itself a finding."""
    try:
        cls = args_class(resource.type)
    except Unsupported:
        return [finding("inputs-known-properties", resource, "", f"type {resource.type} is not defined by the installed pulumi-gcp or pulumi-docker")]
    walker = Walker(resource)
    walker.object(resource.raw_inputs, cls, "")
    return walker.findings


def _inputs(stack: Any) -> Iterator[Finding]:
    for r in stack.graph.custom:
        yield from check_inputs(r)


_SOURCE = "the installed SDK's *Args input types, their annotations and documented values"


def _only(rule: str):  # noqa: ANN202
    def run(stack: Any) -> Iterator[Finding]:
        return (f for f in stack.input_findings if f.rule == rule)

    return run


for _id, _description in [
    ("inputs-known-properties", "Every input property, at every nesting level, exists on the resource's *Args type."),
    ("inputs-required", "Every property the *Args type requires (its annotation admits no None) is present."),
    ("inputs-value-kinds", "Every value has the kind the *Args annotation gives (string, number, integer, boolean, list, map, object)."),
    ("inputs-enum-values", "Enum-typed and documented string values ('Possible values are: …') are ones the SDK lists."),
    ("inputs-durations", "Properties the SDK documents as durations are seconds ending in 's' (e.g. '3.5s')."),
]:
    check(_id, _description, source=_SOURCE)(_only(_id))
