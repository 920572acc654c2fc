"""Names of everything derived from a pipeline declaration.

Pure functions: the pipeline registry validates a declaration by deriving every GCP resource id
from it and checking each against that service's rules, and the infrastructure uses the very same
functions, so a name that validates here is a name that deploys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words joined by single underscores: dlt normalizes a dataset's name (its snake case turns `__`
# into `_` and a trailing `_` into `x`), so `raw_a__b` would load into `raw_a_b`, a dataset no
# grant, dbt source or plan names.
PIPELINE_NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
# BigQuery dataset ids are at most 1,024 characters; a raw dataset also names its `<id>_staging`.
DATASET_ID = re.compile(r"^(?=.{1,1016}$)[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
# Names no pipeline may take: the transform's own job (`toltek-dbt-<env>`, `toltek trigger dbt`),
# and words YAML reads as something other than text (a dbt source `name: null` has no name) or
# whose class name is a Python constant (`class None`).
RESERVED_NAMES = frozenset({"dbt", "null", "true", "false", "yes", "no", "on", "off", "none"})
SECRET_ID = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
CONFIG_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
LANDING_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")


@dataclass(frozen=True)
class IdRule:
    """A GCP resource id rule: a pattern plus a human description for error messages."""

    what: str
    pattern: re.Pattern[str]
    description: str

    def check(self, value: str) -> str | None:
        """Return a problem description, or None when `value` is a valid id."""
        if self.pattern.fullmatch(value):
            return None
        return f"derived {self.what} '{value}' is invalid ({self.description})"


# https://cloud.google.com/iam/docs/service-accounts-create#creating
SERVICE_ACCOUNT_ID = IdRule(
    "service account id",
    re.compile(r"[a-z][-a-z0-9]{4,28}[a-z0-9]"),
    "6-30 characters: lowercase letters, digits, hyphens",
)
# Cloud Run resource names: lowercase letters, digits, hyphens; at most 49 characters for the
# revision-suffixed names Cloud Run derives from them.
CLOUD_RUN_JOB = IdRule(
    "Cloud Run job name",
    re.compile(r"[a-z]([-a-z0-9]{0,47}[a-z0-9])?"),
    "at most 49 characters: lowercase letters, digits, hyphens",
)
SCHEDULER_JOB = IdRule(
    "Cloud Scheduler job name",
    re.compile(r"[a-zA-Z0-9_-]{1,500}"),
    "letters, digits, hyphens, underscores",
)


# A folder of a pipeline's dlt working dir where its source may write temporary files (the files
# source's load files before dlt imports them); the runner empties it before every extract.
SCRATCH_DIR = "scratch"


def slug(pipeline_name: str) -> str:
    """The pipeline name as GCP resource names spell it (hyphens, not underscores)."""
    return pipeline_name.replace("_", "-")


def service_account_id(pipeline_name: str) -> str:
    """Account id of the pipeline's own service account (one per datalake project)."""
    return f"pl-{slug(pipeline_name)}"


# Stack settings, checked the same way by `toltek plan` (infra/config.py) and by `toltek run --env`.
PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]$")
LOCATIONS = {"EU", "US"}


def job_name(pipeline_name: str, env: str) -> str:
    """Cloud Run job that runs the pipeline: `toltek-{resource}-{env}`."""
    return f"toltek-{slug(pipeline_name)}-{env}"


def scheduler_job_name(pipeline_name: str, env: str) -> str:
    """Cloud Scheduler job that starts the pipeline's Cloud Run job."""
    return f"toltek-{slug(pipeline_name)}-{env}"


# Datasets the platform itself owns: the warehouse's layers and dbt's dev target. No pipeline may
# claim one as its raw dataset (nor as the staging dataset derived from it).
WAREHOUSE_DATASETS = ("staging", "marts")
DEV_DBT_DATASET = "dbt_dev"
RESERVED_DATASETS = (*WAREHOUSE_DATASETS, DEV_DBT_DATASET)


def staging_dataset(dataset: str) -> str:
    """The dataset dlt stages `merge` loads in before merging into `dataset`."""
    return f"{dataset}_staging"


def written_datasets(dataset: str) -> tuple[str, str]:
    """Every dataset a pipeline declaring `dataset` writes: the raw one and its merge staging."""
    return dataset, staging_dataset(dataset)


def landing_bucket(env: str) -> str:
    """The datalake's landing bucket, where file sources' files arrive."""
    return f"toltek-landing-{env}"


def dlt_pipeline_name(pipeline_name: str) -> str:
    """Name of the dlt pipeline (its working directory and state key)."""
    return f"toltek_{pipeline_name}"


def env_var_for_config_key(key: str) -> str:
    """The environment variable dlt reads for a config key: `a.b.c` -> `A__B__C`."""
    return "__".join(part.upper() for part in key.split("."))


def derived_id_problems(pipeline_name: str) -> list[str]:
    """Every problem with the GCP ids derived from `pipeline_name`, in every environment."""
    checks = [(SERVICE_ACCOUNT_ID, service_account_id(pipeline_name))]
    for env in ("dev", "prd"):
        checks.append((CLOUD_RUN_JOB, job_name(pipeline_name, env)))
        checks.append((SCHEDULER_JOB, scheduler_job_name(pipeline_name, env)))
    problems = []
    for rule, value in checks:
        problem = rule.check(value)
        if problem and problem not in problems:
            problems.append(problem)
    return problems
