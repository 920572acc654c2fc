"""The freshness of each dbt source, written from the registry into the dbt project.

Each pipeline's dbt source (`transform/models/staging/<name>/_<name>__sources.yml`) lists dlt's
load ledger `_dlt_loads`. Its `loaded_at_field` is the ledger's `inserted_at` (when dlt committed
a load) and its `freshness` block, with `filter: status = 0` (completed loads only), holds the
thresholds `pipelines.freshness` derives from the pipeline's schedule. So `dbt source freshness`
asks one question per source: how long ago did this pipeline last complete a load?

`toltek dbt-sources` rewrites those entries after a schedule changes; `--check` (and a test) fails
when a file has drifted from the registry. Everything else in the files is the team's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from pipelines import freshness, yaml_text
from pipelines.base import Pipeline
from pipelines.environments import REPO_ROOT
from pipelines.errors import UserError

STAGING_DIR = REPO_ROOT / "transform" / "models" / "staging"
LEDGER = "_dlt_loads"
LEDGER_DESCRIPTION = "dlt's load ledger; status 0 marks a completed load. Freshness: written by `toltek dbt-sources` from the pipeline's schedule."


def feeding_the_warehouse(pipelines: list[type[Pipeline]]) -> list[type[Pipeline]]:
    """Pipelines with a dbt source: those that run locally or in prd (dev has no warehouse)."""
    return [p for p in pipelines if {"local", "prd"} & set(p.environments)]


def sources_file(pipeline: type[Pipeline], staging: Path = STAGING_DIR) -> Path:
    return staging / pipeline.name / f"_{pipeline.name}__sources.yml"


def ledger_entry(pipeline: type[Pipeline]) -> dict[str, object]:
    """The `_dlt_loads` table entry of the pipeline's dbt source."""
    block: dict[str, object] = dict(freshness.of(pipeline).as_dbt())
    block["filter"] = "status = 0"
    return {"name": LEDGER, "description": LEDGER_DESCRIPTION, "loaded_at_field": "inserted_at", "freshness": block}


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, and no line folding: the files stay as a person writes them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if "'" in value or "{" in value else None  # Jinja and apostrophes read best double-quoted
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump(data: object) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=10_000, allow_unicode=True)


@dataclass(frozen=True)
class Drift:
    pipeline: str
    path: Path
    problem: str


def _load(path: Path) -> dict:
    try:
        data = yaml_text.read(path)
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping with 'sources:'")
    return data


def _source(data: dict, name: str) -> dict | None:
    return next((s for s in data.get("sources") or [] if isinstance(s, dict) and s.get("name") == name), None)


def drift(pipelines: list[type[Pipeline]], staging: Path = STAGING_DIR) -> list[Drift]:
    """Sources whose ledger entry differs from what the registry derives (or that are missing)."""
    found = []
    for pipeline in pipelines:
        path = sources_file(pipeline, staging)
        if not path.exists():
            found.append(Drift(pipeline.name, path, "no dbt sources file"))
            continue
        source = _source(_load(path), pipeline.name)
        if source is None:
            found.append(Drift(pipeline.name, path, f"no source named '{pipeline.name}'"))
            continue
        tables = [t for t in source.get("tables") or [] if isinstance(t, dict) and t.get("name") == LEDGER]
        want = ledger_entry(pipeline)
        if not tables:
            found.append(Drift(pipeline.name, path, f"no '{LEDGER}' table"))
        elif {k: tables[0].get(k) for k in want} != want:
            got = tables[0].get("freshness")
            found.append(Drift(pipeline.name, path, f"freshness {got!r} differs from the schedule's {want['freshness']!r}"))
    return found


def write(pipelines: list[type[Pipeline]], staging: Path = STAGING_DIR) -> list[Path]:
    """Rewrite the ledger entry of every drifted source file; return the files written. A
    missing file or source is an error (`toltek new` writes them)."""
    written = []
    for item in drift(pipelines, staging):
        pipeline = next(p for p in pipelines if p.name == item.pipeline)
        if not item.path.exists() or item.problem.startswith("no source"):
            raise UserError(f"{item.path}: {item.problem}; add the pipeline's dbt source first")
        data = _load(item.path)
        source = _source(data, pipeline.name)
        assert source is not None
        tables = source.setdefault("tables", [])
        entry = ledger_entry(pipeline)
        index = next((i for i, t in enumerate(tables) if isinstance(t, dict) and t.get("name") == LEDGER), None)
        if index is None:
            tables.append(entry)
        else:
            tables[index] = {**tables[index], **entry}
        item.path.write_text(dump(data))
        written.append(item.path)
    return written
