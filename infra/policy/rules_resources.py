"""Rules on the resources themselves: keys, jobs, schedules, images, repositories, buckets."""

from __future__ import annotations

import re
from collections.abc import Iterator

from infra.policy.model import (
    CRITICAL,
    HIGH,
    MEDIUM,
    UNKNOWN,
    Res,
    get,
    items,
    iter_containers,
    rule,
)
from infra.policy.rules_iam import DEFAULT_ACCOUNTS

RUN_JOB = "gcp:cloudrunv2/job:Job"
RUN_SERVICE = "gcp:cloudrunv2/service:Service"
SCHEDULER = "gcp:cloudscheduler/job:Job"
REPOSITORY = "gcp:artifactregistry/repository:Repository"
BUCKET = "gcp:storage/bucket:Bucket"
# Where Cloud Scheduler may send an OAuth token: Google's APIs (the docs: "*.googleapis.com").
GOOGLE_API = re.compile(r"^https://[a-z0-9.-]+\.googleapis\.com(?:[/:?]|$)", re.IGNORECASE)


@rule(
    "sa-no-keys",
    "No service account keys or HMAC keys: workloads use their attached identity.",
    severity=CRITICAL,
    types=("gcp:serviceaccount/key:Key", "gcp:storage/hmacKey:HmacKey"),
    mirrors=("CIS GCP 3.0 1.4", "CKV2_GCP_3"),
    rationale="A key file is a long-lived credential that leaks; attached identities rotate themselves.",
)
def no_keys(res: Res) -> Iterator[str]:
    yield f"{res.type.rsplit(':', 1)[-1]} {res.name} creates a long-lived credential"


@rule(
    "run-dedicated-service-account",
    "Every Cloud Run job and service runs as its own named, non-default service account.",
    severity=HIGH,
    types=(RUN_JOB, RUN_SERVICE),
    rationale="Without one it runs as the default compute account, which holds the project's editor role.",
)
def dedicated_service_account(res: Res) -> Iterator[str]:
    path = ("template", "template", "serviceAccount") if res.type == RUN_JOB else ("template", "serviceAccount")
    account = get(res.props, *path)
    if account is UNKNOWN:
        return  # computed by this stack: a created account, not a default one
    if not account:
        yield f"{res.name} names no service account, so it runs as the default compute account"
    elif DEFAULT_ACCOUNTS.search(str(account)):
        yield f"{res.name} runs as the default account {account}"


@rule(
    "run-image-by-digest",
    "Containers reference their image by digest (@sha256:…), never by a movable tag.",
    severity=HIGH,
    types=(RUN_JOB, RUN_SERVICE),
    mirrors=("CKV_K8S_43 (Kubernetes analogue)",),
    rationale="A tag can be repointed: the code that runs would no longer be the code that was reviewed.",
)
def image_by_digest(res: Res) -> Iterator[str]:
    for container in iter_containers(res):
        image = get(container, "image")
        if isinstance(image, str) and "@sha256:" not in image:
            yield f"{res.name} runs image {image} by tag"


@rule(
    "run-service-invoker-iam",
    "Cloud Run services check IAM on every request: invoker IAM is never disabled.",
    severity=CRITICAL,
    types=(RUN_SERVICE,),
    mirrors=("CKV_GCP_102", "KICS 07a27a3b-46e9-4172-bc68-25e3277d7998"),
    rationale="With the invoker check disabled, anyone who can reach the service's URL calls it: allUsers by another name.",
)
def service_invoker_iam(res: Res) -> Iterator[str]:
    if get(res.props, "invokerIamDisabled") is True:
        yield f"{res.name} disables the invoker IAM check: anyone who reaches its URL can call it"


@rule(
    "run-job-no-overlap",
    "Cloud Run jobs run one task with parallelism 1, so runs of a pipeline never overlap.",
    severity=MEDIUM,
    types=(RUN_JOB,),
    rationale="Two concurrent loads of one pipeline race on its state and its merge staging tables.",
)
def job_no_overlap(res: Res) -> Iterator[str]:
    template = get(res.props, "template", default={})
    for key in ("taskCount", "parallelism"):
        value = get(template, key)
        if value is not UNKNOWN and value != 1:
            yield f"{res.name}: {key} is {value if value is not None else 'unset'}, must be 1"


