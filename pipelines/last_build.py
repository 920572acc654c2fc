"""What the last local transfer and `dbt build` ran on, and whether they succeeded.

A run that loaded no rows skips the transfer and dbt when the warehouse is already built from the
datalake as it is: the last build succeeded, the datalake has the same completed dlt loads (per
raw dataset: how many, and the newest load id), and the dbt project is unchanged (a digest of its
files). Anything else — no record, a failed or interrupted build, loads since (a run with
--skip-transform, a load by another process), an edited model — runs them. The record is
`$TOLTEK_HOME/dbt/last_build.json`; it is marked not built before the transform starts, so a run
killed half-way is not taken for a success. The incremental marts are rebuilt whole
(`--full-refresh`) when the project changed since the last successful build. In the cloud there
is no record: dbt always runs, incrementally.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pipelines.base import Pipeline
from pipelines.environments import REPO_ROOT, DuckDBStore, Environment, toltek_home

PROJECT_DIR = REPO_ROOT / "transform"
_NOT_PROJECT = {"target", "logs", "dbt_packages", ".user.yml"}


def record_path() -> Path:
    return toltek_home() / "dbt" / "last_build.json"


def project_digest(project: Path = PROJECT_DIR) -> str:
    """A digest of the dbt project's files (models, macros, seeds, tests, project and profiles)."""
    digest = hashlib.sha256()
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if path.is_file() and not _NOT_PROJECT.intersection(relative.parts):
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def datalake_loads(env: Environment, pipelines: list[type[Pipeline]]) -> dict[str, list] | None:
    """Completed dlt loads per raw dataset of the local datalake: [count, newest load id]. None in
    the cloud, or when the datalake or one of the datasets does not exist yet or cannot be read
    (the transfer then says why in one line)."""
    if not isinstance(env.datalake, DuckDBStore) or not env.datalake.path.exists():
        return None
    import duckdb

    loads: dict[str, list] = {}
    try:
        with duckdb.connect(str(env.datalake.path), read_only=True) as con:
            for dataset in sorted({p.dataset for p in pipelines}):
                query = f'select count(*), max(load_id) from "{dataset}"._dlt_loads where status = 0'
                loads[dataset] = list(con.execute(query).fetchone())
    except duckdb.Error:  # a dataset not loaded yet, a datalake locked by another process: unknown
        return None
    return loads


def read() -> dict:
    try:
        last = json.loads(record_path().read_text())
    except (OSError, ValueError):
        return {}
    return last if isinstance(last, dict) else {}


def _write(fields: dict) -> None:
    """Replace the record atomically."""
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(fields, indent=1) + "\n")
    os.replace(temporary, path)


def up_to_date(env: Environment, loads: dict[str, list] | None, project: str) -> bool:
    """True when the last build of `env` succeeded on these datalake loads and this project."""
    last = read()
    return loads is not None and last.get("target") == env.name and last.get("ok") is True and (last.get("loads"), last.get("built_project")) == (loads, project)


def needs_full_refresh(env: Environment, project: str) -> bool:
    """True unless the warehouse was last built successfully by this very project: incremental
    marts keep rows built by older model code, so a changed project rebuilds them whole (as does
    a warehouse without a record)."""
    if not env.is_local:
        return False
    last = read()
    return not (last.get("target") == env.name and last.get("built_project") == project)


def reloaded(env: Environment) -> None:
    """A pipeline was loaded from scratch (`--refresh`, or a refresh finished later): rows its
    source no longer gives are gone from its raw tables but not from the incremental marts, so
    the next build rebuilds them whole, whichever run it is."""
    if env.is_local:
        _write({**read(), "ok": False, "built_project": None})


def started(env: Environment) -> None:
    """Before the transfer: the warehouse is not known to be built any more."""
    if not env.is_local:
        return
    last = read()
    _write({"target": env.name, "ok": False, "built_project": last.get("built_project") if last.get("target") == env.name else None})


def finished(env: Environment, ok: bool, loads: dict[str, list] | None, project: str) -> None:
    """After dbt: on success, the warehouse is built from `loads` by `project`."""
    if ok and env.is_local:
        _write({"target": env.name, "ok": True, "loads": loads, "built_project": project})
