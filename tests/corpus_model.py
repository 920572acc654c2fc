"""The corpus's building blocks: a case is edits to a copy of the repository and the rules it must trip."""

from __future__ import annotations

from dataclasses import dataclass

PROGRAM = "infra/program.py"
GRANTS = "infra/grants.py"
ANCHOR = "    return outputs\n"

CLASSES = {
    "scope": "IAM scopes beyond project and dataset",
    "type": "resource types the pack has no rules for",
    "derivation": "edits to the code the pack checks (grant derivation)",
    "permission": "roles judged by permissions, custom roles",
    "unknown": "targets and members only known after apply",
    "principal": "principal kinds",
    "secret": "secrets in code",
    "registry": "least privilege the registry can express",
}


@dataclass(frozen=True)
class Edit:
    path: str
    old: str | None  # None: create the file (or append when it exists)
    new: str


@dataclass(frozen=True)
class Case:
    cls: str
    what: str
    edits: tuple[Edit, ...]
    expect: frozenset[str]

    @property
    def id(self) -> str:
        return f"{self.cls}: {self.what}"


def program(code: str) -> Edit:
    """Code appended to the program's build(), before it returns (cfg, lake_provider, lake, jobs in scope)."""
    body = "".join(f"    {line}\n" if line.strip() else "\n" for line in code.strip("\n").splitlines())
    return Edit(PROGRAM, ANCHOR, "    # --- change under review ---\n" + body + ANCHOR)


def edit(path: str, old: str, new: str) -> Edit:
    return Edit(path, old, new)


def new_file(path: str, text: str) -> Edit:
    return Edit(path, None, text)


def collector(cases: list[Case]):  # noqa: ANN201 - returns the `case(...)` function
    """`case(cls, what, *edits, expect=...)`, appending to `cases`."""

    def case(cls: str, what: str, *edits: Edit, expect: tuple[str, ...]) -> None:
        assert cls in CLASSES, cls
        cases.append(Case(cls, what, tuple(edits), frozenset(expect)))

    return case


OPTS = "opts=pulumi.ResourceOptions(provider=lake_provider)"


def sa(name: str) -> str:
    return f'f"serviceAccount:{name}@{{cfg.datalake_project}}.iam.gserviceaccount.com"'
