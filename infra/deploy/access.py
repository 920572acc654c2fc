"""Permissions each resource's identity needs for the resource to work once created.

Requirements are read from the planned resources themselves (who a schedule authenticates as and
what it calls, which secrets a job mounts, what a transfer copies, what dbt selects), never from
the grant derivation they would otherwise just mirror, and are met only by grants in the plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from infra.deploy.model import Finding, check, finding
from infra.deploy.stack import RUN_JOB, SCHEDULER_JOB, TRANSFER, Target, service_accounts_used
from infra.plan import PlannedResource
from pipelines import naming, yaml_text

_READ = ("bigquery.datasets.get", "bigquery.tables.get", "bigquery.tables.getData", "bigquery.tables.list")
_WRITE = (*_READ, "bigquery.tables.create", "bigquery.tables.update", "bigquery.tables.updateData", "bigquery.tables.delete")
# The permissions of the predefined roles a grant may carry here (the subset the checks ask
# about), from IAM's "roles and permissions" reference pages.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "roles/bigquery.dataViewer": frozenset(_READ),
    "roles/bigquery.dataEditor": frozenset(_WRITE),
    "roles/bigquery.dataOwner": frozenset((*_WRITE, "bigquery.datasets.update", "bigquery.datasets.delete")),
    "roles/bigquery.jobUser": frozenset({"bigquery.jobs.create"}),
    "roles/bigquery.user": frozenset({"bigquery.jobs.create", "bigquery.datasets.create", "bigquery.transfers.get"}),
    "roles/bigquery.admin": frozenset((*_WRITE, "bigquery.datasets.update", "bigquery.jobs.create", "bigquery.transfers.update")),
    "roles/secretmanager.secretAccessor": frozenset({"secretmanager.versions.access"}),
    "roles/run.invoker": frozenset({"run.jobs.run", "run.routes.invoke"}),
    "roles/run.jobsExecutor": frozenset({"run.jobs.run"}),
    "roles/run.viewer": frozenset({"run.jobs.get", "run.executions.get", "run.executions.list", "run.tasks.get", "run.tasks.list"}),
    "roles/storage.objectViewer": frozenset({"storage.objects.get", "storage.objects.list"}),
    "roles/cloudkms.cryptoKeyEncrypterDecrypter": frozenset(
        {"cloudkms.cryptoKeyVersions.useToEncrypt", "cloudkms.cryptoKeyVersions.useToDecrypt"}
    ),
}
RUN_URI = re.compile(r"^https://run\.googleapis\.com/v2/projects/([^/]+)/locations/([^/]+)/jobs/([^/:]+):run$")
GOOGLE_API = re.compile(r"^https://[a-z0-9.-]+\.googleapis\.com/")
# Dataset copy (BigQuery "Manage datasets: copy datasets", required permissions): jobs in the
# destination project; datasets.get and tables.list on both datasets; datasets.update and
# tables.create on the destination (the copy itself reads and writes table data).
COPY_NEEDS = {
    "project": ("bigquery.jobs.create",),
    "source": ("bigquery.datasets.get", "bigquery.tables.list", "bigquery.tables.getData"),
    "destination": (
        "bigquery.datasets.get", "bigquery.datasets.update", "bigquery.tables.list", "bigquery.tables.create", "bigquery.tables.updateData",
    ),
}
DBT_BUILDS = ("bigquery.tables.create", "bigquery.tables.updateData", "bigquery.tables.getData")


def holders(stack: Any, member: str, permission: str, scope: str, project: str | None, resource: str) -> list[PlannedResource]:
    """The grants in the plan giving `member` `permission` on the resource (or its whole project)."""
    wanted = dict.fromkeys([Target(scope, project, resource), Target("project", project, project or "")])
    return [
        r
        for target in wanted
        for r, role in stack.grants_by_member_target.get((member, target), [])
        if permission in ROLE_PERMISSIONS.get(role, frozenset())
    ]


def secret_refs(job: PlannedResource) -> list[tuple[str, str]]:
    """(property path, secret id) of each secret a Cloud Run job's containers read."""
    refs = []
    template = (job.raw_inputs.get("template") or {}).get("template") or {}
    for c, container in enumerate(template.get("containers") or []):
        for e, env in enumerate(container.get("envs") or []):
            secret = ((env.get("valueSource") or {}).get("secretKeyRef") or {}).get("secret")
            if isinstance(secret, str):
                refs.append((f"template.template.containers.{c}.envs.{e}.valueSource.secretKeyRef.secret", secret.rsplit("/", 1)[-1]))
    return refs


