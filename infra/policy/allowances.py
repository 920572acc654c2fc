"""What each kind of principal may ever hold: the pack's own statement, independent of the code it checks.

`infra/grants.py` derives the stack's grants and the components create them; a change there
widens both the stack and anything compared with it. This table is written separately, inside
the pack: `iam-principal-allowance` checks every grant of the stack against it, and the same rule
checks the derivation itself, so widening `infra/grants.py` fails even before it reaches a
resource. Principals are recognised by their account id and project; targets by name, from the
`Pipeline` declarations and the stack config (what the team declares, not what the code derives).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from infra.policy.iam import ACCOUNT
from pipelines import naming

# Kind -> (account id pattern, the project the account lives in).
KINDS: dict[str, tuple[str, str]] = {
    "pipeline": (r"pl-[a-z0-9-]+", "datalake"),
    "scheduler": (r"toltek-scheduler", "either"),
    "dbt": (r"toltek-dbt", "warehouse"),
    "copier": (r"toltek-copier", "warehouse"),
    "deployer": (r"toltek-deployer", "either"),
}
SERVICE_AGENT = "service agent"


@dataclass(frozen=True)
class Allowance:
    kind: str
    scope: str
    role: str
    target: str  # a name from TARGETS below
    conditioned: bool = False  # the grant must carry the landing-prefix condition


ALLOWANCES: tuple[Allowance, ...] = (
    Allowance("pipeline", "dataset", "roles/bigquery.dataEditor", "its raw dataset"),
    Allowance("pipeline", "dataset", "roles/bigquery.dataEditor", "its staging dataset"),
    Allowance("pipeline", "project", "roles/bigquery.jobUser", "the datalake project"),
    Allowance("pipeline", "secret", "roles/secretmanager.secretAccessor", "a secret it declares"),
    Allowance("pipeline", "bucket", "roles/storage.objectViewer", "the landing bucket", conditioned=True),
    Allowance("scheduler", "job", "roles/run.invoker", "a job of its own project"),
    Allowance("dbt", "project", "roles/bigquery.jobUser", "the warehouse project"),
    Allowance("dbt", "dataset", "roles/bigquery.dataEditor", "a warehouse dataset"),
    Allowance("dbt", "dataset", "roles/bigquery.dataViewer", "a raw dataset it reads"),
    Allowance("dbt", "job", "roles/run.viewer", "a pipeline's job"),
    Allowance("copier", "project", "roles/bigquery.jobUser", "the warehouse project"),
    Allowance("copier", "dataset", "roles/bigquery.dataViewer", "the raw dataset of a copied pipeline"),
    Allowance("copier", "dataset", "roles/bigquery.dataOwner", "the warehouse copy of a copied pipeline"),
    Allowance(SERVICE_AGENT, "key", "roles/cloudkms.cryptoKeyEncrypterDecrypter", "a key the stack creates"),
    # The deployer is granted outside the stack (see the README's First deploy): nothing here.
)

# What the identity running `pulumi up` may be asked to hold (checked against the checklist).
DEPLOYER_MAY_HOLD = frozenset({
    "roles/serviceusage.serviceUsageAdmin", "roles/iam.serviceAccountAdmin", "roles/iam.serviceAccountUser",
    "roles/resourcemanager.projectIamAdmin", "roles/bigquery.dataOwner", "roles/bigquery.admin", "roles/storage.admin",
    "roles/secretmanager.admin", "roles/run.admin", "roles/cloudscheduler.admin", "roles/artifactregistry.admin",
    "roles/artifactregistry.writer", "roles/cloudkms.admin", "roles/monitoring.editor", "roles/monitoring.alertPolicyEditor",
    "roles/monitoring.notificationChannelEditor", "roles/logging.configWriter",
})


@dataclass(frozen=True)
class Principal:
    kind: str
    account: str  # account id (before the @)
    project: str | None


def principal(member: object, datalake: str, warehouse: str | None, service_agent: re.Pattern[str]) -> Principal | None:
    """The kind of `member`, or None when it is not an account of the stack's projects."""
    if not isinstance(member, str):
        return None
    if service_agent.search(member):
        return Principal(SERVICE_AGENT, member.split(":", 1)[-1].split("@", 1)[0], None)
    match = ACCOUNT.match(member)
    if not match or match["project"] not in (datalake, warehouse):
        return None
    where = "datalake" if match["project"] == datalake else "warehouse"
    for kind, (pattern, home) in KINDS.items():
        if re.fullmatch(pattern, match["id"]) and home in (where, "either"):
            return Principal(kind, match["id"], match["project"])
    return Principal("unknown", match["id"], match["project"])


