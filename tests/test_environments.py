"""Environment settings: local DuckDB files, cloud projects from the stack config."""

from __future__ import annotations

import pytest

from pipelines import environments
from pipelines.environments import BigQueryStore, DuckDBStore
from pipelines.errors import UserError


def test_local_lives_under_toltek_home(toltek_home):
    env = environments.get("local")
    assert env.datalake == DuckDBStore(toltek_home / "datalake.duckdb")
    assert env.warehouse == DuckDBStore(toltek_home / "warehouse.duckdb")
    assert env.is_local


def test_toltek_home_defaults_to_dot_toltek_at_the_repository_root(monkeypatch):
    monkeypatch.delenv("TOLTEK_HOME", raising=False)
    assert environments.toltek_home() == environments.REPO_ROOT / ".toltek"


@pytest.mark.parametrize(
    ("name", "datalake", "warehouse"),
    [("dev", "toltek-datalake-dev", "toltek-datalake-dev"), ("prd", "toltek-datalake-prd", "toltek-dwh-prd")],
)
def test_cloud_projects_come_from_the_stack_config(monkeypatch, name, datalake, warehouse):
    for var in ("TOLTEK_DATALAKE_PROJECT", "TOLTEK_WAREHOUSE_PROJECT", "TOLTEK_BQ_LOCATION"):
        monkeypatch.delenv(var, raising=False)
    env = environments.get(name)
    assert env.datalake == BigQueryStore(datalake, "EU")
    assert env.warehouse == BigQueryStore(warehouse, "EU")
    assert not env.is_local


def test_a_deployed_job_reads_its_settings_from_variables(monkeypatch):
    monkeypatch.setenv("TOLTEK_DATALAKE_PROJECT", "acme-lake")
    monkeypatch.setenv("TOLTEK_BQ_LOCATION", "europe-west4")
    env = environments.get("prd")
    assert env.datalake == BigQueryStore("acme-lake", "europe-west4")


def test_unknown_environment_is_a_user_error():
    with pytest.raises(UserError, match=r"^unknown environment 'qa' \(choose from: local, dev, prd\)$"):
        environments.get("qa")


def test_missing_stack_setting_names_the_file_and_key(tmp_path, monkeypatch):
    (tmp_path / "Pulumi.prd.yaml").write_text("config:\n  toltek:bigqueryLocation: EU\n")
    monkeypatch.setattr(environments, "REPO_ROOT", tmp_path)
    monkeypatch.delenv("TOLTEK_DATALAKE_PROJECT", raising=False)
    with pytest.raises(UserError, match=r"Pulumi\.prd\.yaml: 'toltek:datalakeProject' is missing"):
        environments.get("prd")


def test_malformed_stack_config_is_one_clear_line(tmp_path):
    (tmp_path / "Pulumi.dev.yaml").write_text("config: [unclosed\n")
    with pytest.raises(UserError, match=r"^Pulumi\.dev\.yaml is not valid YAML: ") as caught:
        environments.stack_config("dev", tmp_path)
    assert "\n" not in str(caught.value)
    with pytest.raises(UserError, match="stack config Pulumi.qa.yaml not found"):
        environments.stack_config("qa", tmp_path)
