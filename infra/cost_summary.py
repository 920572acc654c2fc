"""What a terminal shows of a cost estimate (`toltek plan`, `toltek pipelines --cost`): the totals,
the costliest pipelines, the price date and what the estimate leaves out."""

from __future__ import annotations

import textwrap

from infra.cost import EXCLUDES, Estimate


def money(amount: float) -> str:
    return f"{amount:,.2f}"


def shared_of(e: Estimate) -> str:
    """What the items of no single pipeline are, e.g. " (keys, images, the dbt job)"."""
    lines = {i.usage.line for i in e.items if i.usage.pipeline is None}
    jobs = {i.usage.resource for i in e.items if i.usage.pipeline is None and i.usage.line == "run_cpu"}
    parts = [
        *(["keys"] if "kms_key_versions" in lines else []),
        *(["images"] if "artifact_storage" in lines else []),
        *(["the " + ", ".join(sorted(jobs)) + " job" + ("s" if len(jobs) > 1 else "")] if jobs else []),
    ]
    return f" ({', '.join(parts)})" if parts else ""


def summary_lines(e: Estimate, most: int = 6) -> list[str]:
    """What a terminal shows of an estimate: the totals, the costliest pipelines, the price date
    and what the estimate leaves out, in lines of at most 100 characters."""
    c = e.prices.currency
    ranked = sorted(e.pipelines, key=lambda name: (-e.of_pipeline(name), name))
    split = ", ".join(f"{name} {money(e.of_pipeline(name))}" for name in ranked[:most])
    if len(ranked) > most:
        split += f", {len(ranked) - most} more (--json: cost.pipelines)"
    left_out = "; ".join(x.split(":", 1)[0] for x in EXCLUDES)
    return [
        f"monthly cost estimate, stack {e.stack}: {money(e.total)} {c}; upper bound {money(e.upper)} "
        "(every run its full timeout, every retry)",
        *textwrap.wrap(f"per pipeline: {split or 'none'}; shared{shared_of(e)}: {money(e.shared)}", 98, initial_indent="  ", subsequent_indent="    "),
        *textwrap.wrap(
            f"list prices of {e.prices.taken} (infra/{e.prices.path.name}); an estimate, leaving out: {left_out}",
            98, initial_indent="  ", subsequent_indent="    ",
        ),
    ]
