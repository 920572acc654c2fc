"""The Dockerfiles: linted with hadolint, and their own commands run without Docker.

No Docker engine runs here, so the test interprets each Dockerfile's instructions itself: the
build stage's ENV, WORKDIR, COPY and RUN lines run in a temporary root (container paths mapped
under it), then the final stage's ENTRYPOINT and CMD run in the environment that produced.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

HADOLINT = Path(sys.executable).parent / "hadolint"
IMAGES = ("pipeline", "dbt")


def test_dockerfiles_pass_hadolint():
    files = [str(REPO_ROOT / "images" / image / "Dockerfile") for image in IMAGES]
    done = subprocess.run([str(HADOLINT), *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    parsed = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            parsed.append((word.upper(), rest.strip()))
    return parsed


def test_images_are_multi_stage_non_root_and_pinned_by_digest():
    for image in IMAGES:
        steps = instructions(REPO_ROOT / "images" / image / "Dockerfile")
        args = dict(rest.split("=", 1) for word, rest in steps if word == "ARG")
        assert re.fullmatch(r"python:3\.11-slim-\w+@sha256:[0-9a-f]{64}", args["PYTHON_IMAGE"]), image
        froms = [rest for word, rest in steps if word == "FROM"]
        assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"], image
        user = [rest for word, rest in steps if word == "USER"]
        assert user and user[-1] not in ("root", "0"), image
        assert any("uv sync --frozen" in rest for word, rest in steps if word == "RUN"), image


def test_neither_image_sends_its_tools_anonymous_usage_data():
    """dlt and dbt each report usage to their vendor unless told not to; the jobs run in the
    project's own GCP projects and send nothing beyond their sources and the datalake."""
    switches = {"pipeline": ("RUNTIME__DLTHUB_TELEMETRY", "false"), "dbt": ("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")}
    for image, (key, value) in switches.items():
        steps = instructions(REPO_ROOT / "images" / image / "Dockerfile")
        final = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM"):]
        env = dict(pair for word, rest in final if word == "ENV" for pair in env_pairs(rest))
        assert env.get(key) == value, image


