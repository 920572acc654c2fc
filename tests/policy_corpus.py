"""An adversarial corpus: insecure changes made the way an engineer makes them.

Each case edits a copy of the repository — code appended to the real program, a new pipeline
file, an edit to the grant derivation, a new component — and is run through
`toltek policy -s prd` there. Every case must exit 1 naming the listed rules. The cases are
written from the classes of holes a review found and from CIS GCP 3.0, Checkov and Trivy GCP
rules, not from the pack's own rule list. The cases live in `corpus_iam.py` (scopes, permissions,
unknowns, principals) and `corpus_code.py` (types, derivation, secrets, registry).
"""

from __future__ import annotations

from corpus_code import CASES as CODE_CASES
from corpus_iam import CASES as IAM_CASES
from corpus_model import CLASSES, Case, Edit

__all__ = ["CASES", "CLASSES", "Case", "Edit"]

CASES: list[Case] = [*IAM_CASES, *CODE_CASES]
