"""A container image built from this repository and pushed to an Artifact Registry repository.

Tags are the content hash of the image's build context (`images/<kind>/Dockerfile.dockerignore`
keeps it to exactly what the Dockerfile copies), the same files pulumi-docker hashes to decide on
a rebuild: whatever rebuilds the image also moves its tag, so a pushed tag never has to change
(the repository's tags are immutable) and an unchanged tree pushes nothing; jobs use the pushed
image by digest.
Pushing uses Docker's credential helper: `gcloud auth configure-docker <region>-docker.pkg.dev`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from pipelines.environments import REPO_ROOT

def ignore_file(kind: str, root: Path = REPO_ROOT) -> Path:
    """The ignore file of an image's build context: `images/<kind>/Dockerfile.dockerignore` when it
    exists (BuildKit and pulumi-docker both prefer it), else the context's `.dockerignore`."""
    own = root / "images" / kind / "Dockerfile.dockerignore"
    return own if own.exists() else root / ".dockerignore"


def dockerignore(path: Path) -> list[tuple[re.Pattern[str], bool, str]]:
    """An ignore file as (pattern, excludes, glob) triples, in order (last match wins).

    Docker's rules: `*` and `?` stay within one path segment, `**` spans any number of them, a
    pattern that matches a folder matches everything in it, `!` re-includes.
    """
    rules = []
    for line in path.read_text().splitlines() if path.exists() else []:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        excludes = not line.startswith("!")
        glob = line.lstrip("!").strip().strip("/")
        parts = re.split(r"(\*\*/?|\*|\?)", glob)
        regex = "".join(
            {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part)) for part in parts
        )
        rules.append((re.compile(f"{regex}(/.*)?"), excludes, glob))
    return rules


def _ignored(rel: str, rules: list[tuple[re.Pattern[str], bool, str]]) -> bool:
    ignored = False
    for pattern, excludes, _ in rules:
        if pattern.fullmatch(rel):
            ignored = excludes
    return ignored


def _may_reinclude(folder: str, rules: list[tuple[re.Pattern[str], bool, str]]) -> bool:
    """Whether a `!` rule could re-include something under an ignored `folder` (walk into it)."""
    return any(not excludes and (glob.startswith(f"{folder}/") or glob.startswith("*")) for _, excludes, glob in rules)


def context_files(kind: str, root: Path = REPO_ROOT) -> list[str]:
    """The files of the repository that reach `kind`'s build context, sorted."""
    rules = dockerignore(ignore_file(kind, root))
    found: list[str] = []

    def walk(folder: Path) -> None:
        for path in sorted(folder.iterdir()):
            rel = path.relative_to(root).as_posix()
            if path.is_dir() and not path.is_symlink():
                if not _ignored(rel, rules) or _may_reinclude(rel, rules):
                    walk(path)
            elif path.is_file() and not _ignored(rel, rules):
                found.append(rel)

    walk(root)
    return found


def content_tag(kind: str, root: Path = REPO_ROOT) -> str:
    """A short hash of everything that builds `kind`'s image: its Dockerfile, its ignore file and
    every file of its build context (names and bytes, in a stable order)."""
    digest = hashlib.sha256()
    dockerfile = root / "images" / kind / "Dockerfile"
    for name, data in [
        (dockerfile.relative_to(root).as_posix(), dockerfile.read_bytes()),
        ("(ignore)", ignore_file(kind, root).read_bytes() if ignore_file(kind, root).exists() else b""),
        *((rel, (root / rel).read_bytes()) for rel in context_files(kind, root)),
    ]:
        digest.update(name.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class ImageArgs:
    """Inputs of a `RepositoryImage`."""

    kind: str  # "pipeline" or "dbt": which Dockerfile and inputs
    repository_url: str  # <region>-docker.pkg.dev/<project>/<repository>
    depends_on: list[pulumi.Resource]


class RepositoryImage(pulumi.ComponentResource):
    """Build `images/<kind>/Dockerfile` and push it; `ref` is `<repository>/<kind>@sha256:…`."""

    ref: pulumi.Output[str]

    def __init__(self, name: str, args: ImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toltek:images:RepositoryImage", name, None, opts)
        tag = content_tag(args.kind)
        image = docker.Image(
            f"{name}-image",
            image_name=f"{args.repository_url}/{args.kind}:{tag}",
            build={
                "context": str(REPO_ROOT),
                "dockerfile": str(REPO_ROOT / "images" / args.kind / "Dockerfile"),
                "platform": "linux/amd64",
            },
            skip_push=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        self.ref = image.repo_digest
        self.register_outputs({"ref": self.ref})
