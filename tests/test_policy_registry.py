"""Registry-aware rules: fixtures on the generated prd stack (the compliant baseline), one property
changed per case, exact sets of violated rules."""

from __future__ import annotations

import pytest
from policy_mutations import API_EDITOR, API_JOB_USER, API_SA, DATASET_MEMBER, DWH, JOB, LAKE, PROJECT_MEMBER, change

from infra.plan import read_stack_file, run_plan
from infra.policy.offline import analyze
from infra.policy.pack import rules

DBT_SA = f"serviceAccount:toltek-dbt@{DWH}.iam.gserviceaccount.com"
ALLOWANCE = "iam-principal-allowance"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
JOB_MEMBER = "gcp:cloudrunv2/jobIamMember:JobIamMember"
ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"
METRIC = "gcp:logging/metric:Metric"
FRESHNESS = "pipeline-freshness-alert"
REGISTRY_CASES = [
    (FRESHNESS, None, set()),
    # shop_api's alert waits 5 h, not its 4 h error age.
    (FRESHNESS, change(ALERT, {"displayName": "toltek-shop-api-prd stale"}, "conditions.0.conditionAbsent.duration", "18000s"), {FRESHNESS}),
    # shop_files' metric counts another job's summaries.
    (FRESHNESS, change(METRIC, {"name": "toltek/shop_files/rows_loaded"}, "filter",
                       'resource.type="cloud_run_job" AND resource.labels.job_name="toltek-shop-api-prd" AND jsonPayload.toltek.event="summary"'), {FRESHNESS}),
    # The freshness alert is there but disabled.
    (FRESHNESS, change(ALERT, {"displayName": "toltek-shop-sheets-prd stale"}, "enabled", False), {FRESHNESS, "monitoring-alert-enabled"}),
    # dbt may view a pipeline's job, not the dbt job of another project nor an unregistered one.
    ("registry-cross-project-grants", change(JOB_MEMBER, {"name": "toltek-shop-api-prd", "role": "roles/run.viewer"}, "role", "roles/run.invoker"),
     {"registry-cross-project-grants", ALLOWANCE}),
    ("registry-cross-project-grants", change(JOB_MEMBER, {"name": "toltek-shop-api-prd", "role": "roles/run.viewer"}, "name", "toltek-ghost-prd"),
     {"registry-cross-project-grants", ALLOWANCE}),
    ("registry-pipeline-grants", None, set()),
    ("registry-pipeline-grants", change(DATASET_MEMBER, API_EDITOR, "datasetId", "raw_shop_files"), {"registry-pipeline-grants", ALLOWANCE}),
    ("registry-pipeline-grants", change(PROJECT_MEMBER, API_JOB_USER, "role", "roles/bigquery.user"), {"registry-pipeline-grants", ALLOWANCE}),
    ("registry-pipeline-grants", change(DATASET_MEMBER, API_EDITOR, "member", f"serviceAccount:pl-ghost@{LAKE}.iam.gserviceaccount.com"),
     {"registry-pipeline-grants", ALLOWANCE}),
    (ALLOWANCE, None, set()),
    # A pipeline reads the whole landing bucket: the grant lost its prefix condition.
    (ALLOWANCE, change(BUCKET_MEMBER, {"role": "roles/storage.objectViewer"}, "condition", None), {"registry-pipeline-grants", ALLOWANCE}),
    # A condition that admits other prefixes too.
    (ALLOWANCE, change(BUCKET_MEMBER, {"role": "roles/storage.objectViewer"}, "condition.expression",
                       'resource.name.startsWith("projects/_/buckets/toltek-landing-prd/objects/")'), {"registry-pipeline-grants", ALLOWANCE}),
    # A Google service agent may use the stack's own keys, not a key of another project.
    (ALLOWANCE, change("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", {}, "cryptoKeyId",
                       "projects/vendor/locations/europe/keyRings/shared/cryptoKeys/foreign"), {ALLOWANCE}),
    # dbt may read raw data, never write it; registry-pipeline-grants does not look at dbt.
    (ALLOWANCE, change(DATASET_MEMBER, {"datasetId": "raw_shop_api", "member": DBT_SA}, "role", "roles/bigquery.dataEditor"), {ALLOWANCE}),
    # The scheduler of the datalake invoking the warehouse's dbt job.
    (ALLOWANCE, change(JOB_MEMBER, {"name": "toltek-dbt-prd"}, "member", f"serviceAccount:toltek-scheduler@{LAKE}.iam.gserviceaccount.com"),
     {ALLOWANCE, "registry-cross-project-grants", "scheduler-invoker-on-target-job"}),
    ("registry-one-job-per-pipeline-account", None, set()),
    ("registry-one-job-per-pipeline-account",
     change(JOB, {"name": "toltek-shop-files-prd"}, "template.template.serviceAccount", f"pl-shop-api@{LAKE}.iam.gserviceaccount.com"),
     {"registry-one-job-per-pipeline-account"}),
    ("registry-one-job-per-pipeline-account",
     change(JOB, {"name": "toltek-shop-api-prd"}, "template.template.serviceAccount", f"pl-other@{LAKE}.iam.gserviceaccount.com"),
     {"registry-one-job-per-pipeline-account"}),
    ("registry-cross-project-grants", None, set()),
    ("registry-cross-project-grants",
     change(DATASET_MEMBER, {"datasetId": "raw_shop_api", "member": DBT_SA}, "datasetId", "raw_shop_api_staging"),
     {"registry-cross-project-grants", ALLOWANCE}),
    ("registry-cross-project-grants",
     change(PROJECT_MEMBER, {"member": DBT_SA}, "project", LAKE),
     {"registry-cross-project-grants", ALLOWANCE}),
]


