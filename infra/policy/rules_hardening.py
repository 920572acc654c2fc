"""Advisory hardening: encryption keys, deletion protection, labels, audit logs, alerts."""

from __future__ import annotations

import re
from collections.abc import Iterator

from infra.policy.iam import DATASET, is_granting
from infra.policy.model import ADVISORY, HIGH, LOW, MEDIUM, UNKNOWN, Res, get, items, rule
from infra.policy.rules_resources import BUCKET, REPOSITORY, RUN_JOB

KEY = "gcp:kms/cryptoKey:CryptoKey"
AUDIT = "gcp:projects/iAMAuditConfig:IAMAuditConfig"
ALERT = "gcp:monitoring/alertPolicy:AlertPolicy"
SECRET = "gcp:secretmanager/secret:Secret"
LABELLED = (DATASET, BUCKET, RUN_JOB, REPOSITORY, SECRET)
MAX_ROTATION_SECONDS = 90 * 86400
AUDIT_LOG_TYPES = {"ADMIN_READ", "DATA_READ", "DATA_WRITE"}


@rule(
    "dataset-cmek",
    "Datasets encrypt new tables with a customer-managed key by default.",
    severity=MEDIUM,
    types=(DATASET,),
    enforcement=ADVISORY,
    mirrors=("CIS GCP 3.0 7.3", "CKV_GCP_81"),
    rationale="A key the organization controls can be revoked and audited independently of the data.",
)
def dataset_cmek(res: Res) -> Iterator[str]:
    key = get(res.props, "defaultEncryptionConfiguration", "kmsKeyName")
    if key is not UNKNOWN and not key:  # unknown at preview: a key of this stack
        yield f"{res.name} uses Google-managed encryption"


@rule(
    "bucket-cmek",
    "Buckets encrypt objects with a customer-managed key by default.",
    severity=MEDIUM,
    types=(BUCKET,),
    enforcement=ADVISORY,
    mirrors=("AVD-GCP-0066",),
    rationale="Same control over the landing files as over the tables loaded from them.",
)
def bucket_cmek(res: Res) -> Iterator[str]:
    key = get(res.props, "encryption", "defaultKmsKeyName")
    if key is not UNKNOWN and not key:  # unknown at preview: a key of this stack
        yield f"{res.name} uses Google-managed encryption"


@rule(
    "kms-key-rotation",
    "Customer-managed keys rotate at least every 90 days.",
    severity=MEDIUM,
    types=(KEY,),
    enforcement=ADVISORY,
    mirrors=("CIS GCP 3.0 1.10", "CKV_GCP_43", "AVD-GCP-0065", "KICS d8c57c4e-bf6f-4e32-a2bf-8643532de77b"),
    rationale="Rotation bounds how much data one key version protects.",
)
def key_rotation(res: Res) -> Iterator[str]:
    period = get(res.props, "rotationPeriod")
    if period is UNKNOWN:
        return
    seconds = float(period[:-1]) if isinstance(period, str) and re.fullmatch(r"\d+(\.\d+)?s", period) else None
    if seconds is None or seconds > MAX_ROTATION_SECONDS:
        yield f"{res.name} rotates {'never' if seconds is None else f'every {seconds / 86400:.0f} days'}"


@rule(
    "dataset-deletion-protection",
    "Datasets are protected from deletion and keep their tables on destroy.",
    severity=MEDIUM,
    types=(DATASET,),
    enforcement=ADVISORY,
    rationale="Raw data cannot be re-extracted from most APIs: removing a pipeline must not drop it.",
)
def dataset_protection(res: Res) -> Iterator[str]:
    if not res.protect:
        yield f"{res.name} is not `protect`ed"
    if get(res.props, "deleteContentsOnDestroy") is True:
        yield f"{res.name} deletes its tables on destroy"


@rule(
    "labels-cost-attribution",
    "Datasets, buckets, jobs, repositories and secrets carry `app` and `env` labels.",
    severity=LOW,
    types=LABELLED,
    enforcement=ADVISORY,
    rationale="Billing exports group cost by label; unlabelled resources are nobody's cost.",
)
def cost_labels(res: Res) -> Iterator[str]:
    labels = get(res.props, "labels")
    if labels is UNKNOWN:
        return
    missing = [k for k in ("app", "env") if not get(labels or {}, k)]
    if missing:
        yield f"{res.name} lacks label(s) {', '.join(missing)}"


