"""Which Google API each resource type needs, and that the stack enables it first.

On a fresh project every API but a default few is disabled; creating a resource whose API is
disabled fails with SERVICE_DISABLED (and everything waiting on it fails with it). The table must
name every type the program creates: a type missing from it is a finding, so it cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infra.deploy.model import Finding, check, finding
from infra.deploy.stack import SERVICE

SERVICE_USAGE = "serviceusage.googleapis.com"
RESOURCE_MANAGER = "cloudresourcemanager.googleapis.com"
# Needed before the stack can enable anything itself: the provider enables APIs through Service
# Usage and reads the project back through Resource Manager (terraform-provider-google's
# google_project_service), both charged to the deploying credentials' quota project. The checklist
# asks for them; the stack enables Resource Manager too, so it stays on.
BOOTSTRAP_APIS = (SERVICE_USAGE, RESOURCE_MANAGER)

# type -> (API it calls, role the deploying identity needs to create it). Sources: each
# resource's page in the Google Cloud docs (REST reference host) and IAM's predefined roles.
API_OF_TYPE: dict[str, tuple[str, str]] = {
    "gcp:projects/service:Service": (SERVICE_USAGE, "roles/serviceusage.serviceUsageAdmin"),
    "gcp:projects/iAMMember:IAMMember": (RESOURCE_MANAGER, "roles/resourcemanager.projectIamAdmin"),
    "gcp:projects/iAMBinding:IAMBinding": (RESOURCE_MANAGER, "roles/resourcemanager.projectIamAdmin"),
    "gcp:projects/iAMAuditConfig:IAMAuditConfig": (RESOURCE_MANAGER, "roles/resourcemanager.projectIamAdmin"),
    "gcp:kms/keyRing:KeyRing": ("cloudkms.googleapis.com", "roles/cloudkms.admin"),
    "gcp:kms/cryptoKey:CryptoKey": ("cloudkms.googleapis.com", "roles/cloudkms.admin"),
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": ("cloudkms.googleapis.com", "roles/cloudkms.admin"),
    "gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding": ("cloudkms.googleapis.com", "roles/cloudkms.admin"),
    "gcp:artifactregistry/repository:Repository": ("artifactregistry.googleapis.com", "roles/artifactregistry.admin"),
    "docker:index/image:Image": ("artifactregistry.googleapis.com", "roles/artifactregistry.writer"),
    "gcp:storage/bucket:Bucket": ("storage.googleapis.com", "roles/storage.admin"),
    "gcp:storage/bucketIAMMember:BucketIAMMember": ("storage.googleapis.com", "roles/storage.admin"),
    "gcp:storage/bucketIAMBinding:BucketIAMBinding": ("storage.googleapis.com", "roles/storage.admin"),
    "gcp:bigquery/dataset:Dataset": ("bigquery.googleapis.com", "roles/bigquery.dataOwner"),
    "gcp:bigquery/datasetIamMember:DatasetIamMember": ("bigquery.googleapis.com", "roles/bigquery.dataOwner"),
    "gcp:bigquery/datasetIamBinding:DatasetIamBinding": ("bigquery.googleapis.com", "roles/bigquery.dataOwner"),
    "gcp:bigquery/dataTransferConfig:DataTransferConfig": ("bigquerydatatransfer.googleapis.com", "roles/bigquery.admin"),
    "gcp:secretmanager/secret:Secret": ("secretmanager.googleapis.com", "roles/secretmanager.admin"),
    "gcp:secretmanager/secretIamMember:SecretIamMember": ("secretmanager.googleapis.com", "roles/secretmanager.admin"),
    "gcp:secretmanager/secretIamBinding:SecretIamBinding": ("secretmanager.googleapis.com", "roles/secretmanager.admin"),
    "gcp:serviceaccount/account:Account": ("iam.googleapis.com", "roles/iam.serviceAccountAdmin"),
    "gcp:monitoring/notificationChannel:NotificationChannel": ("monitoring.googleapis.com", "roles/monitoring.editor"),
    "gcp:monitoring/alertPolicy:AlertPolicy": ("monitoring.googleapis.com", "roles/monitoring.editor"),
    "gcp:monitoring/dashboard:Dashboard": ("monitoring.googleapis.com", "roles/monitoring.editor"),
    "gcp:logging/metric:Metric": ("logging.googleapis.com", "roles/logging.configWriter"),
    "gcp:cloudrunv2/job:Job": ("run.googleapis.com", "roles/run.admin"),
    "gcp:cloudrunv2/jobIamMember:JobIamMember": ("run.googleapis.com", "roles/run.admin"),
    "gcp:cloudrunv2/jobIamBinding:JobIamBinding": ("run.googleapis.com", "roles/run.admin"),
    "gcp:cloudscheduler/job:Job": ("cloudscheduler.googleapis.com", "roles/cloudscheduler.admin"),
}
# Data sources read while the program runs, i.e. already at `pulumi preview`: their APIs must be
# on before the first preview (both are on by default in a new project).
API_OF_INVOKE: dict[str, str] = {
    "gcp:bigquery/getDefaultServiceAccount:getDefaultServiceAccount": "bigquery.googleapis.com",
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": "storage.googleapis.com",
}
# Creating a resource that runs as a service account (jobs, schedules, transfers) also needs
# `iam.serviceAccounts.actAs` on that account.
ACT_AS_ROLE = "roles/iam.serviceAccountUser"


def _applies(r: Any) -> bool:
    return r.custom and not r.type.startswith("pulumi:providers:")


def api_of(r: Any) -> str | None:
    """The Google API a planned resource needs (None for providers, components, unknown types)."""
    return API_OF_TYPE[r.type][0] if _applies(r) and r.type in API_OF_TYPE else None


@check(
    "api-known-type",
    "Every resource type and data source the program uses has an entry in the API table.",
    source="infra/deploy/apis.py: API_OF_TYPE, API_OF_INVOKE",
)
def known_types(stack: Any) -> Iterator[Finding]:
    for r in stack.graph.custom:
        if _applies(r) and r.type not in API_OF_TYPE:
            yield finding("api-known-type", r, "", f"type {r.type} is missing from the API table: which Google API does it need?")
    for token, args in stack.invokes:
        if token not in API_OF_INVOKE:
            yield Finding("api-known-type", token, "invoke", "", f"data source {token} ({args}) is missing from the API table")


@check(
    "api-enabled",
    "The API each resource needs is enabled by the stack (a projects.Service) in that resource's project.",
    source="Service Usage: a disabled API answers SERVICE_DISABLED; new projects enable only a default few",
)
def enabled(stack: Any) -> Iterator[Finding]:
    for r in stack.graph.custom:
        api = api_of(r)
        if api is None or api in BOOTSTRAP_APIS:
            continue
        if not r.project:
            yield finding("api-enabled", r, "project", f"no project can be told for this resource, so {api} cannot be checked")
        elif (r.project, api) not in stack.services:
            yield finding("api-enabled", r, "", f"{api} is never enabled in {r.project}: creating it fails with SERVICE_DISABLED")


@check(
    "api-ordered",
    "Each resource is created after the enablement of the API it needs (depends on that projects.Service).",
    source="Pulumi creates resources in dependency order only; enabling an API takes effect before dependents start",
)
def ordered(stack: Any) -> Iterator[Finding]:
    for r in stack.graph.custom:
        api = api_of(r)
        service = stack.services.get((r.project or "", api or ""))
        if service is not None and service is not r and not stack.graph.after(r, service):
            yield finding("api-ordered", r, "", f"does not depend on enabling {api} ({service.name}): it can be created first and fail")


def bootstrap_apis(stack: Any) -> dict[str, set[str]]:
    """Project -> APIs that must be on before the first preview (the stack cannot enable them)."""
    out: dict[str, set[str]] = {}
    for r in stack.of_type(SERVICE):
        out.setdefault(r.project or "", set()).update(BOOTSTRAP_APIS)
    for token, args in stack.invokes:
        if token in API_OF_INVOKE and args.get("project"):
            out.setdefault(args["project"], set()).add(API_OF_INVOKE[token])
    return out


def deployer_roles(stack: Any) -> dict[str, set[str]]:
    """Project -> roles the identity running `pulumi up` needs there (from the types it creates)."""
    out: dict[str, set[str]] = {}
    for r in stack.graph.custom:
        if _applies(r) and r.type in API_OF_TYPE and r.project:
            out.setdefault(r.project, set()).add(API_OF_TYPE[r.type][1])
        if r.type in ("gcp:cloudrunv2/job:Job", "gcp:cloudscheduler/job:Job", "gcp:bigquery/dataTransferConfig:DataTransferConfig") and r.project:
            out.setdefault(r.project, set()).add(ACT_AS_ROLE)
    return out
