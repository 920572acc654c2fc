"""Before `toltek run --env dev|prd` starts anything: the stack's settings (checked when the
environment is read, as `toltek plan` checks them), Google credentials, and a value for every
secret the selected pipelines declare. Each failure is one line and exit 2; nothing has run.

In a Cloud Run job the credentials are the job's service account (from the metadata server) and
each secret arrives as the variable dlt reads for its config key (mounted from Secret Manager).
"""

from __future__ import annotations

import os

from pipelines import naming
from pipelines.base import Pipeline
from pipelines.environments import Environment
from pipelines.errors import UserError


def check(env: Environment, pipelines: list[type[Pipeline]]) -> None:
    """Raise `UserError` for the first thing a cloud run would fail on before loading anything."""
    if env.is_local:
        return
    require_credentials()
    for pipeline in pipelines:
        for secret, key in sorted(pipeline.secrets.items()):
            if not _has_value(key):
                var = naming.env_var_for_config_key(key)
                raise UserError(
                    f"pipeline '{pipeline.name}' needs secret '{secret}' (config key {key}): set {var} "
                    f"or add {key} to .dlt/secrets.toml (the Cloud Run job mounts it from Secret Manager)"
                )


def require_credentials() -> None:
    """Application-default credentials must exist (they are not refreshed here: no network); the
    same one-line message as the operations commands give."""
    from pipelines.ops.clients import application_default, quiet_google_warnings

    quiet_google_warnings()
    application_default()


def _has_value(key: str) -> bool:
    if os.environ.get(naming.env_var_for_config_key(key)):
        return True
    import dlt

    try:
        return dlt.secrets.get(key) not in (None, "")
    except Exception:  # a malformed secrets.toml: dlt says so when the pipeline runs
        return False
