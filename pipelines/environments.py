"""Environment settings: where an environment's datalake and warehouse live.

`local` is two DuckDB files under `$TOLTEK_HOME`; `dev` and `prd` are GCP projects whose ids and
BigQuery location come from the Pulumi stack config (`Pulumi.<env>.yaml`), or from the
`TOLTEK_*` variables the deployed jobs receive — never from code.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from pipelines import yaml_text
from pipelines.errors import UserError

REPO_ROOT = Path(__file__).resolve().parent.parent
NAMES = ("local", "dev", "prd")


def samples_dir() -> Path:
    """The sample data set the local environment serves: `$TOLTEK_SAMPLES` or the committed one."""
    from pipelines.samples import DATA_DIR

    return Path(os.environ.get("TOLTEK_SAMPLES") or DATA_DIR).resolve()


def toltek_home() -> Path:
    """`$TOLTEK_HOME`, defaulting to `.toltek/` at the repository root."""
    return Path(os.environ.get("TOLTEK_HOME") or REPO_ROOT / ".toltek").resolve()


# What a local sample data set holds: REST API records, spreadsheets, landed files.
SAMPLE_FOLDERS = ("api", "sheets", "files")


@dataclass(frozen=True)
class DuckDBStore:
    path: Path

    def describe(self) -> str:
        return f"duckdb:{self.path}"


@dataclass(frozen=True)
class BigQueryStore:
    project: str
    location: str

    def describe(self) -> str:
        return f"bigquery:{self.project} ({self.location})"


@dataclass(frozen=True)
class Environment:
    """One environment: its datalake (where pipelines load) and warehouse (where dbt builds)."""

    name: str
    datalake: DuckDBStore | BigQueryStore
    warehouse: DuckDBStore | BigQueryStore
    work_dir: Path
    samples: Path | None = None
    sample_url: str | None = None

    @property
    def is_local(self) -> bool:
        return isinstance(self.datalake, DuckDBStore)

    def with_sample_url(self, url: str) -> Environment:
        return replace(self, sample_url=url)

    def landing_url(self, prefix: str) -> str:
        """Where a file source reads `prefix`: the sample folder locally, the landing bucket in the cloud."""
        if self.is_local:
            return (self.require_samples() / "files" / prefix).as_uri()
        from pipelines.naming import landing_bucket

        return f"gs://{landing_bucket(self.name)}/{prefix}"

    def prepare(self) -> None:
        """Locally: create `$TOLTEK_HOME` (writable) and check the sample folder, failing in one line."""
        if not isinstance(self.datalake, DuckDBStore):
            return
        home = self.datalake.path.parent
        if "'" in str(home.absolute()):
            # dlt's DuckDB loader quotes its load files' paths in SQL without escaping them.
            raise UserError(f"TOLTEK_HOME {home.absolute()} holds a single quote ('), which dlt's DuckDB loads cannot read: choose a folder without one")
        try:
            home.mkdir(parents=True, exist_ok=True)
            self.work_dir.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=self.work_dir).close()
        except FileExistsError as exc:
            raise UserError(f"TOLTEK_HOME: {exc.filename} is a file, not a folder") from None
        except OSError as exc:
            raise UserError(f"TOLTEK_HOME {home} is not usable: {exc.strerror} ({exc.filename or home})") from None
        if self.samples is not None:
            rule = "TOLTEK_SAMPLES must name a folder holding api/, sheets/ and files/"
            if not self.samples.is_dir():
                what = "is a file" if self.samples.exists() else "not found"
                raise UserError(f"sample data folder {self.samples} {what} ({rule})")
            missing = [sub for sub in SAMPLE_FOLDERS if not (self.samples / sub).is_dir()]
            if missing:
                raise UserError(f"sample data folder {self.samples} lacks {', '.join(f'{m}/' for m in missing)} ({rule})")

    def require_samples(self) -> Path:
        if self.samples is None:
            raise UserError(f"environment '{self.name}' has no sample data")
        return self.samples

    def require_sample_url(self) -> str:
        if not self.sample_url:
            raise UserError("the local environment needs the sample server; run through `toltek run`")
        return self.sample_url


# Stack config key -> the variable a deployed job receives it as.
_CLOUD_SETTINGS = {
    "datalakeProject": "TOLTEK_DATALAKE_PROJECT",
    "warehouseProject": "TOLTEK_WAREHOUSE_PROJECT",
    "bigqueryLocation": "TOLTEK_BQ_LOCATION",
    "region": "TOLTEK_REGION",
}


def stack_config(stack: str, root: Path | None = None) -> dict[str, object]:
    """The `toltek:` keys of `Pulumi.<stack>.yaml`, without the namespace."""
    root = root or REPO_ROOT
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise UserError(f"stack config {path.name} not found in {root}")
    try:
        data = yaml_text.read(path) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path.name} is not valid YAML: {str(exc).splitlines()[0]}") from None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise UserError(f"{path.name} has no 'config:' mapping")
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("toltek:")}


_EXPECTED = {
    "datalakeProject": "a GCP project id",
    "warehouseProject": "a GCP project id",
    "bigqueryLocation": "EU, US or a region",
    "region": "a GCP region, e.g. europe-west1",
}


def _valid(key: str, value: str) -> bool:
    from pipelines.naming import LOCATIONS, PROJECT_ID, REGION

    if key == "bigqueryLocation":
        return value in LOCATIONS or bool(REGION.fullmatch(value))
    if key == "region":
        return bool(REGION.fullmatch(value))
    return bool(PROJECT_ID.fullmatch(value))


def _cloud_setting(env: str, key: str) -> str:
    """A stack setting: the job's variable when set, else `Pulumi.<env>.yaml`; checked as `toltek
    plan` checks it."""
    var = _CLOUD_SETTINGS[key]
    value: object = os.environ.get(var)
    where = var
    if not value:
        value, where = stack_config(env).get(key), f"Pulumi.{env}.yaml: 'toltek:{key}'"
        if not isinstance(value, str) or not value:
            raise UserError(f"{where} is missing (or set {var})")
    if not isinstance(value, str) or not _valid(key, value):
        raise UserError(f"{where} is {value!r}, expected {_EXPECTED[key]}")
    return value


def cloud_region(env: str) -> str:
    """The region of a cloud environment's jobs: `TOLTEK_REGION` in a job, else the stack config."""
    return _cloud_setting(env, "region")


def get(name: str) -> Environment:
    """Settings of environment `name`; an unknown name is a user error."""
    if name not in NAMES:
        raise UserError(f"unknown environment '{name}' (choose from: {', '.join(NAMES)})")
    home = toltek_home()
    if name == "local":
        return Environment(
            name="local",
            datalake=DuckDBStore(home / "datalake.duckdb"),
            warehouse=DuckDBStore(home / "warehouse.duckdb"),
            work_dir=home / "dlt",
            samples=samples_dir(),
        )
    location = _cloud_setting(name, "bigqueryLocation")
    datalake = BigQueryStore(_cloud_setting(name, "datalakeProject"), location)
    warehouse_project = (
        datalake.project if name == "dev" else _cloud_setting(name, "warehouseProject")
    )
    if name != "dev" and warehouse_project == datalake.project:
        raise UserError(f"the {name} warehouse project must differ from its datalake project ({datalake.project})")
    return Environment(
        name=name,
        datalake=datalake,
        warehouse=BigQueryStore(warehouse_project, location),
        work_dir=Path(os.environ.get("TOLTEK_WORK_DIR", "/tmp/toltek")) / "dlt",
    )
