"""What registry-aware rules compare the stack against: the pipeline registry and the stack config.

At `pulumi preview --policy-pack infra/policy` the CLI hands the pack the stack's config
(`PULUMI_CONFIG`) and name (`PULUMI_STACK`); `toltek policy` sets the same variables offline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from infra.config import StackConfig, parse
from pipelines.base import Pipeline
from pipelines.errors import UserError

KEYS = ("datalakeProject", "warehouseProject", "region", "bigqueryLocation", "alertEmail")


@dataclass(frozen=True)
class StackContext:
    config: StackConfig
    pipelines: list[type[Pipeline]]


def stack_context() -> StackContext | None:
    """The context of the stack under analysis, or None when it is not a Toltek stack."""
    import pulumi

    stack = os.environ.get("PULUMI_STACK", "").rsplit("/", 1)[-1]
    raw = {key: pulumi.runtime.get_config(f"toltek:{key}") for key in KEYS}
    if not stack or raw["datalakeProject"] is None:
        return None
    try:
        config = parse(stack, raw)
    except UserError:
        return None
    from pipelines.registry import discover

    return StackContext(config, discover().select(None, config.env))
