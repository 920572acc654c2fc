"""Registry-aware rules: the stack grants exactly what the `Pipeline` classes declare."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

from infra.grants import RUN_VIEWER, pipeline_grants, service_account_email, stack_grants
from infra.policy.allowances import allowed, principal
from infra.policy.context import StackContext
from infra.policy.iam import ACCOUNT, ALL_IAM_TYPES, email_of, known, short
from infra.policy.iam import stack_grants as resolved_grants
from infra.policy.model import CRITICAL, HIGH, Res, get, rule
from infra.policy.rules_iam import SERVICE_AGENT
from infra.policy.rules_resources import RUN_JOB, SCHEDULER
from pipelines import naming

KMS_KEY = "gcp:kms/cryptoKey:CryptoKey"
PIPELINE_ACCOUNT = re.compile(r"^pl-[a-z0-9-]+@")


def _key(project: object, scope: str, target: object, role: object, member: object, condition: object = None) -> tuple:
    """A comparable grant; bucket names are global, so bucket grants carry no project."""
    return (None if scope == "bucket" else project, scope, short(target), role, member, condition or None)


def _plan_grants(resources: list[Res]) -> Iterator[tuple[Res, tuple]]:
    """Known and resolved grants (what stays unknown is refused by iam-grants-resolvable)."""
    for res, g, unknown in resolved_grants(resources):
        if not unknown and known(g.role, g.member, g.target):
            yield res, _key(g.project, g.scope, g.target, g.role, g.member, g.condition)


@rule(
    "registry-pipeline-grants",
    "Every grant to a pipeline's service account is one its Pipeline class declares, and each declared grant exists.",
    severity=CRITICAL,
    types=ALL_IAM_TYPES,
    stack=True,
    registry=True,
    rationale="The registry is the source of truth: a grant nobody declared is a grant nobody reviewed.",
)
def pipeline_grants_match(resources: list[Res], ctx: StackContext) -> Iterator[tuple[str, str]]:
    expected = {}
    for pipeline in ctx.pipelines:
        email = service_account_email(naming.service_account_id(pipeline.name), ctx.config.datalake_project)
        expected[email] = {
            _key(g.project, g.scope, g.resource, g.role, g.member, g.condition) for g in pipeline_grants(pipeline, ctx.config)
        }
    for res, grant in _plan_grants(resources):
        email = email_of(grant[4])
        if email in expected:
            if grant not in expected[email]:
                yield f"{grant[3]} on {grant[1]} {grant[2]} is not declared by the pipeline of {email}", res.urn
        elif email and PIPELINE_ACCOUNT.match(email):
            yield f"{grant[3]} is granted to {email}, which belongs to no registered pipeline", res.urn
    # What each pipeline declares must exist (grants to its account; the scheduler's invoker too).
    present = {g for _, g in _plan_grants(resources)}
    for pipeline in ctx.pipelines:
        email = service_account_email(naming.service_account_id(pipeline.name), ctx.config.datalake_project)
        for missing in sorted(g for g in expected[email] if g not in present):
            yield f"pipeline '{pipeline.name}' declares {missing[3]} on {missing[1]} {missing[2]} for {missing[4]}, which the stack lacks", ""


@rule(
    "registry-one-job-per-pipeline-account",
    "Each pipeline's service account runs exactly one Cloud Run job: its own.",
    severity=HIGH,
    types=(RUN_JOB,),
    stack=True,
    registry=True,
    rationale="A shared account would give one pipeline's job the data and secrets of another.",
)
def one_job_per_account(resources: list[Res], ctx: StackContext) -> Iterator[tuple[str, str]]:
    jobs_by_account: dict[str, list[Res]] = defaultdict(list)
    for res in resources:
        if res.type == RUN_JOB:
            account = get(res.props, "template", "template", "serviceAccount")
            if isinstance(account, str):
                jobs_by_account[account.lower()].append(res)
    for pipeline in ctx.pipelines:
        email = service_account_email(naming.service_account_id(pipeline.name), ctx.config.datalake_project)
        jobs = jobs_by_account.get(email, [])
        own = naming.job_name(pipeline.name, ctx.config.env)
        for job in jobs:
            if get(job.props, "name") != own:
                yield f"job {get(job.props, 'name')} runs as {email}, the account of pipeline '{pipeline.name}'", job.urn
        if not jobs:
            yield f"pipeline '{pipeline.name}' has no job running as its account {email}", ""


@rule(
    "registry-cross-project-grants",
    "A service account gets roles in another project only on raw datasets of registered pipelines, and viewer (roles/run.viewer) on their jobs.",
    severity=CRITICAL,
    types=ALL_IAM_TYPES,
    stack=True,
    registry=True,
    rationale="The only things meant to cross projects are raw data on its way to the warehouse and the state of the runs that load it.",
)
def cross_project_grants(resources: list[Res], ctx: StackContext) -> Iterator[tuple[str, str]]:
    raw = {p.dataset for p in ctx.pipelines}
    jobs = {naming.job_name(p.name, ctx.config.env) for p in ctx.pipelines}
    for res, (project, scope, target, role, member, _condition) in _plan_grants(resources):
        match = ACCOUNT.match(member) if isinstance(member, str) else None
        if not match or not isinstance(project, str) or match["project"] == project:
            continue
        if scope == "dataset" and target in raw or scope == "job" and target in jobs and role == RUN_VIEWER:
            continue
        yield f"{member} of project {match['project']} gets {role} on {scope} {target} in project {project}", res.urn


@rule(
    "scheduler-invoker-on-target-job",
    "Each scheduler's account holds run.invoker on the job it starts (and that grant is on the job).",
    severity=HIGH,
    types=(SCHEDULER, "gcp:cloudrunv2/jobIamMember:JobIamMember"),
    stack=True,
    rationale="Without the grant the schedule fails; with a broader one it could start anything.",
)
def scheduler_invoker(resources: list[Res], ctx: StackContext) -> Iterator[tuple[str, str]]:
    invokers = {
        (g[2], email_of(g[4])) for _, g in _plan_grants(resources) if g[1] == "job" and g[3] == "roles/run.invoker"
    }
    for res in resources:
        if res.type != SCHEDULER:
            continue
        uri, email = get(res.props, "httpTarget", "uri"), get(res.props, "httpTarget", "oauthToken", "serviceAccountEmail")
        match = re.search(r"/jobs/([^/:]+):run$", uri) if isinstance(uri, str) else None
        if match and isinstance(email, str) and (match[1], email.lower()) not in invokers:
            yield f"{res.name} starts job {match[1]} as {email}, which holds no run.invoker on that job", res.urn


@rule(
    "iam-principal-allowance",
    "Each account of the stack holds only what the pack's allowance table grants its kind (pipeline, scheduler, dbt, copier, service agent, deployer): in the stack and in infra/grants.py.",
    severity=CRITICAL,
    types=ALL_IAM_TYPES,
    stack=True,
    registry=True,
    rationale="The table lives in the pack, apart from the code that derives grants: widening the derivation cannot widen what is allowed.",
)
def principal_allowance(resources: list[Res], ctx: StackContext) -> Iterator[tuple[str, str]]:
    lake, dwh = ctx.config.datalake_project, ctx.config.warehouse_project
    # A key is named by its id once it exists and by its name (what a grant resolves to) before.
    keys = frozenset(
        short(name) for r in resources if r.type == KMS_KEY for name in (get(r.props, "name"), get(r.props, "id")) if isinstance(name, str)
    )

    def judge(project: object, scope: str, target: object, role: object, member: object, condition: object) -> str | None:
        who = principal(member, lake, dwh, SERVICE_AGENT)
        if who is None:
            return None  # not an account of the stack: the principal rules judge it
        if who.kind == "unknown":
            return f"{member} is an account of the stack of no known kind (pipeline pl-*, toltek-scheduler, toltek-dbt, toltek-copier)"
        if not allowed(who, scope, role, project, short(target), condition, ctx, keys):
            narrowed = " with this condition" if condition else ""
            return f"{role} on {scope} {short(target)}{narrowed} is not allowed to a {who.kind} account ({member})"
        return None

    for res, (project, scope, target, role, member, condition) in _plan_grants(resources):
        problem = judge(project, scope, target, role, member, condition)
        if problem:
            yield problem, res.urn
    for g in stack_grants(ctx.pipelines, ctx.config):
        problem = judge(g.project, g.scope, g.resource, g.role, g.member, g.condition)
        if problem:
            yield f"infra/grants.py derives it: {problem}", ""
