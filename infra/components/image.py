"""A container image built from this repository and pushed to an Artifact Registry repository.

Tags are the content hash of what goes into the image, so a tag never moves (the repository's
tags are immutable) and an unchanged tree pushes nothing new; jobs use the pushed image by digest.
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

# What each image is built from (relative to the repository root); the tag hashes exactly these.
IMAGE_INPUTS = {
    "pipeline": ("images/pipeline/Dockerfile", "pyproject.toml", "uv.lock", "README.md", "pipelines", "infra"),
    "dbt": ("images/dbt/Dockerfile", "pyproject.toml", "uv.lock", "README.md", "pipelines", "infra", "transform"),
}


def dockerignore(root: Path = REPO_ROOT) -> list[tuple[re.Pattern[str], bool]]:
    """The build context's `.dockerignore` as (pattern, excludes) pairs, in order (last match wins).

    Docker's rules: `*` and `?` stay within one path segment, `**` spans any number of them, a
    pattern that matches a folder matches everything in it, `!` re-includes.
    """
    rules = []
    path = root / ".dockerignore"
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
        rules.append((re.compile(f"{regex}(/.*)?"), excludes))
    return rules


def _ignored(rel: str, rules: list[tuple[re.Pattern[str], bool]]) -> bool:
    ignored = False
    for pattern, excludes in rules:
        if pattern.fullmatch(rel):
            ignored = excludes
    return ignored


def content_tag(paths: tuple[str, ...], root: Path = REPO_ROOT) -> str:
    """A short hash of the files under `paths` that reach the build context (`.dockerignore`
    applied): names and bytes, in a stable order."""
    rules = dockerignore(root)
    digest = hashlib.sha256()
    for rel in paths:
        path = root / rel
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            name = file.relative_to(root).as_posix()
            if _ignored(name, rules):
                continue
            digest.update(name.encode() + b"\0" + file.read_bytes() + b"\0")
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
        tag = content_tag(IMAGE_INPUTS[args.kind])
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
