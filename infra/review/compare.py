"""The whole diff of a stack against BASE: resources, IAM, cost, and this plan's deploy findings.

Exit codes of `toltek plan --diff`: 0 nothing to flag; 3 an added grant widens IAM (CI asks for a
second reviewer); 1 this plan has a deploy finding (as `toltek plan`; it wins over 3, the change
would not deploy); 2 a user mistake (a BASE that is neither a plan file nor a git ref, a saved
plan of another version or stack).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.review.cost_diff import cost_section
from infra.review.iam_diff import IamDiff, diff_iam
from infra.review.plan_json import VERSION
from infra.review.resource_diff import ResourceDiff, diff_resources

EXIT_FINDINGS = 1
EXIT_WIDENS = 3


@dataclass
class PlanDiff:
    stack: str
    base: dict[str, Any]  # where BASE came from: source, kind (file or git), commit
    resources: ResourceDiff
    iam: IamDiff
    cost: dict[str, Any]
    findings: list[dict[str, Any]]

    @property
    def widening(self) -> bool:
        return bool(self.iam.widening)

    @property
    def exit_code(self) -> int:
        if self.findings:
            return EXIT_FINDINGS
        return EXIT_WIDENS if self.widening else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "stack": self.stack,
            "base": self.base,
            "resources": self.resources.as_dict(),
            "iam": self.iam.as_dict(),
            "cost": self.cost,
            "findings": self.findings,
            "widening": self.widening,
        }


def compare(base_doc: dict[str, Any], head_doc: dict[str, Any], base: dict[str, Any]) -> PlanDiff:
    """`head_doc` (this tree's plan document) against `base_doc`."""
    return PlanDiff(
        stack=head_doc["stack"],
        base=base,
        resources=diff_resources(base_doc["resources"], head_doc["resources"]),
        iam=diff_iam(base_doc["resources"], head_doc["resources"]),
        cost=cost_section(base_doc, head_doc),
        findings=list(head_doc.get("findings") or []),
    )
