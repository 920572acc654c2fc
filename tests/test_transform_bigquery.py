"""The dbt project compiles for the BigQuery targets, offline (dummy key, no connection).

Incremental models ask the warehouse whether they exist (`is_incremental()`), which needs a
connection: their configuration is checked in the manifest instead of compiled SQL."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SETTINGS = {
    "dev": {"TOLTEK_DATALAKE_PROJECT": "toltek-datalake-dev", "TOLTEK_WAREHOUSE_PROJECT": "toltek-datalake-dev"},
    "prd": {"TOLTEK_DATALAKE_PROJECT": "toltek-datalake-prd", "TOLTEK_WAREHOUSE_PROJECT": "toltek-dwh-prd"},
}


@pytest.fixture(scope="module")
def offline_profiles(tmp_path_factory) -> Path:
    """The project's profiles with a throwaway service-account key in place of OAuth."""
    folder = tmp_path_factory.mktemp("profiles")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    keyfile = folder / "key.json"
    keyfile.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "offline",
                "private_key_id": "offline",
                "private_key": pem.decode(),
                "client_email": "dbt@offline.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    profiles = yaml.safe_load((REPO_ROOT / "transform" / "profiles.yml").read_text())
    for name in ("dev", "prd"):
        output = profiles["toltek"]["outputs"][name]
        assert output["type"] == "bigquery" and output["method"] == "oauth"
        output.update(method="service-account", keyfile=str(keyfile))
    (folder / "profiles.yml").write_text(yaml.safe_dump(profiles))
    return folder


@pytest.mark.parametrize("target", ["dev", "prd"])
def test_project_compiles_for_bigquery(target, offline_profiles, tmp_path, monkeypatch):
    # In-process, through dbt's programmatic runner (what `toltek` uses): the same compile as the
    # `dbt` command, without paying dbt's import in a new process per target.
    from dbt.cli.main import dbtRunner

    for name, value in {**SETTINGS[target], "TOLTEK_BQ_LOCATION": "EU"}.items():
        monkeypatch.setenv(name, value)
    done = dbtRunner().invoke(
        ["compile", "--target", target, "--profiles-dir", str(offline_profiles),
         "--project-dir", str(REPO_ROOT / "transform"), "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs"), "--no-populate-cache", "--quiet", "--exclude", "config.materialized:incremental"],
    )
    assert done.success, done.exception
    compiled = tmp_path / "target" / "compiled" / "toltek" / "models"
    shipments = " ".join((compiled / "staging" / "shop_files" / "stg_shop_files__shipments.sql").read_text().split())
    # The newest delivered version of a shipment wins on BigQuery as on DuckDB (same SQL).
    assert "qualify row_number() over (partition by shipment_id order by _file_modified_at desc nulls last, _file_name desc nulls last) = 1" in shipments
    staging = (compiled / "staging" / "shop_api" / "stg_shop_api__orders.sql").read_text()
    lake = SETTINGS[target]["TOLTEK_DATALAKE_PROJECT"]
    assert f"`{lake}`.`raw_shop_api`.`orders`" in staging
    assert f"`{lake}`.`raw_shop_api`.`_dlt_loads`" in staging
    assert "as numeric" in staging
    mart = (compiled / "marts" / "mart_sales_vs_targets.sql").read_text()
    assert "safe_divide(" in mart
    assert "as int64" in mart
    schema = "dbt_dev" if target == "dev" else "staging"
    assert f"`{SETTINGS[target]['TOLTEK_WAREHOUSE_PROJECT']}`.`{schema}`.`stg_shop_sheets__sales_targets`" in mart
    # A row's load time is when its load completed, not its load id (when the extract started).
    assert (
        f"(select load_id, max(inserted_at) as completed_at from `{lake}`.`raw_shop_api`.`_dlt_loads` where status = 0 group by load_id) as loads"
        in staging
    )
    assert "loads.completed_at as loaded_at" in staging

    nodes = json.loads((tmp_path / "target" / "manifest.json").read_text())["nodes"]
    for mart_name, key, field, data_type in (("fct_orders", "order_id", "order_month", "date"), ("dim_customers", "customer_id", "signed_up_at", "timestamp")):
        config = nodes[f"model.toltek.{mart_name}"]["config"]
        assert (config["materialized"], config["unique_key"], config["on_schema_change"]) == ("incremental", key, "append_new_columns")
        assert config["partition_by"] == {"field": field, "data_type": data_type, "granularity": "month"}, mart_name
        assert config["cluster_by"] == [key], mart_name
    assert nodes["model.toltek.mart_sales_vs_targets"]["config"]["materialized"] == "table"


def test_each_bigquery_target_caps_the_bytes_a_query_may_bill(offline_profiles, monkeypatch):
    """dbt's own rendering of each target: `maximum_bytes_billed` set, so a runaway query fails."""
    from argparse import Namespace

    from dbt.config.profile import Profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    for name, value in {**SETTINGS["prd"], "TOLTEK_BQ_LOCATION": "EU"}.items():
        monkeypatch.setenv(name, value)
    set_from_args(Namespace(), {})
    set_invocation_context(dict(os.environ))
    raw = yaml.safe_load((offline_profiles / "profiles.yml").read_text())
    caps = {}
    for target in ("dev", "prd"):
        credentials = Profile.from_raw_profiles(raw, "toltek", ProfileRenderer({}), target_override=target).credentials
        assert type(credentials).__name__ == "BigQueryCredentials"
        caps[target] = credentials.maximum_bytes_billed
    assert all(isinstance(cap, int) and cap > 0 for cap in caps.values()), caps
    assert caps["dev"] <= caps["prd"] <= 1024**4, "at most a TiB a query"


def test_a_copy_pipeline_makes_the_cloud_marts_look_back_its_copy_day(monkeypatch):
    """A `copy` pipeline's loads reach the warehouse up to a day after they complete: with the
    2-hour look-back alone, a copy landing after a build that took another pipeline's newer load
    would never be rebuilt into the marts."""
    from pipelines import environments, transform
    from pipelines.registry import discover
    from pipelines.shop_files.pipeline import ShopFiles

    discover()
    prd, local = environments.get("prd"), environments.get("local")
    assert transform.lookback_vars(prd) == []  # every pipeline reads the datalake directly
    monkeypatch.setattr(ShopFiles, "transfer", "copy")
    assert transform.lookback_vars(prd) == ["--vars", "{incremental_lookback_hours: 26}"]
    assert yaml.safe_load(transform.lookback_vars(prd)[1]) == {"incremental_lookback_hours": 26}  # dbt reads --vars as YAML
    assert transform.dbt_args(prd)[-2:] == transform.lookback_vars(prd)
    assert transform.lookback_vars(local) == []
    macro = (REPO_ROOT / "transform" / "macros" / "incremental.sql").read_text()
    assert f"var('incremental_lookback_hours', 0 if target.type == 'duckdb' else {transform.CLOUD_LOOKBACK_HOURS})" in macro
