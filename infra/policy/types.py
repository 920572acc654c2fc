"""The resource types the pack has rules for: deny by default.

A type the generated stacks create is listed here with the rules that read it, so a new kind
of resource in a component (a Compute VM, a Cloud Run v1 service, anything) is refused by
`pack-known-resource-types` until someone writes the rules that judge it and adds it here.
Types a rule itself names (those it forbids, such as service account keys) are known too, and so
is every IAM type (`*IamMember` / `*IamBinding` / `*IamPolicy`, dataset access, bucket ACLs): the
IAM rules read grants from all of them (see `infra/policy/iam.py`).
"""

from __future__ import annotations

# Kept as data; tests/test_policy_types.py checks it against the stacks and the rules.
STACK_TYPES: frozenset[str] = frozenset(
    {
        "pulumi:providers:gcp",
        "docker:index/image:Image",
        "gcp:artifactregistry/repository:Repository",
        "gcp:bigquery/dataTransferConfig:DataTransferConfig",
        "gcp:bigquery/dataset:Dataset",
        "gcp:bigquery/datasetIamMember:DatasetIamMember",
        "gcp:cloudrunv2/job:Job",
        "gcp:cloudrunv2/jobIamMember:JobIamMember",
        "gcp:cloudscheduler/job:Job",
        "gcp:kms/cryptoKey:CryptoKey",
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
        "gcp:kms/keyRing:KeyRing",
        "gcp:logging/metric:Metric",
        "gcp:monitoring/alertPolicy:AlertPolicy",
        "gcp:monitoring/dashboard:Dashboard",
        "gcp:monitoring/notificationChannel:NotificationChannel",
        "gcp:projects/iAMAuditConfig:IAMAuditConfig",
        "gcp:projects/iAMMember:IAMMember",
        "gcp:projects/service:Service",
        "gcp:secretmanager/secret:Secret",
        "gcp:secretmanager/secretIamMember:SecretIamMember",
        "gcp:serviceaccount/account:Account",
        "gcp:storage/bucket:Bucket",
        "gcp:storage/bucketIAMMember:BucketIAMMember",
    }
)


def known_types() -> frozenset[str]:
    """What the pack can judge: the stacks' types and every type a rule names."""
    from infra.policy.pack import rules  # every rule registered

    return STACK_TYPES | {t for rule in rules() for t in rule.resource_types if ":" in t}
