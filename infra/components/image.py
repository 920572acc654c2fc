"""A container image built from this repository and pushed to an Artifact Registry repository.

Tags are the content hash of what goes into the image, so a tag never moves (the repository's
tags are immutable) and an unchanged tree pushes nothing new; jobs use the pushed image by digest.
Pushing uses Docker's credential helper: `gcloud auth configure-docker <region>-docker.pkg.dev`.
"""

from __future__ import annotations

import hashlib
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
_SKIP = {"__pycache__", "target", "logs", ".pytest_cache"}


def content_tag(paths: tuple[str, ...], root: Path = REPO_ROOT) -> str:
    """A short hash of the files under `paths`: names and bytes, in a stable order."""
    digest = hashlib.sha256()
    for rel in paths:
        path = root / rel
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if _SKIP.intersection(file.relative_to(root).parts):
                continue
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
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
