"""The `Pipeline` base class: one subclass per pipeline, and subclassing registers it.

Everything else is derived from these declarations: the local run, the dbt sources, and the
cloud infrastructure (service account, Cloud Run job, schedule, IAM, alert).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Literal

from pipelines import freshness, naming
from pipelines.declarations import Resources, Schedule
from pipelines.errors import DeclarationError

if TYPE_CHECKING:
    from dlt.sources import DltSource

    from pipelines.environments import Environment

ENVIRONMENTS = ("local", "dev", "prd")
TRANSFERS = ("read", "copy")
MAX_NAME_LENGTH = 24
# Time a scheduled execution is allowed to take to start (container start, image pull) when
# checking that one execution ends before the next scheduled one begins.
START_MARGIN_SECONDS = 60
SPREADSHEET_ID = re.compile(r"[A-Za-z0-9_-]{20,100}")


class Pipeline:
    """Base class of every pipeline. Subclass it in a module of the `pipelines` package.

    Declare as class attributes:

    - ``name``: lowercase snake case, unique, at most 24 characters;
    - a docstring: the pipeline's description;
    - ``schedule``: a `Schedule` (cron and time zone);
    - ``dataset``: the raw dataset it loads (BigQuery dataset / DuckDB schema);
    - ``secrets``: Secret Manager secret name -> the dlt config key its value fills;
    - ``resources``: a `Resources` (cpu, memory, timeout, retries, and ``typical_seconds``: how long
      a run typically takes, at most the timeout, by default a quarter of it; the monthly cost
      estimate of `toltek plan` and `toltek pipelines --cost` multiplies it by the runs its schedule
      makes, and its upper bound takes every run's timeout on every retry);
    - ``environments``: where it runs, a subset of local, dev, prd;
    - ``transfer``: how the prd warehouse reaches its raw dataset: ``read`` in place through a
      dataset-level grant (default) or ``copy`` (a BigQuery Data Transfer Service copy into a
      dataset of the same name in the warehouse project);
    - ``landing_prefix``: for file sources, the folder of the datalake's landing bucket it reads
      (grants it read access to the objects under that folder only, by an IAM condition);
    - ``google_sheets``: ids of the Google Sheets it reads in the cloud with its own account (each
      must be shared with that account, read-only: the first-deploy checklist lists them);

    - ``stale_after_runs``: (warn, error): how many scheduled intervals may pass without a completed
      load before the source's data is stale (default (2, 4)); the dbt job skips the models of an
      error-stale source, and its freshness alert fires (see `pipelines.freshness`);

    - ``write_dispositions``: allowed write dispositions (default merge, replace: see crash safety);
    - ``allow_empty_replace``: let a ``replace`` resource that yields no rows empty its table (by
      default such a load is refused: an empty source is far more often an accident);
    - ``max_replace_loss``: also refuse a ``replace`` that loses more than this fraction of a
      table's rows (e.g. 0.5; default: only emptying is refused);
    - ``schema_contract``: dlt schema contract (default: evolve tables and columns, freeze types);

    and implement ``source(env)`` returning the dlt source for an environment.
    """

    name: ClassVar[str]
    schedule: ClassVar[Schedule]
    dataset: ClassVar[str]
    secrets: ClassVar[Mapping[str, str]] = {}
    resources: ClassVar[Resources] = Resources()
    environments: ClassVar[tuple[str, ...]] = ENVIRONMENTS
    transfer: ClassVar[Literal["read", "copy"]] = "read"
    landing_prefix: ClassVar[str | None] = None
    google_sheets: ClassVar[tuple[str, ...]] = ()
    allow_empty_replace: ClassVar[bool] = False
    stale_after_runs: ClassVar[tuple[int, int]] = (2, 4)
    max_replace_loss: ClassVar[float | None] = None
    # Crash safety: a load killed half-way and retried on a fresh container must not double rows,
    # so resources merge on a key or replace; `append` must be opted into deliberately.
    write_dispositions: ClassVar[tuple[str, ...]] = ("merge", "replace")
    # New tables and columns evolve the raw schema; a value of another type fails the run instead
    # of silently landing in a variant column.
    schema_contract: ClassVar[dict[str, str]] = {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        validate(cls)
        from pipelines.registry import REGISTRY

        REGISTRY.add(cls)

    @classmethod
    def description(cls) -> str:
        """The class's own docstring (never inherited)."""
        doc = vars(cls).get("__doc__")
        return inspect.cleandoc(doc) if isinstance(doc, str) else ""

    @classmethod
    def summary(cls) -> str:
        """First line of the description."""
        return cls.description().splitlines()[0] if cls.description() else ""

    def source(self, env: Environment) -> DltSource:
        """The dlt source this pipeline loads in `env`."""
        raise NotImplementedError

    @classmethod
    def as_dict(cls) -> dict[str, object]:
        """The declaration as plain data (for `toltek pipelines --json`)."""
        return {
            "name": cls.name,
            "description": cls.summary(),
            "schedule": {"cron": cls.schedule.cron, "time_zone": cls.schedule.time_zone},
            "dataset": cls.dataset,
            "secrets": [{"secret": s, "config_key": k} for s, k in sorted(cls.secrets.items())],
            "resources": {
                "cpu": cls.resources.cpu,
                "memory": cls.resources.memory,
                "timeout_seconds": cls.resources.timeout_seconds,
                "max_retries": cls.resources.max_retries,
                "typical_seconds": cls.resources.typical_execution_seconds,
            },
            "environments": list(cls.environments),
            "transfer": cls.transfer,
            "landing_prefix": cls.landing_prefix,
            "google_sheets": list(cls.google_sheets),
            "stale_after_runs": list(cls.stale_after_runs),
        }


def validate(cls: type[Pipeline]) -> None:
    """Raise `DeclarationError` naming the class and field of the first bad declaration."""

    def fail(field: str, problem: str) -> None:
        raise DeclarationError(cls.__name__, field, problem, where=_where(cls))

    for field in ("name", "schedule", "dataset"):
        if field not in _declared(cls):
            fail(field, "is required")

    name = cls.name
    if not isinstance(name, str) or not naming.PIPELINE_NAME.fullmatch(name):
        fail("name", f"{name!r} must be lowercase snake case (letters and digits, words joined by single underscores)")
    if name in naming.RESERVED_NAMES:
        fail("name", f"'{name}' is reserved (the dbt job's name, or a word YAML or Python reads as a constant)")
    if len(name) > MAX_NAME_LENGTH:
        fail("name", f"'{name}' is {len(name)} characters; at most {MAX_NAME_LENGTH} fit every id derived from it")
    for problem in naming.derived_id_problems(name):
        fail("name", problem)

    if not cls.description().strip():
        fail("__doc__", "a docstring describing the pipeline is required")

    if not isinstance(cls.schedule, Schedule):
        fail("schedule", "must be a Schedule(cron, time_zone)")
    for problem in cls.schedule.problems():
        fail("schedule", problem)

    if not isinstance(cls.dataset, str) or not naming.DATASET_ID.fullmatch(cls.dataset):
        shown = cls.dataset[:40] + "..." if isinstance(cls.dataset, str) and len(cls.dataset) > 43 else cls.dataset
        fail(
            "dataset",
            f"{shown!r} must be lowercase letters and digits, words joined by single underscores, "
            "at most 1016 (its _staging dataset: BigQuery's 1024)",
        )

    if not isinstance(cls.secrets, Mapping):
        fail("secrets", "must map Secret Manager secret names to dlt config keys")
    for secret, key in cls.secrets.items():
        if not isinstance(secret, str) or not naming.SECRET_ID.fullmatch(secret):
            fail("secrets", f"{secret!r} is not a valid Secret Manager secret name")
        if not isinstance(key, str) or not naming.CONFIG_KEY.fullmatch(key):
            fail("secrets", f"config key {key!r} for '{secret}' must look like sources.<name>.<key>")

    if not isinstance(cls.resources, Resources):
        fail("resources", "must be a Resources(cpu, memory, timeout_seconds, max_retries, typical_seconds)")
    for problem in cls.resources.problems():
        fail("resources", problem)
    gap, longest = cls.schedule.shortest_gap_seconds(), cls.resources.longest_execution_seconds
    if longest + START_MARGIN_SECONDS > gap:
        fail(
            "resources",
            f"an execution may take {longest} s (timeout x (1 + retries)) but runs may start {gap:.0f} s apart: "
            f"they could overlap (allowing {START_MARGIN_SECONDS} s to start); lower the timeout or retries, or run less often",
        )

    envs = cls.environments
    if isinstance(envs, str) or not envs or any(e not in ENVIRONMENTS for e in envs):
        fail("environments", f"{envs!r} must be a non-empty tuple drawn from {', '.join(ENVIRONMENTS)}")

    if cls.transfer not in TRANSFERS:
        fail("transfer", f"{cls.transfer!r} must be one of {', '.join(TRANSFERS)}")

    prefix = cls.landing_prefix
    if prefix is not None and (not isinstance(prefix, str) or not naming.LANDING_PREFIX.fullmatch(prefix)):
        fail("landing_prefix", f"{prefix!r} must be a folder name: lowercase letters, digits, '_', '-', '/'")

    sheets = cls.google_sheets
    if isinstance(sheets, str) or not isinstance(sheets, tuple) or not all(isinstance(s, str) and SPREADSHEET_ID.fullmatch(s) for s in sheets):
        fail("google_sheets", f"{sheets!r} must be a tuple of spreadsheet ids (the part of the sheet's URL after /d/)")

    runs = cls.stale_after_runs
    if (
        not isinstance(runs, tuple)
        or len(runs) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 100 for n in runs)
        or runs[0] > runs[1]
    ):
        fail("stale_after_runs", f"{runs!r} must be (warn, error): whole numbers of scheduled intervals, 1..100, warn <= error")
    error_age = freshness.of(cls).error_after_seconds
    if error_age > freshness.MAX_ERROR_AGE_SECONDS:
        fail(
            "stale_after_runs",
            f"its data would count as stale only after {freshness.describe(error_age)} ({runs[1]} x the schedule's longest gap of "
            f"{freshness.describe(cls.schedule.longest_gap_seconds())}), longer than the 2 years a freshness alert can watch: "
            "lower the error runs or schedule it more often",
        )

    if not isinstance(cls.allow_empty_replace, bool):
        fail("allow_empty_replace", f"{cls.allow_empty_replace!r} must be True or False")
    loss = cls.max_replace_loss
    if loss is not None and (isinstance(loss, bool) or not isinstance(loss, int | float) or not 0 < loss < 1):
        fail("max_replace_loss", f"{loss!r} must be a fraction between 0 and 1 (or None)")

    allowed = {"merge", "replace", "append", "skip"}
    if isinstance(cls.write_dispositions, str) or not set(cls.write_dispositions) <= allowed or not cls.write_dispositions:
        fail("write_dispositions", f"{cls.write_dispositions!r} must be a tuple drawn from {', '.join(sorted(allowed))}")
    contract_modes = {"evolve", "discard_value", "discard_row", "freeze"}
    contract = cls.schema_contract
    if not isinstance(contract, dict) or not set(contract) <= {"tables", "columns", "data_type"} or not set(contract.values()) <= contract_modes:
        fail("schema_contract", f"{contract!r} must map tables/columns/data_type to one of {', '.join(sorted(contract_modes))}")

    if cls.source is Pipeline.source:
        fail("source", "must be implemented: return the dlt source for an environment")


def _where(cls: type) -> str | None:
    """`file:line` of the class statement, relative to the working directory when inside it."""
    from pathlib import Path

    try:
        path = Path(inspect.getsourcefile(cls) or "")
        line = inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return None
    try:
        shown = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        shown = path
    return f"{shown}:{line}"


def _declared(cls: type) -> set[str]:
    """Attribute names declared by `cls` or a base class below `Pipeline`."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is Pipeline:
            break
        names.update(vars(klass))
    return names
