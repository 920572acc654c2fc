"""Least-privilege rules over every kind of IAM grant (members, bindings, policies, ACLs)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from infra.policy.model import ALL_IAM_TYPES, CRITICAL, HIGH, MEDIUM, PUBLIC, Res, grants, rule

BASIC_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
IMPERSONATION = {
    "roles/iam.serviceAccountUser",
    "roles/iam.serviceAccountTokenCreator",
    "roles/iam.serviceAccountKeyAdmin",
    "roles/iam.workloadIdentityUser",
}
BIGQUERY_DATA_ROLES = {"roles/bigquery.dataViewer", "roles/bigquery.dataEditor", "roles/bigquery.dataOwner"}
SECRET_READ_ROLES = {"roles/secretmanager.secretAccessor"}
ADMIN = re.compile(r"(admin|Admin)$")
DEFAULT_ACCOUNTS = re.compile(r"(-compute@developer\.gserviceaccount\.com|@appspot\.gserviceaccount\.com)$")
PERSONAL_DOMAINS = {
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com", "icloud.com",
    "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.com", "gmx.de", "mail.com",
}


def _project_grants(res: Res, roles) -> Iterator[str]:  # noqa: ANN001 - a predicate on role names
    for g in grants(res):
        if g.scope == "project" and isinstance(g.role, str) and roles(g.role):
            yield f"{g.role} is granted on project {g.target} to {g.member}"


@rule(
    "iam-no-basic-roles",
    "No basic roles (owner, editor, viewer) anywhere.",
    severity=CRITICAL,
    types=ALL_IAM_TYPES,
    mirrors=("CKV_GCP_117",),
    rationale="Basic roles grant thousands of permissions across every service of a project.",
)
def no_basic_roles(res: Res) -> Iterator[str]:
    for g in grants(res):
        if g.role in BASIC_ROLES:
            yield f"{g.role} is granted on {g.scope} {g.target} to {g.member}"


@rule(
    "iam-no-project-admin-roles",
    "No admin roles granted at project level.",
    severity=HIGH,
    types=ALL_IAM_TYPES,
    mirrors=("CIS GCP 3.0 1.5", "CKV_GCP_42", "AVD-GCP-0007", "KICS 84d36481-fd63-48cb-838e-635c44806ec2"),
    rationale="An admin role on a project controls every resource of that kind in it.",
)
def no_project_admin_roles(res: Res) -> Iterator[str]:
    yield from _project_grants(res, lambda role: bool(ADMIN.search(role)))


@rule(
    "iam-no-project-impersonation",
    "No service account user, token creator or key admin at project level.",
    severity=CRITICAL,
    types=ALL_IAM_TYPES,
    mirrors=("CIS GCP 3.0 1.6", "CKV_GCP_41", "CKV_GCP_49", "AVD-GCP-0011", "KICS c68b4e6d-4e01-4ca1-b256-1e18e875785c", "KICS 617ef6ff-711e-4bd7-94ae-e965911b1b40"),
    rationale="At project level these roles let a principal act as every service account of it.",
)
def no_project_impersonation(res: Res) -> Iterator[str]:
    yield from _project_grants(res, lambda role: role in IMPERSONATION)


@rule(
    "iam-no-project-bigquery-data-roles",
    "BigQuery data roles only on datasets, never on a project.",
    severity=HIGH,
    types=ALL_IAM_TYPES,
    rationale="A project-level data role reads or writes every dataset, present and future.",
)
def no_project_bigquery_data_roles(res: Res) -> Iterator[str]:
    yield from _project_grants(res, lambda role: role in BIGQUERY_DATA_ROLES)


@rule(
    "iam-secret-accessor-on-secrets-only",
    "secretmanager.secretAccessor only on individual secrets.",
    severity=CRITICAL,
    types=ALL_IAM_TYPES,
    rationale="Granted anywhere above a secret, it reads every secret there.",
)
def secret_accessor_on_secrets(res: Res) -> Iterator[str]:
    for g in grants(res):
        if g.role in SECRET_READ_ROLES and g.scope != "secret":
            yield f"{g.role} is granted on {g.scope} {g.target} to {g.member}"


@rule(
    "iam-run-invoker-on-jobs-only",
    "run.invoker only on a Cloud Run job or service, never on a project.",
    severity=HIGH,
    types=ALL_IAM_TYPES,
    rationale="The scheduler may start its job, not every job and service of the project.",
)
def run_invoker_on_jobs(res: Res) -> Iterator[str]:
    yield from _project_grants(res, lambda role: role == "roles/run.invoker")


@rule(
    "iam-no-default-service-accounts",
    "Nothing granted to the default Compute Engine or App Engine service accounts.",
    severity=HIGH,
    types=ALL_IAM_TYPES,
    mirrors=("CKV_GCP_46", "AVD-GCP-0006"),
    rationale="Default accounts are shared by every workload that forgets to name its own.",
)
def no_default_service_accounts(res: Res) -> Iterator[str]:
    for g in grants(res):
        if isinstance(g.member, str) and DEFAULT_ACCOUNTS.search(g.member):
            yield f"{g.role} is granted to the default account {g.member}"


@rule(
    "iam-no-user-principals",
    "No grants to individual users (user:): grant to groups or service accounts.",
    severity=MEDIUM,
    types=ALL_IAM_TYPES,
    mirrors=("AVD-GCP-0003", "KICS 704fcc44-a58f-4af5-82e2-93f2a58ef918"),
    rationale="Access tied to a person outlives their role; groups are reviewed and revoked centrally.",
)
def no_user_principals(res: Res) -> Iterator[str]:
    for g in grants(res):
        if isinstance(g.member, str) and g.member.startswith("user:"):
            yield f"{g.role} is granted to the individual {g.member}"


@rule(
    "iam-no-personal-accounts",
    "No principals in personal e-mail domains (gmail.com and the like).",
    severity=HIGH,
    types=ALL_IAM_TYPES,
    mirrors=("CIS GCP 3.0 1.1", "AVD-GCP-0069", "KICS 9356962e-4a4f-4d06-ac59-dc8008775eaa"),
    rationale="Only corporate identities, which the organization controls, may hold access.",
)
def no_personal_accounts(res: Res) -> Iterator[str]:
    for g in grants(res):
        if isinstance(g.member, str) and "@" in g.member:
            domain = g.member.rsplit("@", 1)[1].lower()
            if domain in PERSONAL_DOMAINS:
                yield f"{g.role} is granted to the personal account {g.member}"


def _public(scope: str, what: str, rule_id: str, mirrors: tuple[str, ...]) -> None:
    @rule(
        rule_id,
        f"No allUsers or allAuthenticatedUsers on {what}.",
        severity=CRITICAL,
        types=ALL_IAM_TYPES,
        mirrors=mirrors,
        rationale=f"Public {what} expose data or execution to the whole internet.",
    )
    def check(res: Res) -> Iterator[str]:
        for g in grants(res):
            if g.scope == scope and g.member in PUBLIC:
                yield f"{g.role} on {scope} {g.target} is granted to {g.member}"


_public("bucket", "buckets", "iam-no-public-buckets", ("CIS GCP 3.0 5.1", "CKV_GCP_28", "AVD-GCP-0001", "KICS a6cd52a1-3056-4910-96a5-894de9f3f3b3"))
_public("dataset", "datasets", "iam-no-public-datasets", ("CIS GCP 3.0 7.1", "CKV_GCP_15", "AVD-GCP-0046", "KICS e576ce44-dd03-4022-a8c0-3906acca2ab4"))
_public("table", "tables", "iam-no-public-tables", ("CKV_GCP_100",))
_public("repository", "Artifact Registry repositories", "iam-no-public-repositories", ("CKV_GCP_101", "KICS 664c673f-71f2-4a7f-a54a-2efa25e8567f"))
_public("job", "Cloud Run jobs", "iam-no-public-run-jobs", ())
_public("service", "Cloud Run services", "iam-no-public-run-services", ("CKV_GCP_102", "KICS 07a27a3b-46e9-4172-bc68-25e3277d7998"))
_public("secret", "secrets", "iam-no-public-secrets", ())


@rule(
    "iam-additive-members-only",
    "IAM through additive *IamMember resources only, never authoritative bindings or policies.",
    severity=HIGH,
    types=ALL_IAM_TYPES,
    rationale="Authoritative IAM silently removes grants made elsewhere (incl. Google service agents).",
)
def additive_members_only(res: Res) -> Iterator[str]:
    if any(g.authoritative for g in grants(res)):
        yield f"{res.type.rsplit(':', 1)[-1]} replaces the whole policy of its resource; use the *IamMember resource"
