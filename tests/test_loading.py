"""Where a pipeline loads: the environment decides the dlt destination."""

from __future__ import annotations

from pipelines import environments
from pipelines.loading import destination


def test_local_loads_into_the_datalake_duckdb_file(toltek_home):
    dest = destination(environments.get("local"))
    assert dest.destination_type == "dlt.destinations.duckdb"
    assert dest.config_params["credentials"] == str(toltek_home / "datalake.duckdb")


def test_cloud_loads_into_bigquery_of_the_datalake_project(monkeypatch):
    for var in ("TOLTEK_DATALAKE_PROJECT", "TOLTEK_BQ_LOCATION"):
        monkeypatch.delenv(var, raising=False)
    dest = destination(environments.get("prd"))
    assert dest.destination_type == "dlt.destinations.bigquery"
    assert dest.config_params["location"] == "EU"
    assert dest.config_params["credentials"].project_id == "toltek-datalake-prd"