class Root:
    """Container paths mapped into a temporary directory."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def path(self, container_path: str) -> Path:
        return self.base / container_path.lstrip("/")

    def expand(self, value: str, env: dict[str, str]) -> str:
        value = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)
        return ":".join(str(self.path(p)) if p.startswith("/") else p for p in value.split(":"))


def env_pairs(rest: str) -> list[tuple[str, str]]:
    return [tuple(item.split("=", 1)) for item in shlex.split(rest)]  # type: ignore[misc]


def run_dockerfile(image: str, base: Path) -> tuple[list[str], dict[str, str], Path]:
    """Run the build stage; return the final stage's command, environment and working dir."""
    root = Root(base)
    # The images hold their modules compiled (UV_COMPILE_BYTECODE=1); the build here skips that
    # (below), so the processes run in it write their bytecode once, as a first start would.
    host = {k: v for k, v in os.environ.items() if not k.startswith(("TOLTEK_", "VIRTUAL_ENV")) and k != "PYTHONDONTWRITEBYTECODE"}
    env = dict(host)
    stage, workdir = "", root.path("/")
    command: list[str] = []
    for word, rest in instructions(REPO_ROOT / "images" / image / "Dockerfile"):
        if word == "FROM":
            stage = rest.split(" AS ")[-1] if " AS " in rest else "final"
            if stage == "final":
                env = dict(host)
        elif word == "ENV":
            for key, value in env_pairs(rest):
                env[key] = root.expand(value, env) if "/" in value else value
        elif word == "WORKDIR":
            workdir = root.path(rest)
            workdir.mkdir(parents=True, exist_ok=True)
        elif word == "COPY":
            parts = shlex.split(rest)
            if parts[0].startswith("--from="):
                continue  # the build stage's output is already at its mapped path
            *sources, dest = parts
            target = root.path(dest) if dest.startswith("/") else workdir / dest
            for source in sources:
                src = REPO_ROOT / source
                if src.is_dir():
                    shutil.copytree(src, target if len(sources) == 1 and not dest.endswith("/") and dest != "./" else target / source,
                                    ignore=shutil.ignore_patterns("__pycache__", "target", "logs"), dirs_exist_ok=True)
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, target / src.name)
        elif word == "RUN" and stage == "build":
            if rest.startswith("pip install") and "uv==" in rest:
                continue  # uv is already on this machine
            # Compiling the image's bytecode is a build-time optimisation the checks here do not need.
            built_env = {**env, "UV_COMPILE_BYTECODE": "0"}
            done = subprocess.run(rest, shell=True, cwd=workdir, env=built_env, capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, f"{image}: {rest}\n{done.stderr[-3000:]}"
        elif word in ("ENTRYPOINT", "CMD"):
            command += json.loads(rest)
    return command, env, workdir


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return {image: run_dockerfile(image, tmp_path_factory.mktemp(image)) for image in IMAGES}


def test_pipeline_image_entrypoint_runs_the_cli(built, tmp_path):
    command, env, workdir = built["pipeline"]
    assert command == ["toltek", "pipelines"]
    env = {**env, "TOLTEK_HOME": str(tmp_path), "COLUMNS": "200"}
    listed = subprocess.run([*command, "--json"], cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr
    assert [p["name"] for p in json.loads(listed.stdout)] == ["shop_api", "shop_files", "shop_sheets"]
    # What a Cloud Run job runs (`run <name> --env <env> --skip-transform`), here on the local env.
    ran = subprocess.run(
        [command[0], "run", "shop_sheets", "--env", "local", "--skip-transform"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    assert "shop_sheets" in ran.stdout and "36" in ran.stdout
    no_pulumi = subprocess.run(
        [str(Path(env["PATH"].split(":")[0]) / "python"), "-c", "import importlib.util as u; print(u.find_spec('pulumi'))"],
        env=env, capture_output=True, text=True,
    )
    assert no_pulumi.stdout.strip() == "None"  # the runtime image carries no Pulumi
    telemetry = subprocess.run(
        [str(Path(env["PATH"].split(":")[0]) / "python"), "-c",
         "from dlt.common.configuration.resolve import resolve_configuration as r; "
         "from dlt.common.configuration.specs import RuntimeConfiguration as c; print(r(c()).dlthub_telemetry)"],
        env=env, capture_output=True, text=True,
    )
    assert telemetry.stdout.strip() == "False", telemetry.stderr  # dlt reads the image's setting


def test_dbt_image_entrypoint_is_toltek_transform_and_dbt_works_inside(built, tmp_path):
    command, env, workdir = built["dbt"]
    assert command == ["toltek", "transform", "--env", "prd"]
    env = {
        **env,
        "TOLTEK_DATALAKE_PROJECT": "toltek-datalake-prd",
        "TOLTEK_WAREHOUSE_PROJECT": "toltek-dwh-prd",
        "TOLTEK_BQ_LOCATION": "EU",
        "TOLTEK_REGION": "europe-west1",
        "TOLTEK_HOME": str(tmp_path / "home"),
    }
    # The entrypoint is the installed CLI, and it finds the dbt project where the image put it.
    listed = subprocess.run([command[0], "--help"], cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr[-3000:]
    where = subprocess.run(
        [str(Path(env["PATH"].split(":")[0]) / "python"), "-c", "from pipelines.transform import PROJECT_DIR; print(PROJECT_DIR)"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
    )
    assert Path(where.stdout.strip()) == Path(env["DBT_PROJECT_DIR"]) == workdir
    # dbt inside the image finds its profiles where the image put the project (dbt's variables stay
    # set); the project itself is compiled for the prd target by tests/test_transform_bigquery.py.
    found = subprocess.run(["dbt", "debug", "--config-dir"], cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert found.returncode == 0, found.stdout[-3000:]
    assert str(workdir) in found.stdout and (workdir / "profiles.yml").exists() and (workdir / "dbt_project.yml").exists()


@pytest.mark.parametrize("kind", ["pipeline", "dbt"])
def test_the_build_context_is_exactly_what_the_dockerfile_copies(kind):
    """pulumi-docker rebuilds when any file of the context changes; the tag hashes the context. A
    context wider than the COPY lines would rebuild (and re-push an immutable tag) for nothing."""
    from infra.components.image import context_files, ignore_file

    dockerfile = REPO_ROOT / "images" / kind / "Dockerfile"
    copied: set[str] = set()
    for line in dockerfile.read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        words = shlex.split(line)
        if any(w.startswith("--from") for w in words):
            continue
        copied.update(w.rstrip("/") for w in words[1:-1] if not w.startswith("--"))
    assert copied, f"no COPY from the build context in {dockerfile}"
    assert ignore_file(kind) == dockerfile.parent / "Dockerfile.dockerignore"
    assert {f.split("/")[0] for f in context_files(kind)} == copied


def _tree(tmp_path):
    for kind in ("pipeline", "dbt"):
        (tmp_path / "images" / kind).mkdir(parents=True)
        for name in ("Dockerfile", "Dockerfile.dockerignore"):
            shutil.copy(REPO_ROOT / "images" / kind / name, tmp_path / "images" / kind / name)
    (tmp_path / "pipelines" / "shop" / "logs").mkdir(parents=True)
    (tmp_path / "pipelines" / "shop" / "source.py").write_text("x = 1\n")
    (tmp_path / "transform" / "models").mkdir(parents=True)
    (tmp_path / "transform" / "models" / "m.sql").write_text("select 1\n")
    for name in ("pyproject.toml", "uv.lock", "README.md", "Makefile"):
        (tmp_path / name).write_text(name)
    return tmp_path


def test_the_image_tag_moves_with_the_build_context_and_only_with_it(tmp_path):
    from infra.components.image import content_tag

    root = _tree(tmp_path)
    before = {kind: content_tag(kind, root=root) for kind in ("pipeline", "dbt")}

    def tags():
        return {kind: content_tag(kind, root=root) for kind in ("pipeline", "dbt")}

    cache = root / "pipelines" / "shop" / "__pycache__"
    cache.mkdir()
    (cache / "source.cpython-311.pyc").write_bytes(b"\0compiled")
    (root / "Makefile").write_text("changed")
    (root / "tests").mkdir()
    (root / "tests" / "test_x.py").write_text("assert True\n")
    assert tags() == before  # outside both contexts: no rebuild, same tags
    (root / "transform" / "models" / "m.sql").write_text("select 2\n")
    after_model = tags()
    assert after_model["pipeline"] == before["pipeline"] and after_model["dbt"] != before["dbt"]
    (root / "pipelines" / "shop" / "logs" / "helper.py").write_text("y = 2\n")
    after_code = tags()
    assert after_code["pipeline"] != before["pipeline"] and after_code["dbt"] != after_model["dbt"]
    (root / "images" / "dbt" / "Dockerfile").write_text("FROM scratch\n")
    assert tags()["dbt"] != after_code["dbt"] and tags()["pipeline"] == after_code["pipeline"]
