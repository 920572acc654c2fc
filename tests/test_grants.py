"""IAM derived from the declarations: pure functions, no Pulumi."""

from __future__ import annotations

from infra.config import parse
from infra.grants import (
    DATA_EDITOR,
    DATA_OWNER,
    DATA_VIEWER,

    JOB_USER,
    OBJECT_VIEWER,
    RUN_INVOKER,
    SECRET_ACCESSOR,
    Grant,
    pipeline_grants,
    stack_grants,
    landing_condition,
    warehouse_grants,
)
from pipelines.base import Pipeline
from pipelines.declarations import Schedule
from pipelines.shop_api.pipeline import ShopApi
from pipelines.shop_files.pipeline import ShopFiles

PRD = parse(
    "prd",
    {
        "datalakeProject": "toltek-datalake-prd",
        "warehouseProject": "toltek-dwh-prd",
        "region": "europe-west1",
        "bigqueryLocation": "EU",
        "alertEmail": "data@toltek.example",
    },
)
DEV = parse(
    "dev",
    {"datalakeProject": "toltek-datalake-dev", "region": "europe-west1", "bigqueryLocation": "EU", "alertEmail": "d@t.example"},
)
LAKE, DWH = "toltek-datalake-prd", "toltek-dwh-prd"
API_SA = f"serviceAccount:pl-shop-api@{LAKE}.iam.gserviceaccount.com"
SCHEDULER = f"serviceAccount:toltek-scheduler@{LAKE}.iam.gserviceaccount.com"
DBT = f"serviceAccount:toltek-dbt@{DWH}.iam.gserviceaccount.com"
COPIER = f"serviceAccount:toltek-copier@{DWH}.iam.gserviceaccount.com"

def test_a_pipeline_gets_its_datasets_its_secrets_and_a_scheduler_on_its_job_only():
    assert pipeline_grants(ShopApi, PRD) == sorted(
        [
            Grant(LAKE, "dataset", "raw_shop_api", DATA_EDITOR, API_SA),
            Grant(LAKE, "dataset", "raw_shop_api_staging", DATA_EDITOR, API_SA),
            Grant(LAKE, "project", LAKE, JOB_USER, API_SA),
            Grant(LAKE, "secret", "shop-api-token", SECRET_ACCESSOR, API_SA),
            Grant(LAKE, "job", "toltek-shop-api-prd", RUN_INVOKER, SCHEDULER),
        ]
    )

def test_a_file_pipeline_reads_the_landing_bucket():
    sa = f"serviceAccount:pl-shop-files@{LAKE}.iam.gserviceaccount.com"
    condition = landing_condition("toltek-landing-prd", "shipments")
    assert Grant(LAKE, "bucket", "toltek-landing-prd", OBJECT_VIEWER, sa, condition) in pipeline_grants(ShopFiles, PRD)
    # Reads and listings stay under the pipeline's own landing prefix.
    assert condition == (
        'resource.name == "projects/_/buckets/toltek-landing-prd/objects/shipments"'
        ' || resource.name.startsWith("projects/_/buckets/toltek-landing-prd/objects/shipments/")'
        ' || api.getAttribute("storage.googleapis.com/objectListPrefix", "") == "shipments"'
        ' || api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("shipments/")'
    )
    assert not [g for g in pipeline_grants(ShopApi, PRD) if g.scope == "bucket"]

def test_the_warehouse_reads_raw_datasets_in_place_by_default():
    grants = warehouse_grants([ShopApi], PRD)
    assert Grant(LAKE, "dataset", "raw_shop_api", DATA_VIEWER, DBT) in grants
    assert Grant(DWH, "project", DWH, JOB_USER, DBT) in grants
    assert {g.resource for g in grants if g.role == DATA_EDITOR} == {"staging", "marts"}
    assert not [g for g in grants if g.member == COPIER]

def test_a_copy_pipeline_gets_a_copier_with_access_on_both_sides(registry):
    class Copied(Pipeline):
        """A pipeline the warehouse copies."""

        name = "copied_source"
        schedule = Schedule("0 1 * * *")
        dataset = "raw_copied"
        transfer = "copy"

        def source(self, env):
            raise AssertionError

    grants = warehouse_grants([Copied], PRD)
    assert Grant(LAKE, "dataset", "raw_copied", DATA_VIEWER, COPIER) in grants
    assert Grant(DWH, "dataset", "raw_copied", DATA_OWNER, COPIER) in grants  # a copy updates its dataset
    assert Grant(DWH, "project", DWH, JOB_USER, COPIER) in grants  # and runs as copy jobs there
    assert Grant(DWH, "dataset", "raw_copied", DATA_VIEWER, DBT) in grants
    assert Grant(LAKE, "dataset", "raw_copied", DATA_VIEWER, DBT) not in grants

def test_no_data_role_or_secret_accessor_is_granted_on_a_project(registry):
    for cfg in (DEV, PRD):
        for grant in stack_grants(registry.all(), cfg):
            if grant.scope == "project":
                assert grant.role == JOB_USER, grant

def test_dev_has_no_warehouse_grants(registry):
    assert warehouse_grants(registry.all(), DEV) == []
    assert {g.project for g in stack_grants(registry.all(), DEV)} == {"toltek-datalake-dev"}
