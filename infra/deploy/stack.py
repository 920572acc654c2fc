"""What the checks read: the plan's resources, their graph, and the lookups several checks share."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from infra.deploy.graph import Graph
from infra.deploy.model import Finding
from infra.plan import PlannedResource
from pipelines.environments import REPO_ROOT

ACCOUNT = "gcp:serviceaccount/account:Account"
SERVICE = "gcp:projects/service:Service"
RUN_JOB = "gcp:cloudrunv2/job:Job"
SCHEDULER_JOB = "gcp:cloudscheduler/job:Job"
TRANSFER = "gcp:bigquery/dataTransferConfig:DataTransferConfig"
DATASET = "gcp:bigquery/dataset:Dataset"
SECRET = "gcp:secretmanager/secret:Secret"
BUCKET = "gcp:storage/bucket:Bucket"
SA_EMAIL = re.compile(r"^([a-z][a-z0-9-]{4,28}[a-z0-9])@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$")


@dataclass(frozen=True)
class Target:
    """What an IAM grant is on: a scope kind and its key (project, then the resource's id)."""

    scope: str  # project, dataset, secret, job, bucket, key, ...
    project: str | None
    resource: str


# IAM member types: scope, and how the target is read from the inputs.
IAM_MEMBER_TYPES: dict[str, str] = {
    "gcp:projects/iAMMember:IAMMember": "project",
    "gcp:bigquery/datasetIamMember:DatasetIamMember": "dataset",
    "gcp:secretmanager/secretIamMember:SecretIamMember": "secret",
    "gcp:cloudrunv2/jobIamMember:JobIamMember": "job",
    "gcp:storage/bucketIAMMember:BucketIAMMember": "bucket",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": "key",
}
# The authoritative form of the same grants: one role for a list of `members`.
IAM_BINDING_TYPES: dict[str, str] = {
    "gcp:projects/iAMBinding:IAMBinding": "project",
    "gcp:bigquery/datasetIamBinding:DatasetIamBinding": "dataset",
    "gcp:secretmanager/secretIamBinding:SecretIamBinding": "secret",
    "gcp:cloudrunv2/jobIamBinding:JobIamBinding": "job",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding": "bucket",
    "gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding": "key",
}


def _last(value: Any) -> str:
    return str(value).rsplit("/", 1)[-1]


@dataclass
class Stack:
    """A plan as the deploy checks see it."""

    stack: str
    resources: list[PlannedResource]
    config: Any = None  # infra.config.StackConfig
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    root: Path = REPO_ROOT  # the repository whose dbt project the dbt job runs
    graph: Graph = field(init=False)

    def __post_init__(self) -> None:
        self.graph = Graph(self.resources)

    @cached_property
    def input_findings(self) -> list[Finding]:
        from infra.deploy.inputs import check_inputs

        return [f for r in self.graph.custom for f in check_inputs(r)]

    def of_type(self, *types: str) -> list[PlannedResource]:
        return self.graph.of_type(*types)

    @cached_property
    def accounts(self) -> dict[str, PlannedResource]:
        """E-mail -> the service account the stack creates with that e-mail."""
        out = {}
        for r in self.of_type(ACCOUNT):
            account_id, project = r.raw_inputs.get("accountId"), r.project
            if isinstance(account_id, str) and project:
                out[f"{account_id}@{project}.iam.gserviceaccount.com"] = r
        return out

    @cached_property
    def services(self) -> dict[tuple[str, str], PlannedResource]:
        """(project, api) -> the `projects.Service` enabling it."""
        return {(r.project or "", str(r.raw_inputs.get("service"))): r for r in self.of_type(SERVICE)}

    @cached_property
    def grants(self) -> list[tuple[PlannedResource, Target, str, str]]:
        """Every grant of an IAM member or binding resource as (resource, target, role, member)."""
        out = []
        for r in self.graph.custom:
            scope = IAM_MEMBER_TYPES.get(r.type)
            if scope:
                out.append((r, self.target_of(r, scope), str(r.raw_inputs.get("role")), str(r.raw_inputs.get("member"))))
            scope = IAM_BINDING_TYPES.get(r.type)
            if scope:
                members = r.raw_inputs.get("members")
                for member in members if isinstance(members, list) else []:
                    out.append((r, self.target_of(r, scope), str(r.raw_inputs.get("role")), str(member)))
        return out

    def target_of(self, r: PlannedResource, scope: str) -> Target:
        i = r.raw_inputs
        if scope == "project":
            return Target("project", str(i.get("project")), str(i.get("project")))
        if scope == "dataset":
            return Target("dataset", r.project, _last(i.get("datasetId")))
        if scope == "secret":
            return Target("secret", r.project, _last(i.get("secretId")))
        if scope == "job":
            return Target("job", r.project, f"{i.get('location')}/{_last(i.get('name'))}")
        if scope == "bucket":
            return Target("bucket", None, _last(i.get("bucket")))
        return Target(scope, r.project, str(i.get("cryptoKeyId")))

    @cached_property
    def grants_by_member(self) -> dict[str, list[tuple[PlannedResource, Target, str]]]:
        out: dict[str, list[tuple[PlannedResource, Target, str]]] = defaultdict(list)
        for r, target, role, member in self.grants:
            out[member].append((r, target, role))
        return out

    @cached_property
    def grants_by_member_target(self) -> dict[tuple[str, Target], list[tuple[PlannedResource, str]]]:
        """(grant, role) by member and target: what one member holds on one resource, by lookup
        (an account holding a role on every job is not scanned once per job)."""
        out: dict[tuple[str, Target], list[tuple[PlannedResource, str]]] = defaultdict(list)
        for r, target, role, member in self.grants:
            out[member, target].append((r, role))
        return out

    @cached_property
    def targets(self) -> dict[Target, PlannedResource]:
        """The resources grants can be on, by the target key a grant names."""
        out: dict[Target, PlannedResource] = {}
        for r in self.of_type(DATASET):
            out[Target("dataset", r.project, str(r.raw_inputs.get("datasetId")))] = r
        for r in self.of_type(SECRET):
            out[Target("secret", r.project, str(r.raw_inputs.get("secretId")))] = r
        for r in self.of_type(RUN_JOB):
            out[Target("job", r.project, f"{r.raw_inputs.get('location')}/{r.raw_inputs.get('name')}")] = r
        for r in self.of_type(BUCKET):
            out[Target("bucket", None, str(r.raw_inputs.get("name")))] = r
        return out


def service_accounts_used(r: PlannedResource) -> Iterable[tuple[str, str]]:
    """(property path, e-mail) of each service account a resource runs as or acts with."""
    i = r.raw_inputs
    if r.type == RUN_JOB:
        yield "template.template.serviceAccount", (i.get("template") or {}).get("template", {}).get("serviceAccount")
    elif r.type == SCHEDULER_JOB:
        target = i.get("httpTarget") or {}
        for kind in ("oauthToken", "oidcToken"):
            if kind in target:
                yield f"httpTarget.{kind}.serviceAccountEmail", target[kind].get("serviceAccountEmail")
    elif r.type == TRANSFER:
        yield "serviceAccountName", i.get("serviceAccountName")


def member_email(member: str) -> str | None:
    return member.split(":", 1)[1] if member.startswith("serviceAccount:") else None