@rule(
    "bucket-noncurrent-version-expiry",
    "Versioned buckets expire old object versions.",
    severity=LOW,
    types=(BUCKET,),
    enforcement=ADVISORY,
    rationale="Versioning without expiry keeps every overwritten file forever.",
)
def noncurrent_expiry(res: Res) -> Iterator[str]:
    if get(res.props, "versioning", "enabled") is not True:
        return
    for lifecycle_rule in items(res.props, "lifecycleRules"):
        condition = get(lifecycle_rule, "condition", default={})
        if get(lifecycle_rule, "action", "type") == "Delete" and (
            get(condition, "numNewerVersions") or get(condition, "daysSinceNoncurrentTime")
        ):
            return
    yield f"{res.name} keeps noncurrent versions forever"


@rule(
    "audit-logging-all-services",
    "Every project of the stack logs admin and data access for all services.",
    severity=MEDIUM,
    types=(AUDIT,),
    stack=True,
    enforcement=ADVISORY,
    mirrors=("CIS GCP 3.0 2.1", "CKV2_GCP_5", "AVD-GCP-0079", "KICS 89fe890f-b480-460c-8b6b-7d8b1468adb4"),
    rationale="Who read which dataset or secret is only answerable with data access logs.",
)
def audit_logging(resources: list[Res], ctx: object) -> Iterator[tuple[str, str]]:
    projects = {get(r.props, "project") for r in resources if isinstance(get(r.props, "project"), str)}
    covered = set()
    for res in resources:
        if res.type == AUDIT and get(res.props, "service") == "allServices":
            types = {get(c, "logType") for c in items(res.props, "auditLogConfigs")}
            if AUDIT_LOG_TYPES <= types:
                covered.add(get(res.props, "project"))
    for project in sorted(projects - covered):
        yield f"project {project} has no allServices audit config with {', '.join(sorted(AUDIT_LOG_TYPES))}", ""


@rule(
    "audit-logging-no-exemptions",
    "No audit log configuration exempts a principal: every read and change is logged, whoever makes it.",
    severity=HIGH,
    types=(AUDIT,),
    mirrors=("CIS GCP 3.0 2.1", "KICS 89fe890f-b480-460c-8b6b-7d8b1468adb4"),
    rationale="An exempted account reads data and secrets without a trace: the log is only as good as its gaps.",
)
def audit_no_exemptions(res: Res) -> Iterator[str]:
    for config in items(res.props, "auditLogConfigs"):
        exempted = [m for m in items(config, "exemptedMembers") if m]
        if exempted:
            yield f"{res.name} exempts {', '.join(map(str, exempted))} from {get(config, 'logType')} logs of {get(res.props, 'service')}"


@rule(
    "job-failure-alert",
    "Every Cloud Run job has an alert policy on its failed executions.",
    severity=MEDIUM,
    types=(RUN_JOB, ALERT),
    stack=True,
    enforcement=ADVISORY,
    rationale="A scheduled job that fails silently is found by the people reading stale dashboards.",
)
def failure_alert(resources: list[Res], ctx: object) -> Iterator[tuple[str, str]]:
    alerted = {
        job
        for r in resources
        if r.type == ALERT
        for c in items(r.props, "conditions")
        for job in re.findall(r'resource\.labels\.job_name="([^"]+)"', str(get(c, "conditionThreshold", "filter") or ""))
    }
    for res in resources:
        name = get(res.props, "name")
        if res.type == RUN_JOB and isinstance(name, str) and name not in alerted:
            yield f"job {name} has no alert on failed executions", res.urn


@rule(
    "pack-known-resource-types",
    "Every resource is of a type the pack has rules for; any other type is refused until it has them.",
    severity=HIGH,
    types=("*",),
    stack=True,
    rationale="Deny by default: a type no rule reads passes every rule silently, however it is configured.",
)
def known_resource_types(resources: list[Res], ctx: object) -> Iterator[tuple[str, str]]:
    from infra.policy.types import known_types

    known = known_types()
    for res in resources:
        if res.type not in known and not is_granting(res.type):
            yield (
                f"the policy pack has no rules for {res.type} ({res.name}) yet: write the rules that judge it "
                "and list the type in infra/policy/types.py before using it",
                res.urn,
            )
