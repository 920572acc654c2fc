"""`toltek new NAME --kind rest|files|sheets`: a new pipeline, written from the templates.

The templates are files under `pipelines/templates/`: `common/` for every kind, then `<kind>/`,
each laid out as the repository is. A template `a/{name}/b.py.tmpl` becomes `a/<name>/b.py`, its
text rendered with `string.Template` (`${name}`, `${class_name}`, `${dataset}`, …; see
`variables`). A new pipeline gets its package, its local sample data, its dbt source and staging
model, and a test; a REST pipeline also its sample secret in `pipelines/samples/secrets.json`.

Nothing is written unless everything checks out first: the kind, the name (the registry's own
checks, run on the rendered class: naming rules, derived ids, reserved and claimed datasets), and
that no file or folder the pipeline would own exists. The dbt source's freshness (`_dlt_loads`)
is then written by `pipelines.dbt_sources.write`, from the new class's schedule.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import keyword
import sys
import tempfile
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from pipelines import naming
from pipelines.environments import REPO_ROOT
from pipelines.errors import DeclarationError, UserError

TEMPLATES = Path(__file__).resolve().parent / "templates"
SUFFIX = ".tmpl"
KINDS = {
    "rest": "a REST API with dlt's rest_api (bearer token, pages, updated_at cursor)",
    "files": "CSV and Parquet files landed in Cloud Storage, with dlt's filesystem",
    "sheets": "a Google Sheet through the Sheets API v4 values endpoint",
}
SAMPLE_DATA = Path("pipelines", "samples", "data")
SECRETS_FILE = Path("pipelines", "samples", "secrets.json")
STAGING = Path("transform", "models", "staging")
READ_DATABASE = "{{ 'datalake' if target.type == 'duckdb' else env_var('TOLTEK_DATALAKE_PROJECT') }}"


@dataclass
class Created:
    """What `create` wrote (paths relative to the repository)."""

    name: str
    kind: str
    files: list[Path] = field(default_factory=list)
    secret: str | None = None


def camel(name: str) -> str:
    """`shop_returns` -> `ShopReturns`."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def variables(name: str, kind: str) -> dict[str, str]:
    """What the templates of `kind` are rendered with, for a pipeline `name`."""
    slug = naming.slug(name)
    values = {
        "name": name,
        "class_name": camel(name),
        "title": name.replace("_", " ").capitalize(),
        "dataset": f"raw_{name}",
        "slug": slug,
        "database": READ_DATABASE,  # transfer = "read", the default: the warehouse reads in place
    }
    if kind == "rest":
        values |= {"secret": f"{slug}-api-token", "config_key": f"sources.{name}.access_token"}
    if kind == "files":
        values |= {"landing_prefix": name}
    if kind == "sheets":
        # A spreadsheet id that validates (replace it with the real one) and the sample's.
        values |= {
            "spreadsheet_id": f"1TOLTEK{camel(name)}".ljust(44, "x"),
            "sample_spreadsheet_id": f"1toltekSample{camel(name)}",
        }
    return values


def sample_token(name: str) -> str:
    """The sample value of a REST pipeline's token (stable for a name)."""
    return f"sample-{naming.slug(name)}-api-token-{hashlib.sha256(name.encode()).hexdigest()[:4]}"


def render(kind: str, values: dict[str, str], templates: Path = TEMPLATES) -> dict[Path, str]:
    """Destination (relative to the repository) -> text, for every template of `kind`."""
    rendered: dict[Path, str] = {}
    for folder in (templates / "common", templates / kind):
        for path in sorted(folder.rglob(f"*{SUFFIX}")):
            relative = str(path.relative_to(folder))[: -len(SUFFIX)]
            try:
                destination = Path(relative.format_map(values))
                rendered[destination] = Template(path.read_text()).substitute(values)
            except (KeyError, ValueError) as exc:
                raise UserError(f"template {path.relative_to(templates)}: unknown or malformed placeholder ({exc})") from None
    return rendered


def check_name(name: str) -> None:
    """The name can be spelled as a package, a module path and a dbt source (the registry checks the rest)."""
    if not naming.PIPELINE_NAME.fullmatch(name):
        raise UserError(f"invalid name {name!r}: a pipeline name is lowercase snake case (letters and digits, words joined by single underscores)")
    if keyword.iskeyword(name) or keyword.iskeyword(camel(name)):
        raise UserError(f"invalid name '{name}': a Python keyword cannot name a package or a class")
    if name in naming.RESERVED_NAMES:
        raise UserError(f"invalid name '{name}': reserved (the dbt job's name, or a word YAML or Python reads as a constant)")


def check_free(name: str, kind: str, files: dict[Path, str], root: Path) -> None:
    """Refuse when the name is registered, or a file or folder the pipeline would own exists."""
    from pipelines.registry import discover

    registry = discover()
    if name in registry.names():
        cls = registry.get(name)
        raise UserError(f"name '{name}' is taken: pipeline {name} is declared by {cls.__module__}.{cls.__qualname__}")
    owned = [Path("pipelines", name), Path("pipelines", f"{name}.py"), STAGING / name]
    if kind == "rest":
        owned.append(SAMPLE_DATA / "api" / name)
    if kind == "files":
        prefix = variables(name, kind)["landing_prefix"]
        owned.append(SAMPLE_DATA / "files" / prefix)
        # A files source reads its folder and the folders under it: a folder above or below
        # another pipeline's would read that pipeline's files too.
        readers = [p for p in registry.all() if p.landing_prefix and _nested(p.landing_prefix, prefix)]
        if readers:
            raise UserError(f"landing folder '{prefix}' overlaps '{readers[0].landing_prefix}', read by pipeline {readers[0].name}")
    existing = [str(p) for p in [*owned, *files] if (root / p).exists() or (root / p).is_symlink()]
    if existing:
        raise UserError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; nothing written")