def _need(stack: Any, rule: str, r: PlannedResource, path: str, email: str, permissions: tuple[str, ...], scope: str, project: str | None, resource: str, why: str) -> Iterator[Finding]:
    missing = [p for p in permissions if not holders(stack, f"serviceAccount:{email}", p, scope, project, resource)]
    if missing:
        where = f"{scope} {resource}" if scope != "project" else f"project {resource}"
        yield finding(rule, r, path, f"{email} lacks {', '.join(missing)} on {where} ({project}): {why}")


@check(
    "access-scheduler-invokes-job",
    "Each schedule calls an existing Cloud Run job with an OAuth token of an account that may run that job.",
    source="Cloud Run: jobs.run needs run.jobs.run (roles/run.invoker on the job); Google APIs take OAuth tokens, not OIDC",
)
def scheduler_invokes_job(stack: Any) -> Iterator[Finding]:
    jobs = {(r.project, r.raw_inputs.get("location"), r.raw_inputs.get("name")): r for r in stack.of_type(RUN_JOB)}
    for r in stack.of_type(SCHEDULER_JOB):
        target = r.raw_inputs.get("httpTarget") or {}
        uri = str(target.get("uri", ""))
        match = RUN_URI.match(uri)
        if GOOGLE_API.match(uri) and "oauthToken" not in target:
            yield finding("access-scheduler-invokes-job", r, "httpTarget", "calls a Google API without an oauthToken: the call is refused (401)")
        if not match:
            continue
        project, location, job = match.groups()
        if (project, location, job) not in jobs:
            yield finding("access-scheduler-invokes-job", r, "httpTarget.uri", f"starts job {job} in {project}/{location}, which the stack does not create")
            continue
        email = (target.get("oauthToken") or {}).get("serviceAccountEmail")
        if isinstance(email, str):
            yield from _need(stack, "access-scheduler-invokes-job", r, "httpTarget.oauthToken.serviceAccountEmail", email, ("run.jobs.run",), "job", project, f"{location}/{job}", "every scheduled start is refused (403)")


@check(
    "access-job-reads-secrets",
    "Each Cloud Run job's service account may read every Secret Manager secret the job references.",
    source="Cloud Run: secrets mounted as env vars need secretmanager.versions.access for the job's service account",
)
def job_reads_secrets(stack: Any) -> Iterator[Finding]:
    for job in stack.of_type(RUN_JOB):
        email = dict(service_accounts_used(job)).get("template.template.serviceAccount")
        for path, secret in secret_refs(job):
            if not isinstance(email, str):
                yield finding("access-job-reads-secrets", job, path, f"reads secret {secret} but runs as the default compute account")
                continue
            yield from _need(stack, "access-job-reads-secrets", job, path, email, ("secretmanager.versions.access",), "secret", job.project, secret, "the job cannot be created or started")


@check(
    "access-transfer",
    "A dataset-copy transfer runs as a service account holding what the copy needs in both projects.",
    source="BigQuery 'Manage datasets: copy datasets': bigquery.jobs.create on the destination project, datasets.get/tables.list on both datasets, datasets.update/tables.create on the destination",
)
def transfer_access(stack: Any) -> Iterator[Finding]:
    for r in stack.of_type(TRANSFER):
        i = r.raw_inputs
        if i.get("dataSourceId") != "cross_region_copy":
            continue
        email, params = i.get("serviceAccountName"), i.get("params") or {}
        if not isinstance(email, str) or not email:
            yield finding("access-transfer", r, "serviceAccountName", "runs as whoever ran `pulumi up`: set a service account")
            continue
        destination = str(i.get("destinationDatasetId"))
        if Target("dataset", r.project, destination) not in stack.targets:
            yield finding("access-transfer", r, "destinationDatasetId", f"copies into {destination}, which the stack does not create in {r.project}")
        rule = "access-transfer"
        yield from _need(stack, rule, r, "serviceAccountName", email, COPY_NEEDS["project"], "project", r.project, r.project or "", "every copy run fails")
        yield from _need(stack, rule, r, "params.source_dataset_id", email, COPY_NEEDS["source"], "dataset", params.get("source_project_id"), str(params.get("source_dataset_id")), "the copy cannot read its source")
        yield from _need(stack, rule, r, "destinationDatasetId", email, COPY_NEEDS["destination"], "dataset", r.project, destination, "the copy cannot write its destination")


def _render(text: str, env: dict[str, str], target: dict[str, str]) -> str:
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(str(text)).render(
        env_var=lambda key, default=None: env.get(key, default), target=target
    )


class _Unreadable(ValueError):
    """A file of the dbt project that cannot be read as the check needs it (names the file)."""


