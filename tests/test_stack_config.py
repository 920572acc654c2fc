"""Stack config: typed, validated, one clear message when missing or malformed."""

from __future__ import annotations

import pytest

from infra.config import ConfigError, parse
from infra.plan import read_stack_file, run_plan

GOOD = {
    "datalakeProject": "toltek-datalake-prd",
    "warehouseProject": "toltek-dwh-prd",
    "region": "europe-west1",
    "bigqueryLocation": "EU",
    "alertEmail": "data@toltek.example",
}


def test_the_committed_stacks_parse():
    for stack in ("dev", "prd"):
        raw = read_stack_file(stack)
        assert raw["pulumi:disable-default-providers"] == '["gcp"]'
        cfg = parse(stack, {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("toltek:")})
        assert cfg.datalake_project == f"toltek-datalake-{stack}"
    assert parse("prd", GOOD).warehouse_project == "toltek-dwh-prd"


@pytest.mark.parametrize(
    ("stack", "change", "message"),
    [
        ("prd", {"datalakeProject": None}, "Pulumi.prd.yaml: 'toltek:datalakeProject' is missing (a GCP project id)"),
        ("prd", {"warehouseProject": None}, "Pulumi.prd.yaml: 'toltek:warehouseProject' is missing (a GCP project id)"),
        ("prd", {"datalakeProject": "Toltek_Lake"}, "Pulumi.prd.yaml: 'toltek:datalakeProject' is 'Toltek_Lake', expected a GCP project id"),
        ("prd", {"region": "europe"}, "Pulumi.prd.yaml: 'toltek:region' is 'europe', expected a GCP region, e.g. europe-west1"),
        ("prd", {"bigqueryLocation": "Mars"}, "Pulumi.prd.yaml: 'toltek:bigqueryLocation' is 'Mars', expected EU, US or a region"),
        ("prd", {"alertEmail": "nobody"}, "Pulumi.prd.yaml: 'toltek:alertEmail' is 'nobody', expected an e-mail address"),
        ("prd", {"warehouseProject": "toltek-datalake-prd"}, "must differ from 'toltek:datalakeProject'"),
        ("dev", {}, "Pulumi.dev.yaml: 'toltek:warehouseProject' is set, but the dev stack has no warehouse project"),
        ("qa", {}, "unknown stack 'qa' (choose from: dev, prd)"),
    ],
)
def test_bad_config_is_one_clear_message(stack, change, message):
    with pytest.raises(ConfigError) as caught:
        parse(stack, {**GOOD, **change})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_or_malformed_stack_file(tmp_path):
    with pytest.raises(ConfigError, match=r"^stack config Pulumi\.prd\.yaml not found in "):
        run_plan("prd", tmp_path)
    (tmp_path / "Pulumi.prd.yaml").write_text("config: [oops\n")
    with pytest.raises(ConfigError, match=r"^Pulumi\.prd\.yaml is not valid YAML: "):
        run_plan("prd", tmp_path)
    (tmp_path / "Pulumi.prd.yaml").write_text("encryptionsalt: x\n")
    with pytest.raises(ConfigError, match=r"^Pulumi\.prd\.yaml has no 'config:' mapping$"):
        run_plan("prd", tmp_path)
    (tmp_path / "Pulumi.prd.yaml").write_text("config:\n  toltek:region: europe-west1\n")
    with pytest.raises(ConfigError, match=r"^Pulumi\.prd\.yaml: 'toltek:bigqueryLocation' is missing"):
        run_plan("prd", tmp_path)