@rule(
    "scheduler-oauth-dedicated-account",
    "Scheduler jobs call their target with an OAuth token of a dedicated, non-default service account.",
    severity=HIGH,
    types=(SCHEDULER,),
    rationale="The Cloud Run Admin API needs OAuth; an unauthenticated or default-account call is a hole, and an "
    "OAuth token sent anywhere but a Google API hands the account's access to that host.",
)
def scheduler_oauth(res: Res) -> Iterator[str]:
    target = get(res.props, "httpTarget")
    if target is UNKNOWN or not target:
        return
    email = get(target, "oauthToken", "serviceAccountEmail")
    if email is UNKNOWN:
        return
    if not email:
        how = "an OIDC token" if get(target, "oidcToken") else "no token"
        yield f"{res.name} calls {get(target, 'uri')} with {how}; use an OAuth token"
    elif DEFAULT_ACCOUNTS.search(str(email)):
        yield f"{res.name} authenticates as the default account {email}"
    uri = get(target, "uri")
    if email and isinstance(uri, str) and not GOOGLE_API.match(uri):
        yield f"{res.name} sends an OAuth token of {email} to {uri}, not a Google API (https://….googleapis.com)"


@rule(
    "repo-immutable-tags",
    "Docker repositories have immutable tags.",
    severity=HIGH,
    types=(REPOSITORY,),
    rationale="With mutable tags a pushed image can be replaced under the same name.",
)
def immutable_tags(res: Res) -> Iterator[str]:
    if get(res.props, "format") == "DOCKER" and get(res.props, "dockerConfig", "immutableTags") not in (True, UNKNOWN):
        yield f"{res.name} allows tags to be overwritten"


@rule(
    "repo-cleanup-policy",
    "Repositories have active cleanup policies.",
    severity=MEDIUM,
    types=(REPOSITORY,),
    rationale="Old images pile up cost and old vulnerabilities; dry-run policies delete nothing.",
)
def cleanup_policy(res: Res) -> Iterator[str]:
    if not items(res.props, "cleanupPolicies") and get(res.props, "cleanupPolicies") is not UNKNOWN:
        yield f"{res.name} has no cleanup policy"
    elif get(res.props, "cleanupPolicyDryRun") is True:
        yield f"{res.name} runs its cleanup policies in dry-run mode only"


@rule(
    "bucket-uniform-access",
    "Buckets use uniform bucket-level access (no per-object ACLs).",
    severity=HIGH,
    types=(BUCKET,),
    mirrors=("CIS GCP 3.0 5.2", "CKV_GCP_29", "AVD-GCP-0002", "KICS bb0db090-5509-4853-a827-75ced0b3caa0"),
    rationale="Object ACLs bypass bucket IAM and escape review.",
)
def uniform_access(res: Res) -> Iterator[str]:
    if get(res.props, "uniformBucketLevelAccess") not in (True, UNKNOWN):
        yield f"{res.name} allows object ACLs"


@rule(
    "bucket-public-access-prevention",
    "Buckets enforce public access prevention.",
    severity=CRITICAL,
    types=(BUCKET,),
    mirrors=("CKV_GCP_114",),
    rationale="Enforced prevention blocks public grants even if someone adds one later.",
)
def public_access_prevention(res: Res) -> Iterator[str]:
    if get(res.props, "publicAccessPrevention") not in ("enforced", UNKNOWN):
        yield f"{res.name} does not enforce public access prevention"


@rule(
    "bucket-versioning",
    "Buckets that hold state keep object versions (label ephemeral=true for scratch buckets).",
    severity=MEDIUM,
    types=(BUCKET,),
    mirrors=("CKV_GCP_78", "AVD-GCP-0078", "KICS e7e961ac-d17e-4413-84bc-8a1fbe242944"),
    rationale="Versions make an overwritten or deleted landing file recoverable.",
)
def versioning(res: Res) -> Iterator[str]:
    if get(res.props, "labels", "ephemeral") == "true":
        return
    if get(res.props, "versioning", "enabled") not in (True, UNKNOWN):
        yield f"{res.name} does not keep object versions"