def _read(root: Path, path: Path, pick: Callable[[Any], Any]) -> Any:
    """`pick` of the YAML file at `path`; anything unreadable is `_Unreadable`, naming the file."""
    try:
        return pick(yaml_text.read(path))
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise _Unreadable(f"{path.relative_to(root)}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None


@cache
def _dbt_sources(root: Path) -> tuple[tuple[str, str, str], ...]:
    """(source name, database template, schema template) of every dbt source."""

    def declared(data: Any) -> list[tuple[str, str, str]]:
        return [
            (s["name"], str(s.get("database", "{{ target.database }}")), str(s.get("schema", s["name"])))
            for s in (data or {}).get("sources", []) or []
        ]

    return tuple(t for path in sorted((root / "transform" / "models").rglob("*.yml")) for t in _read(root, path, declared))


@cache
def _dbt_profile(root: Path) -> dict[str, Any]:
    return _read(root, root / "transform" / "profiles.yml", lambda data: data["toltek"]["outputs"])


def _args(job: PlannedResource) -> list[str]:
    containers = ((job.raw_inputs.get("template") or {}).get("template") or {}).get("containers") or []
    return list((containers[0].get("args") if containers else None) or [])


def is_dbt_job(job: PlannedResource) -> bool:
    """`toltek transform --env <target>` (or dbt's own `build --target <target>`)."""
    args = _args(job)
    return bool(args) and (args[0] == "transform" and "--env" in args or args[0] == "build" and "--target" in args)


def dbt_target(args: list[str]) -> str | None:
    flag = "--env" if args and args[0] == "transform" else "--target"
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


def is_pipeline_job(job: PlannedResource) -> bool:
    """A pipeline's job: `toltek run <name> --env <env> ...`."""
    args = _args(job)
    return bool(args) and args[0] == "run"


@check(
    "access-dbt",
    "The dbt job's account can run jobs where it builds, write the warehouse datasets, read every source it selects and, for `toltek transform`, list the executions of every pipeline job.",
    source="BigQuery: queries need bigquery.jobs.create in the job project, tables.getData on what they read, tables.create/updateData where they write; Cloud Run: executions.list/get on a job (roles/run.viewer on the job)",
)
def dbt_access(stack: Any) -> Iterator[Finding]:
    root = stack.root
    for job in stack.of_type(RUN_JOB):
        if not is_dbt_job(job):
            continue
        containers = job.raw_inputs["template"]["template"]["containers"]
        args = containers[0]["args"]
        env = {e["name"]: e["value"] for e in containers[0].get("envs") or [] if isinstance(e.get("value"), str)}
        try:
            profile, declared = _dbt_profile(root), _dbt_sources(root)
        except _Unreadable as exc:
            yield finding("access-dbt", job, "template.template.containers.0.args", f"the dbt project cannot be read: {exc}")
            continue
        output = profile.get(dbt_target(args) or "")
        email = dict(service_accounts_used(job)).get("template.template.serviceAccount")
        if output is None or not isinstance(email, str):
            yield finding("access-dbt", job, "template.template.containers.0.args", "runs a dbt target the profile does not define, or without a service account")
            continue
        try:
            project = _render(output["project"], env, {})
            target = {"type": output["type"], "database": project}
            sources = [(n, _render(d, env, target), _render(s, env, target)) for n, d, s in declared]
        except Exception as exc:  # noqa: BLE001 - a jinja error names what the job's env lacks
            yield finding("access-dbt", job, "template.template.containers.0.envs", f"the dbt profile or sources cannot be rendered with the job's environment: {exc}")
            continue
        yield from _need(stack, "access-dbt", job, "template.template.serviceAccount", email, ("bigquery.jobs.create",), "project", project, project, "dbt cannot run a query")
        for dataset in naming.WAREHOUSE_DATASETS:
            yield from _need(stack, "access-dbt", job, "template.template.serviceAccount", email, DBT_BUILDS, "dataset", project, dataset, "dbt cannot build its models")
        for name, database, schema in sources:
            yield from _need(stack, "access-dbt", job, "template.template.serviceAccount", email, ("bigquery.tables.getData",), "dataset", database, schema, f"dbt cannot read source {name}")
        if args[0] == "transform":
            for upstream in stack.of_type(RUN_JOB):
                if is_pipeline_job(upstream):
                    where = f"{upstream.raw_inputs.get('location')}/{upstream.raw_inputs.get('name')}"
                    why = f"toltek transform cannot check pipeline job {upstream.raw_inputs.get('name')}"
                    yield from _need(stack, "access-dbt", job, "template.template.serviceAccount", email, ("run.executions.list", "run.executions.get"), "job", upstream.project, where, why)
