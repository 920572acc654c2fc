"""Turn a derived `Grant` into its additive IAM member resource."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.grants import Grant, resource_name


def grant_resource(grant: Grant, opts: pulumi.ResourceOptions, *, location: str | None = None) -> pulumi.CustomResource:
    """One `*IamMember` for `grant` (never `*IamBinding`/`*IamPolicy`: those are authoritative)."""
    name = resource_name(grant)
    if grant.scope == "project":
        return gcp.projects.IAMMember(name, project=grant.project, role=grant.role, member=grant.member, opts=opts)
    if grant.scope == "dataset":
        return gcp.bigquery.DatasetIamMember(
            name, project=grant.project, dataset_id=grant.resource, role=grant.role, member=grant.member, opts=opts
        )
    if grant.scope == "secret":
        return gcp.secretmanager.SecretIamMember(
            name, project=grant.project, secret_id=grant.resource, role=grant.role, member=grant.member, opts=opts
        )
    if grant.scope == "job":
        if location is None:
            raise ValueError("a job grant needs the job's location")
        return gcp.cloudrunv2.JobIamMember(
            name,
            project=grant.project,
            location=location,
            name=grant.resource,
            role=grant.role,
            member=grant.member,
            opts=opts,
        )
    if grant.scope == "bucket":
        condition = None
        if grant.condition:
            condition = gcp.storage.BucketIAMMemberConditionArgs(
                title="landing prefix", description="objects under this pipeline's landing prefix", expression=grant.condition
            )
        return gcp.storage.BucketIAMMember(
            name, bucket=grant.resource, role=grant.role, member=grant.member, condition=condition, opts=opts
        )
    raise ValueError(f"unknown grant scope {grant.scope!r}")
