"""Run every deploy check over a plan; collect findings and the notices a first deploy needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.deploy import access, apis, inputs, monitoring, order  # noqa: F401 - registers the checks
from infra.deploy.model import CHECKS, Check, Finding
from infra.deploy.stack import RUN_JOB, Stack
from infra.plan import PlannedResource
from pipelines.environments import REPO_ROOT


@dataclass(frozen=True)
class SecretVersion:
    """A secret a job reads that the stack deliberately leaves without a value."""

    project: str
    secret: str
    jobs: tuple[str, ...]

    def command(self) -> str:
        return f"printf %s \"$VALUE\" | gcloud secrets versions add {self.secret} --project {self.project} --data-file=-"

    def line(self) -> str:
        return f"secret {self.secret} ({self.project}) needs a version before the first execution of {', '.join(self.jobs)}: {self.command()}"


@dataclass
class DeployReport:
    findings: list[Finding] = field(default_factory=list)
    secret_versions: list[SecretVersion] = field(default_factory=list)

    def rule_ids(self) -> set[str]:
        return {f.rule for f in self.findings}


def checks() -> list[Check]:
    return list(CHECKS)


def _secret_versions(stack: Stack) -> list[SecretVersion]:
    readers: dict[tuple[str, str], set[str]] = {}
    for job in stack.of_type(RUN_JOB):
        for _path, secret in access.secret_refs(job):
            readers.setdefault((job.project or "", secret), set()).add(str(job.raw_inputs.get("name", job.name)))
    versioned = {
        (r.project or "", str(r.raw_inputs.get("secret", "")).rsplit("/", 1)[-1])
        for r in stack.of_type("gcp:secretmanager/secretVersion:SecretVersion")
    }
    return [SecretVersion(p, s, tuple(sorted(jobs))) for (p, s), jobs in sorted(readers.items()) if (p, s) not in versioned]


def view(
    resources: Sequence[PlannedResource], *, stack: str, invokes: Sequence[tuple[str, dict[str, Any]]] = (), root: Path | None = None
) -> Stack:
    return Stack(stack, list(resources), invokes=list(invokes), root=root or REPO_ROOT)


def check_resources(
    resources: Sequence[PlannedResource],
    *,
    stack: str,
    invokes: Sequence[tuple[str, dict[str, Any]]] = (),
    root: Path | None = None,
) -> DeployReport:
    """Every check over `resources` (a plan's, or a mutated copy); `root`: the repository whose
    dbt project the dbt job runs (default: this one)."""
    view_ = view(resources, stack=stack, invokes=invokes, root=root)
    findings = sorted({f for c in CHECKS for f in c.run(view_)})
    return DeployReport(findings, _secret_versions(view_))


def check_plan(plan: Any) -> DeployReport:
    """Every check over an `infra.plan.Plan`."""
    return check_resources(plan.resources, stack=plan.stack, invokes=plan.invokes)
