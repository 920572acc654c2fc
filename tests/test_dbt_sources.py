"""dbt sources agree with the registry: one source per raw dataset, database by transfer mode."""

from __future__ import annotations

import yaml
from conftest import REPO_ROOT

READ_DATABASE = "{{ 'datalake' if target.type == 'duckdb' else env_var('TOLTEK_DATALAKE_PROJECT') }}"
COPY_DATABASE = "{{ target.database }}"


def dbt_sources():
    sources = {}
    for path in sorted((REPO_ROOT / "transform" / "models").rglob("*.yml")):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            sources[source["name"]] = source | {"file": str(path.relative_to(REPO_ROOT))}
    return sources


def test_every_registered_dataset_has_exactly_its_dbt_source(registry):
    sources = dbt_sources()
    local = {p.name: p for p in registry.all() if "local" in p.environments}
    assert sorted(sources) == sorted(local), "a dbt source per pipeline, named after it"
    for name, pipeline in local.items():
        source = sources[name]
        assert source["schema"] == pipeline.dataset, source["file"]
        expected = COPY_DATABASE if pipeline.transfer == "copy" else READ_DATABASE
        assert source["database"] == expected, source["file"]
        tables = {t["name"] for t in source["tables"]}
        assert "_dlt_loads" in tables, f"{source['file']}: staging filters on completed loads"
