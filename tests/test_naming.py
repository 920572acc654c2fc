"""Names derived from a declaration, checked against the GCP rules they must satisfy."""

from pipelines import naming


def test_derived_names():
    assert naming.service_account_id("shop_api") == "pl-shop-api"
    assert naming.job_name("shop_api", "prd") == "toltek-shop-api-prd"
    assert naming.scheduler_job_name("shop_api", "dev") == "toltek-shop-api-dev"
    assert naming.dlt_pipeline_name("shop_api") == "toltek_shop_api"
    assert naming.env_var_for_config_key("sources.shop_api.access_token") == "SOURCES__SHOP_API__ACCESS_TOKEN"


def test_service_account_ids_are_6_to_30_characters():
    assert naming.derived_id_problems("abc") == []  # pl-abc: 6
    assert naming.derived_id_problems("ab") == [
        "derived service account id 'pl-ab' is invalid (6-30 characters: lowercase letters, digits, hyphens)"
    ]
    assert naming.derived_id_problems("a" * 27) == []  # 30
    assert naming.derived_id_problems("a" * 28)[0].startswith("derived service account id")


def test_every_derived_id_of_a_24_character_name_is_valid():
    assert naming.derived_id_problems("abcdefghij_klmnopq_rstuv") == []
