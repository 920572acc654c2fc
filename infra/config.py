"""Typed, validated stack config (`Pulumi.<stack>.yaml`, namespace `toltek`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pipelines.errors import UserError

from pipelines.naming import LOCATIONS, PROJECT_ID, REGION

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
CURRENCY = re.compile(r"[A-Z]{3}")
STACKS = ("dev", "prd")
# The currency of the stack's cost estimate when `toltek:currency` is not set.
DEFAULT_CURRENCY = "USD"


class ConfigError(UserError):
    """The stack config is missing or malformed; the message names the file and key."""


@dataclass(frozen=True)
class StackConfig:
    stack: str
    datalake_project: str
    region: str
    bigquery_location: str
    alert_email: str
    warehouse_project: str | None = None
    currency: str = DEFAULT_CURRENCY  # of the cost estimate (`toltek:currency`); the prices must be in it

    @property
    def env(self) -> str:
        return self.stack

    @property
    def has_warehouse(self) -> bool:
        return self.warehouse_project is not None


def parse(stack: str, raw: Mapping[str, object]) -> StackConfig:
    """Validate the `toltek:` keys of a stack (namespace already stripped)."""
    where = f"Pulumi.{stack}.yaml"
    if stack not in STACKS:
        raise ConfigError(f"unknown stack '{stack}' (choose from: {', '.join(STACKS)})")

    def get(key: str, pattern: re.Pattern[str] | None, what: str, required: bool = True) -> str | None:
        value = raw.get(key)
        if value is None or value == "":
            if required:
                raise ConfigError(f"{where}: 'toltek:{key}' is missing ({what})")
            return None
        if not isinstance(value, str) or (pattern and not pattern.fullmatch(value)):
            raise ConfigError(f"{where}: 'toltek:{key}' is {value!r}, expected {what}")
        return value

    location = get("bigqueryLocation", None, "a BigQuery multi-region or region, e.g. EU")
    if location not in LOCATIONS and not REGION.fullmatch(str(location)):
        raise ConfigError(f"{where}: 'toltek:bigqueryLocation' is {location!r}, expected EU, US or a region")
    config = StackConfig(
        stack=stack,
        datalake_project=get("datalakeProject", PROJECT_ID, "a GCP project id"),  # type: ignore[arg-type]
        region=get("region", REGION, "a GCP region, e.g. europe-west1"),  # type: ignore[arg-type]
        bigquery_location=location,  # type: ignore[arg-type]
        alert_email=get("alertEmail", EMAIL, "an e-mail address"),  # type: ignore[arg-type]
        warehouse_project=get("warehouseProject", PROJECT_ID, "a GCP project id", required=stack == "prd"),
        currency=get("currency", CURRENCY, "an ISO 4217 currency code, e.g. USD", required=False) or DEFAULT_CURRENCY,
    )
    if stack == "dev" and config.warehouse_project:
        raise ConfigError(f"{where}: 'toltek:warehouseProject' is set, but the dev stack has no warehouse project")
    if config.warehouse_project == config.datalake_project:
        raise ConfigError(f"{where}: 'toltek:warehouseProject' must differ from 'toltek:datalakeProject'")
    return config


def from_pulumi() -> StackConfig:
    """The current stack's config, read through Pulumi (the program's entry point)."""
    import pulumi

    namespace = pulumi.Config("toltek")
    keys = ("datalakeProject", "warehouseProject", "region", "bigqueryLocation", "alertEmail", "currency")
    return parse(pulumi.get_stack(), {key: namespace.get(key) for key in keys})
