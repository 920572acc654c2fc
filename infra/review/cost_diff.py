"""The monthly cost before and after, from the plans' own estimates.

A plan document may carry `"cost": {"currency": "EUR", "total_monthly": float, "pipelines":
{name: float}, "items": [...]}`. When both sides carry one in the same currency, the section is
the total and each pipeline's monthly cost on both sides and the difference; otherwise it says
which side has none, and no number is made up.
"""

from __future__ import annotations

from typing import Any


def _estimate(doc: dict[str, Any]) -> dict[str, Any] | None:
    cost = doc.get("cost")
    if isinstance(cost, dict) and isinstance(cost.get("total_monthly"), (int, float)):
        return cost
    return None


def _money(value: Any) -> float | None:
    return round(float(value), 2) if isinstance(value, (int, float)) else None


def _row(old: Any, new: Any) -> dict[str, float | None]:
    base, head = _money(old), _money(new)
    return {"base": base, "head": head, "delta": round((head or 0.0) - (base or 0.0), 2)}


def cost_section(base: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    """`{"note": why}` when there is nothing to compare; else currency, total and per pipeline
    (`base`/`head` null where a pipeline is on one side only)."""
    old, new = _estimate(base), _estimate(head)
    if old is None:
        return {"note": "no cost estimate in BASE"}
    if new is None:
        return {"note": "no cost estimate in this plan"}
    if old.get("currency") != new.get("currency"):
        return {"note": f"cost estimates in different currencies (BASE {old.get('currency')}, this plan {new.get('currency')})"}
    old_pipelines, new_pipelines = old.get("pipelines") or {}, new.get("pipelines") or {}
    return {
        "currency": new.get("currency"),
        "total_monthly": _row(old["total_monthly"], new["total_monthly"]),
        "pipelines": {
            name: _row(old_pipelines.get(name), new_pipelines.get(name))
            for name in sorted(old_pipelines.keys() | new_pipelines.keys())
        },
    }
