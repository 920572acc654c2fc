"""Roles judged by what they allow: the pack's own table of roles and their permissions.

Rules never match role names ("ends in admin"); they ask which permissions a role carries. The
predefined roles below are the ones the stacks use plus the well-known dangerous ones, with
their permissions as Google's IAM roles reference lists them (wildcards stand for a whole
service, as for the basic roles). A role that is neither here nor a custom role defined in the
same stack has permissions the pack cannot know, and `iam-known-roles` refuses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

PREDEFINED: dict[str, frozenset[str]] = {
    name: frozenset(perms)
    for name, perms in {
        # --- what the stacks grant -----------------------------------------------------------
        "roles/bigquery.dataViewer": [
            "bigquery.datasets.get", "bigquery.datasets.getIamPolicy", "bigquery.models.getData",
            "bigquery.models.getMetadata", "bigquery.models.list", "bigquery.routines.get", "bigquery.routines.list",
            "bigquery.tables.createSnapshot", "bigquery.tables.export", "bigquery.tables.get", "bigquery.tables.getData",
            "bigquery.tables.getIamPolicy", "bigquery.tables.list", "resourcemanager.projects.get",
        ],
        "roles/bigquery.dataEditor": [
            "bigquery.datasets.create", "bigquery.datasets.get", "bigquery.datasets.getIamPolicy",
            "bigquery.models.create", "bigquery.models.delete", "bigquery.models.getData", "bigquery.models.getMetadata",
            "bigquery.models.list", "bigquery.models.updateData", "bigquery.models.updateMetadata",
            "bigquery.routines.create", "bigquery.routines.delete", "bigquery.routines.get", "bigquery.routines.list",
            "bigquery.routines.update", "bigquery.tables.create", "bigquery.tables.createSnapshot",
            "bigquery.tables.delete", "bigquery.tables.export", "bigquery.tables.get", "bigquery.tables.getData",
            "bigquery.tables.getIamPolicy", "bigquery.tables.list", "bigquery.tables.update",
            "bigquery.tables.updateData", "bigquery.tables.updateTag", "resourcemanager.projects.get",
        ],
        "roles/bigquery.dataOwner": [
            "bigquery.datasets.create", "bigquery.datasets.delete", "bigquery.datasets.get",
            "bigquery.datasets.getIamPolicy", "bigquery.datasets.setIamPolicy", "bigquery.datasets.update",
            "bigquery.datasets.updateTag", "bigquery.models.*", "bigquery.routines.*", "bigquery.tables.create",
            "bigquery.tables.delete", "bigquery.tables.export", "bigquery.tables.get", "bigquery.tables.getData",
            "bigquery.tables.getIamPolicy", "bigquery.tables.list", "bigquery.tables.setCategory",
            "bigquery.tables.setIamPolicy", "bigquery.tables.update", "bigquery.tables.updateData",
            "bigquery.tables.updateTag", "resourcemanager.projects.get", "resourcemanager.projects.list",
        ],
        "roles/bigquery.jobUser": ["bigquery.jobs.create", "resourcemanager.projects.get", "resourcemanager.projects.list"],
        "roles/secretmanager.secretAccessor": ["secretmanager.versions.access"],
        "roles/run.invoker": ["run.jobs.run", "run.routes.invoke"],
        "roles/run.viewer": [
            "run.configurations.get", "run.configurations.list", "run.executions.get", "run.executions.list",
            "run.jobs.get", "run.jobs.getIamPolicy", "run.jobs.list", "run.locations.list", "run.operations.get",
            "run.operations.list", "run.revisions.get", "run.revisions.list", "run.routes.get", "run.routes.list",
            "run.services.get", "run.services.getIamPolicy", "run.services.list", "run.tasks.get", "run.tasks.list",
            "resourcemanager.projects.get",
        ],
        "roles/storage.objectViewer": [
            "storage.folders.get", "storage.folders.list", "storage.managedFolders.get", "storage.managedFolders.list",
            "storage.objects.get", "storage.objects.list", "resourcemanager.projects.get",
        ],
        "roles/cloudkms.cryptoKeyEncrypterDecrypter": [
            "cloudkms.cryptoKeyVersions.useToDecrypt", "cloudkms.cryptoKeyVersions.useToEncrypt",
            "cloudkms.locations.get", "cloudkms.locations.list", "resourcemanager.projects.get",
        ],
        # --- basic roles: every service (viewer: every read, data included) --------------------
        "roles/owner": ["*"],
        "roles/editor": ["*.create", "*.delete", "*.get", "*.list", "*.update", "*.getData", "*.updateData",
                         "iam.serviceAccounts.actAs", "secretmanager.versions.access", "run.jobs.run"],
        "roles/viewer": ["*.get", "*.list", "*.getIamPolicy", "bigquery.tables.getData"],
        # --- dangerous roles an engineer reaches for --------------------------------------------
        "roles/iam.serviceAccountUser": ["iam.serviceAccounts.actAs", "iam.serviceAccounts.get", "iam.serviceAccounts.list"],
        "roles/iam.serviceAccountTokenCreator": [
            "iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.getOpenIdToken", "iam.serviceAccounts.implicitDelegation",
            "iam.serviceAccounts.signBlob", "iam.serviceAccounts.signJwt", "iam.serviceAccounts.get", "iam.serviceAccounts.list",
        ],
        "roles/iam.workloadIdentityUser": [
            "iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.getOpenIdToken", "iam.serviceAccounts.get",
            "iam.serviceAccounts.list",
        ],
        "roles/iam.serviceAccountKeyAdmin": ["iam.serviceAccountKeys.*", "iam.serviceAccounts.get", "iam.serviceAccounts.list"],
        "roles/iam.serviceAccountAdmin": ["iam.serviceAccounts.*", "resourcemanager.projects.get"],
        "roles/iam.securityAdmin": ["*.getIamPolicy", "*.setIamPolicy", "iam.roles.*", "iam.serviceAccountKeys.*"],
        "roles/iam.roleAdmin": ["iam.roles.*"],
        "roles/resourcemanager.projectIamAdmin": ["resourcemanager.projects.getIamPolicy", "resourcemanager.projects.setIamPolicy"],
        "roles/resourcemanager.organizationAdmin": ["resourcemanager.*", "*.setIamPolicy"],
        "roles/resourcemanager.folderAdmin": ["resourcemanager.folders.*", "*.setIamPolicy"],
        "roles/bigquery.admin": ["bigquery.*"],
        "roles/bigquery.user": ["bigquery.jobs.create", "bigquery.datasets.create", "bigquery.datasets.get", "bigquery.tables.list"],
        "roles/secretmanager.admin": ["secretmanager.*"],
        "roles/secretmanager.secretVersionManager": ["secretmanager.versions.add", "secretmanager.versions.destroy",
                                                     "secretmanager.versions.disable", "secretmanager.versions.enable"],
        "roles/secretmanager.secretVersionAdder": ["secretmanager.versions.add"],
        "roles/storage.admin": ["storage.*"],
        "roles/storage.objectAdmin": ["storage.objects.*", "storage.managedFolders.*", "storage.folders.*"],
        "roles/storage.legacyBucketOwner": ["storage.buckets.get", "storage.buckets.update", "storage.buckets.setIamPolicy",
                                            "storage.buckets.getIamPolicy", "storage.objects.list", "storage.objects.create",
                                            "storage.objects.delete"],
        "roles/run.admin": ["run.*", "iam.serviceAccounts.actAs"],
        "roles/run.developer": ["run.jobs.*", "run.services.create", "run.services.update", "run.routes.invoke"],
        "roles/cloudkms.admin": ["cloudkms.keyRings.*", "cloudkms.cryptoKeys.*", "cloudkms.cryptoKeyVersions.destroy"],
        "roles/cloudscheduler.admin": ["cloudscheduler.*", "iam.serviceAccounts.actAs"],
        "roles/artifactregistry.reader": ["artifactregistry.repositories.downloadArtifacts", "artifactregistry.repositories.get",
                                          "artifactregistry.repositories.list", "artifactregistry.dockerimages.get"],
        "roles/artifactregistry.writer": ["artifactregistry.repositories.uploadArtifacts", "artifactregistry.repositories.downloadArtifacts"],
    }.items()
}

# Permissions that make a role dangerous, by what they let the holder do.
RISKY: dict[str, tuple[str, ...]] = {
    "act as another identity": (
        "iam.serviceAccounts.actAs", "iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.getOpenIdToken",
        "iam.serviceAccounts.signBlob", "iam.serviceAccounts.signJwt", "iam.serviceAccounts.implicitDelegation",
        "iam.serviceAccountKeys.create", "storage.hmacKeys.create",
    ),
    # A dataset's access list is edited through datasets.update (BigQuery's `access[]`), not only setIamPolicy.
    "change who has access": ("*.setIamPolicy", "iam.roles.create", "iam.roles.update", "orgpolicy.policy.set", "bigquery.datasets.update"),
    "read secrets": ("secretmanager.versions.access",),
    # Adding a version swaps the credential a pipeline uses; disabling or destroying one stops it.
    "change secrets": (
        "secretmanager.versions.add", "secretmanager.versions.destroy", "secretmanager.versions.disable",
        "secretmanager.versions.enable", "secretmanager.secrets.update", "secretmanager.secrets.delete",
    ),
    "read data": ("bigquery.tables.getData", "bigquery.tables.export", "storage.objects.get", "cloudkms.cryptoKeyVersions.useToDecrypt"),
    "change or destroy data": ("bigquery.tables.updateData", "bigquery.tables.delete", "bigquery.datasets.delete", "storage.objects.delete", "storage.objects.create"),
    "run workloads": ("run.jobs.run", "run.jobs.runWithOverrides", "run.routes.invoke", "run.jobs.create", "run.jobs.update"),
}
ESCALATION = ("act as another identity", "change who has access")


def _overlaps(granted: str, wanted: str) -> bool:
    """Whether two permission patterns (`*` wildcards) can name a common permission."""
    if "*" not in granted or "*" not in wanted:
        return fnmatchcase(wanted, granted) or fnmatchcase(granted, wanted)
    head_a, tail_a = granted.split("*", 1)[0], granted.rsplit("*", 1)[1]
    head_b, tail_b = wanted.split("*", 1)[0], wanted.rsplit("*", 1)[1]
    return (head_a.startswith(head_b) or head_b.startswith(head_a)) and (tail_a.endswith(tail_b) or tail_b.endswith(tail_a))


def allows(permissions: Iterable[str], *wanted: str) -> list[str]:
    """The permissions among `wanted` (patterns allowed) that `permissions` carry."""
    permissions = list(permissions)
    return [w for w in wanted if any(_overlaps(p, w) for p in permissions)]


def risks(permissions: Iterable[str], *classes: str) -> dict[str, list[str]]:
    """Class -> the risky permissions of that class `permissions` carry (only classes it hits)."""
    permissions = list(permissions)
    out = {}
    for name in classes or tuple(RISKY):
        hit = allows(permissions, *RISKY[name])
        if hit:
            out[name] = hit
    return out


def is_custom(role: str) -> bool:
    return role.startswith(("projects/", "organizations/"))
