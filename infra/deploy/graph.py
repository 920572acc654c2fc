"""The order the engine would create resources in: a resource waits for its `depends_on`, for
every resource its inputs came from (property dependencies), and for its provider."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property

from infra.plan import PlannedResource


class Graph:
    def __init__(self, resources: Sequence[PlannedResource]) -> None:
        self.resources = list(resources)
        self.by_urn = {r.urn: r for r in self.resources}
        self._ancestors: dict[str, frozenset[str]] = {}

    def direct(self, r: PlannedResource) -> set[str]:
        deps = set(r.dependencies)
        if r.provider_urn:
            deps.add(r.provider_urn)
        return deps

    def ancestors(self, urn: str) -> frozenset[str]:
        """Every URN created before `urn` is (transitively); iterative post-order, memoized."""
        if urn in self._ancestors:
            return self._ancestors[urn]
        visiting = {urn}
        stack = [(urn, iter(self._deps(urn)))]
        while stack:
            current, pending = stack[-1]
            dep = next((d for d in pending if d not in self._ancestors and d not in visiting), None)
            if dep is not None:  # (a cycle would be refused by the engine; it just stops here)
                visiting.add(dep)
                stack.append((dep, iter(self._deps(dep))))
                continue
            stack.pop()
            result: set[str] = set()
            for d in self._deps(current):
                result.add(d)
                result |= self._ancestors.get(d, frozenset())
            self._ancestors[current] = frozenset(result)
        return self._ancestors[urn]

    def _deps(self, urn: str) -> set[str]:
        r = self.by_urn.get(urn)
        return self.direct(r) if r else set()

    def after(self, r: PlannedResource, other: PlannedResource) -> bool:
        """True when the engine creates `r` only once `other` exists."""
        return other.urn in self.ancestors(r.urn)

    def of_type(self, *types: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type in types]

    @cached_property
    def custom(self) -> list[PlannedResource]:
        return [r for r in self.resources if r.custom]

    def missing_before(self, r: PlannedResource, needed: Iterable[PlannedResource]) -> list[PlannedResource]:
        return [n for n in needed if n is not r and not self.after(r, n)]
