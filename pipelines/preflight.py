"""Before `toltek run` starts anything: locally, a sample value for every secret the selected
pipelines declare; with `--env dev|prd`, the stack's settings (checked when the environment is
read, as `toltek plan` checks them), Google credentials, and a value for every declared secret.
Each failure is one line and exit 2; nothing has run (and nothing heavy has been imported: an
error comes back at once).

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
    """Raise `UserError` for the first thing a run would fail on before loading anything."""
    if env.is_local:
        require_local_secrets(pipelines, env)
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


def require_local_secrets(pipelines: list[type[Pipeline]], env: Environment) -> None:
    """Locally every declared secret must have a sample value (the sample server's)."""
    if not env.is_local:
        return
    from pipelines.samples import SAMPLE_SECRETS

    for pipeline in pipelines:
        for secret in pipeline.secrets:
            if secret not in SAMPLE_SECRETS:
                raise UserError(f"pipeline '{pipeline.name}' needs secret '{secret}', which has no local sample value")


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
