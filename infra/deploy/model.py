"""Findings, notices and the registry of deploy checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, order=True)
class Finding:
    """Something the first `pulumi up` (or the first execution) would fail on.

    Same shape as a policy violation, plus the property path it is about.
    """

    rule: str
    resource: str
    type: str
    path: str
    message: str
    level: str = "mandatory"

    def as_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "level": self.level,
            "resource": self.resource,
            "type": self.type,
            "path": self.path,
            "message": self.message,
            "why": next((c.source for c in CHECKS if c.id == self.rule), ""),
        }


@dataclass(frozen=True)
class Check:
    id: str
    description: str
    source: str  # the SDK or documentation fact it rests on
    run: Callable[..., Iterable[Finding]] = field(repr=False, compare=False)


CHECKS: list[Check] = []


def check(id: str, description: str, *, source: str) -> Callable[[Callable[..., Iterable[Finding]]], Callable[..., Iterable[Finding]]]:  # noqa: A002
    """Register a deploy check: a function of the `Stack` view yielding findings."""

    def register(fn: Callable[..., Iterable[Finding]]) -> Callable[..., Iterable[Finding]]:
        if any(c.id == id for c in CHECKS):
            raise ValueError(f"duplicate deploy check {id}")
        CHECKS.append(Check(id, description, source, fn))
        return fn

    return register


def finding(rule: str, resource: Any, path: str, message: str) -> Finding:
    """A finding about a `PlannedResource`."""
    return Finding(rule, resource.name, resource.type, path, message)