def target_ok(
    allowance: Allowance, who: Principal, grant_project: object, target: object, ctx: object, stack_keys: frozenset[str] = frozenset()
) -> bool:
    """Whether `target` is the one `allowance` names, for `who`, in the stack `ctx` describes."""
    cfg, index = ctx.config, _index(ctx)  # type: ignore[attr-defined]
    lake, dwh = cfg.datalake_project, cfg.warehouse_project
    mine, raw, copied = index.by_account.get(who.account, ()), index.raw, index.copied
    name = allowance.target
    if name == "its raw dataset":
        return grant_project == lake and any(target == p.dataset for p in mine)
    if name == "its staging dataset":
        return grant_project == lake and any(target == naming.staging_dataset(p.dataset) for p in mine)
    if name == "the datalake project":
        return target == lake
    if name == "a secret it declares":
        return grant_project == lake and any(target in p.secrets for p in mine)
    if name == "the landing bucket":
        return target == naming.landing_bucket(cfg.env) and any(p.landing_prefix for p in mine)
    if name == "a job of its own project":
        return grant_project == who.project
    if name == "the warehouse project":
        return target == dwh
    if name == "a warehouse dataset":
        return grant_project == dwh and target in naming.WAREHOUSE_DATASETS
    if name == "a raw dataset it reads":
        return (grant_project == lake and target in raw - copied) or (grant_project == dwh and target in copied)
    if name == "a pipeline's job":
        return grant_project == lake and target in index.jobs
    if name == "the raw dataset of a copied pipeline":
        return grant_project == lake and target in copied
    if name == "the warehouse copy of a copied pipeline":
        return grant_project == dwh and target in copied
    if name == "a key the stack creates":
        return target in stack_keys
    raise ValueError(f"unknown allowance target {name!r}")


@dataclass(frozen=True)
class _Index:
    by_account: dict[str, tuple[Any, ...]]
    raw: frozenset[str]
    copied: frozenset[str]
    jobs: frozenset[str]  # each pipeline's Cloud Run job in the stack's environment


_INDEXES: dict[int, tuple[object, _Index]] = {}


def _index(ctx: object) -> _Index:
    """The registry looked up by account, built once per stack context (linear in pipelines)."""
    cached = _INDEXES.get(id(ctx))
    if cached is not None and cached[0] is ctx:
        return cached[1]
    pipelines = ctx.pipelines  # type: ignore[attr-defined]
    by_account: dict[str, tuple[Any, ...]] = {}
    for p in pipelines:
        account = naming.service_account_id(p.name)
        by_account[account] = (*by_account.get(account, ()), p)
    env = ctx.config.env  # type: ignore[attr-defined]
    index = _Index(
        by_account,
        frozenset(p.dataset for p in pipelines),
        frozenset(p.dataset for p in pipelines if p.transfer == "copy"),
        frozenset(naming.job_name(p.name, env) for p in pipelines),
    )
    _INDEXES.clear()
    _INDEXES[id(ctx)] = (ctx, index)
    return index


_OBJECTS = r'resource\.name == "projects/_/buckets/{b}/objects/{f}"|resource\.name\.startsWith\("projects/_/buckets/{b}/objects/{f}/[^"]*"\)'
_LISTED = r'api\.getAttribute\("storage\.googleapis\.com/objectListPrefix", ""\)(?: == "{f}(?:/[^"]*)?"|\.startsWith\("{f}/[^"]*"\))'


def condition_limits_to(expression: object, bucket: str, prefix: str) -> bool:
    """Whether an IAM condition only admits objects under `prefix/` (and listings of it)."""
    if not isinstance(expression, str) or not expression.strip():
        return False
    folder = re.escape(prefix.rstrip("/"))
    allowed = re.compile("(?:" + _OBJECTS.format(b=re.escape(bucket), f=folder) + "|" + _LISTED.format(f=folder) + ")")
    clauses = [c.strip() for c in expression.split("||")]
    return all(allowed.fullmatch(c) for c in clauses)


def allowed(
    who: Principal, scope: str, role: object, project: object, target: object, condition: object, ctx: object,
    stack_keys: frozenset[str] = frozenset(),
) -> bool:
    for a in ALLOWANCES:
        if a.kind != who.kind or a.scope != scope or a.role != role:
            continue
        if not target_ok(a, who, project, target, ctx, stack_keys):
            continue
        if a.conditioned:
            mine = _index(ctx).by_account.get(who.account, ())
            if not any(p.landing_prefix and condition_limits_to(condition, str(target), p.landing_prefix) for p in mine):
                continue
        return True
    return False