def _nested(a: str, b: str) -> bool:
    """Whether one landing folder is the other or holds it."""
    a, b = a.strip("/"), b.strip("/")
    return a == b or a.startswith(f"{b}/") or b.startswith(f"{a}/")


def check_python(files: dict[Path, str]) -> None:
    """A name that would shadow what a rendered module imports (`dlt`, `Pipeline`, …) is refused."""
    for path, text in files.items():
        if path.suffix != ".py":
            continue
        tree = ast.parse(text, filename=str(path))
        imported = {(a.asname or a.name).split(".")[0] for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names}
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        clash = sorted(imported & defined)
        if clash:
            raise UserError(f"the name would shadow '{clash[0]}' in {path}; choose another name")


def validate(name: str, files: dict[Path, str]) -> type:
    """Import the rendered package from a scratch folder, so the registry checks the new class as it
    checks every other (with the registry restored afterwards); return the class."""
    import pipelines
    from pipelines.base import Pipeline
    from pipelines.registry import REGISTRY

    package = f"pipelines.{name}"
    with tempfile.TemporaryDirectory(prefix="toltek-new-") as scratch:
        for path, text in files.items():
            if path.parts[:2] == ("pipelines", name):
                target = Path(scratch, *path.parts[1:])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        pipelines.__path__.insert(0, scratch)
        importlib.invalidate_caches()
        try:
            with REGISTRY.isolated():
                module = importlib.import_module(f"{package}.pipeline")
        except DeclarationError as exc:  # "<where>: <class>.<field>: <problem>" -> "<field>: <problem>"
            problem = str(exc).removeprefix(f"{exc.where}: " if exc.where else "").removeprefix(f"{exc.cls_name}.")
            raise UserError(f"cannot create pipeline '{name}': {problem}") from None
        finally:
            pipelines.__path__.remove(scratch)
            for loaded in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
                del sys.modules[loaded]
            importlib.invalidate_caches()
    [cls] = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Pipeline) and v.__module__ == module.__name__]
    return cls


def add_sample_secret(root: Path, name: str, secret: str) -> None:
    """The REST pipeline's sample token, which the sample server takes under /api/<name>/ only."""
    path = root / SECRETS_FILE
    entries = json.loads(path.read_text())
    entries[secret] = {"value": sample_token(name), "path": f"/api/{name}/"}
    path.write_text(json.dumps(entries, indent=2) + "\n")


def create(name: str, kind: str | None, root: Path = REPO_ROOT) -> Created:
    """Write pipeline `name` of `kind` into the repository at `root`; a `UserError` (nothing written)
    for a missing or unknown kind, an invalid or taken name, or a file that exists."""
    if kind is None:
        raise UserError(f"choose a kind: --kind {', '.join(KINDS)}")
    if kind not in KINDS:
        raise UserError(f"unknown kind '{kind}' (choose from: {', '.join(KINDS)})")
    check_name(name)
    values = variables(name, kind)
    files = render(kind, values)
    check_free(name, kind, files, root)
    check_python(files)
    cls = validate(name, files)

    secret = values.get("secret")
    created = Created(name, kind, secret=secret)
    secrets_before = (root / SECRETS_FILE).read_bytes() if secret else None
    made: list[Path] = []  # folders created, for the roll-back
    try:
        for path, text in files.items():
            target = root / path
            for folder in reversed([*target.relative_to(root).parents][:-1]):
                if not (root / folder).exists():
                    (root / folder).mkdir()
                    made.append(root / folder)
            created.files.append(path)
            target.write_text(text)
        from pipelines import dbt_sources

        dbt_sources.write([cls], root / STAGING)
        if secret:
            add_sample_secret(root, name, secret)
            created.files.append(SECRETS_FILE)
    except BaseException:
        for path in created.files:
            if path != SECRETS_FILE:
                (root / path).unlink(missing_ok=True)
        for folder in reversed(made):
            with suppress(OSError):
                folder.rmdir()
        if secrets_before is not None:
            (root / SECRETS_FILE).write_bytes(secrets_before)
        raise
    return created


def report(created: Created) -> list[str]:
    """What `toltek new` prints: the files it wrote, then what to run next."""
    lines = [f"created pipeline {created.name} ({created.kind}) from pipelines/templates/{created.kind}:"]
    for path in sorted(created.files):
        lines.append(f"  {path}" + (f"  (sample secret {created.secret})" if path == SECRETS_FILE else ""))
    steps = [
        (f"toltek run {created.name}", "load it on its sample data, then the transfer and dbt build"),
        ("toltek plan -s prd", "what it gets in prd: service account, job, schedule, IAM, alerts"),
        (f"pytest tests/test_{created.name}.py", "its source's test"),
    ]
    width = max(len(command) for command, _ in steps)
    return [*lines, "next:", *(f"  {command:<{width}}  # {what}" for command, what in steps)]
