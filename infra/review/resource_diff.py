"""Resources added, removed and changed between two plan documents, keyed by URN.

A URN holds the stack, the parent components' types, the resource's type and its name: what
Pulumi itself matches resources by. A resource whose URN is on one side only is added or removed
(moving it to another parent is both, as it is for Pulumi without an alias). For a resource on
both sides, each input that differs is one `Change` at its property path:
`template.template.containers[0].args`, `labels.env`, `conditions[0]["display-name"]`.

- Lists are aligned by their elements (`difflib`, numbers aside), so an element inserted at the
  front is one addition, not a change of every element after it, and an element that only moved
  (a dashboard tile's `yPos`) is that number changed. A removed element is named by its index in
  BASE, every other by its index in the new plan.
- A string input holding a JSON object or array on both sides (a dashboard, an IAM policy) is
  compared as JSON: `dashboardJson(json).mosaicLayout.tiles[13]`.
- Secret values are "[secret]" in both documents and stay so here: a change between two secret
  values cannot be seen, a value becoming secret shows as a change to "[secret]".
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Change:
    """One property of a resource: `added` (no old value), `removed` (no new one) or `changed`."""

    path: str
    kind: str
    old: Any = MISSING
    new: Any = MISSING

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "kind": self.kind}
        if self.old is not MISSING:
            out["old"] = self.old
        if self.new is not MISSING:
            out["new"] = self.new
        return out


@dataclass
class ResourceChange:
    resource: dict[str, Any]  # the head document's entry
    changes: list[Change] = field(default_factory=list)


@dataclass
class ResourceDiff:
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[ResourceChange] = field(default_factory=list)

    def counts(self) -> tuple[int, int, int]:
        """(added, removed, changed), counting resources, not components."""
        return (
            sum(1 for r in self.added if r.get("custom", True)),
            sum(1 for r in self.removed if r.get("custom", True)),
            sum(1 for c in self.changed if c.resource.get("custom", True)),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": [summary(r) for r in self.added],
            "removed": [summary(r) for r in self.removed],
            "changed": [{**summary(c.resource), "changes": [ch.as_dict() for ch in c.changes]} for c in self.changed],
        }


def summary(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource as the diff names it (no inputs)."""
    return {k: resource.get(k) for k in ("urn", "type", "name", "parent", "project")}


def _order(resource: dict[str, Any]) -> tuple:
    return (resource.get("project") or "", resource["type"], resource["name"], resource["urn"])


def diff_resources(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> ResourceDiff:
    """What changes from the resources of `base` to those of `head`."""
    old = {r["urn"]: r for r in base}
    new = {r["urn"]: r for r in head}
    out = ResourceDiff(
        added=sorted((r for urn, r in new.items() if urn not in old), key=_order),
        removed=sorted((r for urn, r in old.items() if urn not in new), key=_order),
    )
    for urn in sorted(new.keys() & old.keys(), key=lambda u: _order(new[u])):
        changes = property_changes(old[urn].get("inputs", {}), new[urn].get("inputs", {}))
        if bool(old[urn].get("protect")) != bool(new[urn].get("protect")):
            changes.append(Change("(protect)", "changed", bool(old[urn].get("protect")), bool(new[urn].get("protect"))))
        if changes:
            out.changed.append(ResourceChange(new[urn], changes))
    return out


def _key_path(path: str, key: str) -> str:
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _as_json(value: Any) -> Any:
    """The object or array a string holds, else MISSING."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return MISSING
    return MISSING


def property_changes(old: Any, new: Any, path: str = "") -> list[Change]:
    """Every difference between two input values, at its property path."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[Change] = []
        for key in sorted(old.keys() | new.keys()):
            where = _key_path(path, key)
            if key not in new:
                out.append(Change(where, "removed", old=old[key]))
            elif key not in old:
                out.append(Change(where, "added", new=new[key]))
            else:
                out += property_changes(old[key], new[key], where)
        return out
    if isinstance(old, list) and isinstance(new, list):
        return _list_changes(old, new, path)
    old_json, new_json = _as_json(old), _as_json(new)
    if old_json is not MISSING and new_json is not MISSING:
        return property_changes(old_json, new_json, f"{path}(json)")
    return [Change(path or "(inputs)", "changed", old, new)]


def _shape(value: Any) -> Any:
    """`value` with its numbers zeroed: elements that differ only in numbers (a dashboard tile
    moved down a row) are the same element changed, not one removed and another added."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return 0
    return value


def _list_changes(old: list[Any], new: list[Any], path: str) -> list[Change]:
    keys = lambda items: [json.dumps(_shape(i), sort_keys=True) for i in items]  # noqa: E731
    matcher = difflib.SequenceMatcher(None, keys(old), keys(new), autojunk=False)
    out: list[Change] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        paired = i2 - i1 if op == "equal" else min(i2 - i1, j2 - j1) if op == "replace" else 0
        for k in range(paired):
            out += property_changes(old[i1 + k], new[j1 + k], f"{path}[{j1 + k}]")
        for k in range(i1 + paired, i2):
            out.append(Change(f"{path}[{k}]", "removed", old=old[k]))
        for k in range(j1 + paired, j2):
            out.append(Change(f"{path}[{k}]", "added", new=new[k]))
    return out
