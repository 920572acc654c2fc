"""Hand-made plan documents for the `toltek plan --diff` tests: resources and grants as a saved
`toltek plan --json` lists them, and a BASE stack of two pipelines, a scheduler and dbt."""

from __future__ import annotations

LAKE = "toltek-datalake-prd"
BUCKET = "toltek-landing-prd"
PREFIX = 'resource.name.startsWith("b/") || p == "b"'


def sa(name: str, project: str = LAKE) -> str:
    return f"serviceAccount:{name}@{project}.iam.gserviceaccount.com"


def res(type_: str, logical: str, *, project: str | None = LAKE, **inputs) -> dict:
    return {
        "urn": f"urn:pulumi:prd::toltek::{type_}::{logical}", "type": type_, "name": logical, "custom": True,
        "parent": None, "project": project, "protect": False, "inputs": {"project": project, **inputs} if project else inputs,
    }


def project_grant(member: str, role: str, project: str = LAKE) -> dict:
    return res("gcp:projects/iAMMember:IAMMember", f"{member}-{role}-{project}", project=project, role=role, member=member)


def dataset_grant(member: str, role: str, dataset: str) -> dict:
    return res("gcp:bigquery/datasetIamMember:DatasetIamMember", f"{member}-{role}-{dataset}", datasetId=dataset, role=role, member=member)


def secret_grant(member: str, secret: str) -> dict:
    return res("gcp:secretmanager/secretIamMember:SecretIamMember", f"{member}-{secret}", secretId=secret,
               role="roles/secretmanager.secretAccessor", member=member)


def bucket_grant(member: str, condition: str | None) -> dict:
    extra = {"condition": {"title": "its prefix", "expression": condition}} if condition else {}
    return res("gcp:storage/bucketIAMMember:BucketIAMMember", f"{member}-bucket-{bool(condition)}", project=None,
               bucket=BUCKET, role="roles/storage.objectViewer", member=member, **extra)


def job_grant(member: str, role: str, job: str) -> dict:
    return res("gcp:cloudrunv2/jobIamMember:JobIamMember", f"{member}-{role}-{job}", name=job, location="europe-west1", role=role, member=member)


DBT = sa("toltek-dbt", "toltek-dwh-prd")
SCHEDULER = sa("toltek-scheduler")
BASE = [
    res("gcp:serviceaccount/account:Account", "pl-a", accountId="pl-a"),
    dataset_grant(sa("pl-a"), "roles/bigquery.dataEditor", "raw_a"),
    project_grant(sa("pl-a"), "roles/bigquery.jobUser"),
    secret_grant(sa("pl-a"), "a-token"),
    dataset_grant(sa("pl-b"), "roles/bigquery.dataEditor", "raw_b"),
    project_grant(sa("pl-b"), "roles/bigquery.jobUser"),
    secret_grant(sa("pl-b"), "b-token"),
    bucket_grant(sa("pl-b"), PREFIX),
    job_grant(SCHEDULER, "roles/run.invoker", "toltek-a-prd"),
    dataset_grant(DBT, "roles/bigquery.dataEditor", "staging"),
    dataset_grant(DBT, "roles/bigquery.dataViewer", "raw_a"),
    project_grant(DBT, "roles/bigquery.jobUser", "toltek-dwh-prd"),
    res("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "bq-key", project=None, role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
        cryptoKeyId=f"projects/{LAKE}/locations/eu/keyRings/toltek/cryptoKeys/data",
        member="serviceAccount:bq-123@bigquery-encryption.iam.gserviceaccount.com"),
]