@pytest.fixture(scope="module")
def prd():
    return run_plan("prd", preview=True), read_stack_file("prd")


@pytest.mark.parametrize(("rule", "mutate", "expected"), REGISTRY_CASES, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(REGISTRY_CASES)])
def test_registry_case_violates_exactly(prd, rule, mutate, expected):
    plan, config = prd
    resources = mutate(plan.resources) if mutate else plan.resources
    report = analyze(resources, stack="prd", config=config)
    assert report.rule_ids() == expected, [(v.rule, v.message) for v in report.violations]


def test_each_registry_rule_has_a_compliant_and_two_violating_cases():
    for rule in {r for r, _, _ in REGISTRY_CASES}:
        assert sum(1 for r, m, e in REGISTRY_CASES if r == rule and not e) >= 1
        assert sum(1 for r, m, e in REGISTRY_CASES if r == rule and rule in e) >= 2


def test_an_undeclared_grant_names_the_pipeline_account(prd):
    plan, config = prd
    report = analyze(change(DATASET_MEMBER, API_EDITOR, "datasetId", "raw_shop_files")(plan.resources), stack="prd", config=config)
    messages = [v.message for v in report.violations]
    assert f"roles/bigquery.dataEditor on dataset raw_shop_files is not declared by the pipeline of {API_SA.split(':')[1]}" in messages
    assert any("pipeline 'shop_api' declares roles/bigquery.dataEditor on dataset raw_shop_api" in m for m in messages)


def test_rules_leave_the_shared_decodings_of_each_resource_as_decoded(prd):
    # The offline analyzer decodes each resource once for all policies; a rule that changed its
    # arguments would change what the next rule sees. Every shared decoding still equals a fresh one.
    from google.protobuf import json_format
    from pulumi_policy.deserialize import deserialize_properties

    plan, config = prd
    report = analyze(plan.resources, stack="prd", config=config)
    assert report.violations == []
    shared = report.shared
    assert len(shared.dicts.entries) >= len([r for r in plan.resources if r.custom])
    for message, as_dict in shared.dicts.entries.values():
        assert as_dict == json_format.MessageToDict(message)
    for (_, args), (props, decoded) in shared.decoded.entries.items():
        assert decoded == deserialize_properties(props, *args)
    assert shared.proxies.entries
    for decoded, proxy in shared.proxies.entries.values():
        assert plain(proxy) == decoded  # nothing written through a proxy either


def plain(value):
    """The values behind pulumi-policy's read-checking proxies (lists and mappings)."""
    from collections.abc import Mapping, Sequence

    if isinstance(value, Mapping):
        return {k: plain(value["__target"][k]) for k in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [plain(v) for v in value["__target"]]
    return value


def test_two_forked_workers_report_what_one_process_reports(prd):
    # A large stack is analysed by two processes, each with half of the stack rules: the merged
    # report is the one-process report, finding for finding and in the same order.
    plan, config = prd
    resources = plan.resources
    for _, mutate, _ in REGISTRY_CASES:
        try:
            resources = mutate(resources) if mutate else resources
        except (AssertionError, KeyError):  # an earlier case already changed what this one looks for
            continue
    resources = change("gcp:storage/bucket:Bucket", {}, "uniformBucketLevelAccess", False)(resources)
    one = analyze(resources, stack="prd", config=config, workers=1)
    two = analyze(resources, stack="prd", config=config, workers=2)
    assert len({v.rule for v in one.violations}) >= 6
    assert any(not r.stack for r in rules() if r.id in one.rule_ids()), "resource rules are in the comparison too"
    assert two.violations == one.violations
    assert two.not_applicable == one.not_applicable
    assert two.diagnostics == one.diagnostics
