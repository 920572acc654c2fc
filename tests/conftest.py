from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TOLTEK = Path(sys.executable).parent / "toltek"

# Each test process evaluates plans, runs dbt and loads data in-process, keeping much of it: young
# collections every 50,000 allocations, as the `toltek` commands do (pipelines/cli.py).
gc.set_threshold(50_000, 20, 100)

# Retries without waiting: fault tests stay fast, behaviour stays the same.
os.environ.setdefault("RUNTIME__REQUEST_BACKOFF_FACTOR", "0")


@pytest.fixture
def toltek_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TOLTEK_HOME", str(home))
    return home


@pytest.fixture
def registry() -> Iterator[object]:
    """The discovered registry; pipelines a test declares are forgotten afterwards."""
    from pipelines.registry import discover

    reg = discover()
    with reg.isolated():
        yield reg


# The in-process API tests page, merge, rewind and refresh a slice of the committed sample (its
# first customers and orders: three pages of orders, two of customers, every product), so each of
# them loads in a fraction of the time; the subprocess and end-to-end tests run the whole sample.
API_SLICE = {"customers": 750, "orders": 1500}


@pytest.fixture(scope="session")
def api_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample folder whose api/ holds the first `API_SLICE` records of the committed entities."""
    import shutil

    from pipelines.samples import DATA_DIR

    folder = tmp_path_factory.mktemp("api-sample")
    for part in ("api", "sheets"):
        shutil.copytree(DATA_DIR / part, folder / part)
    for entity, keep in API_SLICE.items():
        lines = (DATA_DIR / "api" / f"{entity}.jsonl").read_text().splitlines(keepends=True)
        (folder / "api" / f"{entity}.jsonl").write_text("".join(lines[:keep]))
    return folder


@pytest.fixture
def server(api_sample: Path) -> Iterator[object]:
    from pipelines.samples.server import SampleStore, running

    with running(SampleStore.load(api_sample)) as srv:
        yield srv


@pytest.fixture
def local_env(toltek_home: Path, server: object) -> object:
    from pipelines import environments

    return environments.get("local").with_sample_url(server.url)  # type: ignore[attr-defined]


REPOSITORY_TREES = ("pipelines", "infra", "transform", "images")
REPOSITORY_FILES = ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prd.yaml", "pyproject.toml", "uv.lock", "README.md", ".dockerignore")


def copy_repository(into: Path, *ignore: str) -> Path:
    """A copy of the repository's code, dbt project, images and configuration (no git, no build
    output) in `into`, for a test to edit and run; `ignore`: more name patterns to leave out."""
    import shutil

    patterns = shutil.ignore_patterns("target", "logs", ".user.yml", *ignore)  # bytecode kept (hash-checked)
    into.mkdir(parents=True, exist_ok=True)
    for name in REPOSITORY_TREES:
        shutil.copytree(REPO_ROOT / name, into / name, ignore=patterns)
    for name in REPOSITORY_FILES:
        shutil.copy2(REPO_ROOT / name, into / name)
    return into


def pipeline_module(class_name: str, name: str, cron: str) -> str:
    """The `pipeline.py` of a new pipeline package: one declared `Pipeline` with a secret, whose
    source is never run (for tests that plan, list or diff it)."""
    return f'''from pipelines.base import Pipeline
from pipelines.declarations import Schedule


class {class_name}(Pipeline):
    """{class_name} from the payment provider."""

    name = "{name}"
    schedule = Schedule("{cron}", "Europe/Amsterdam")
    dataset = "raw_{name}"
    secrets = {{"{name}-api-key": "sources.{name}.api_key"}}

    def source(self, env):
        raise NotImplementedError
'''


def toltek_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a `toltek` subprocess writing into `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLTEK_")}
    env.update({"TOLTEK_HOME": str(home), "COLUMNS": "200", **extra})
    return env


@pytest.fixture(scope="session")
def loaded_home(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> tuple[Path, subprocess.CompletedProcess]:
    """A home after one whole `toltek run` on the sample data, and that run's result: made once per
    test run, even across pytest-xdist workers (the first to need it runs it under a lock). Read
    it; copy it (`copy_of_loaded_home`) before running anything in it."""
    import fcntl
    import json

    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    home, record = shared / "loaded-home", shared / "loaded-home.json"
    with open(shared / "loaded-home.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            done = subprocess.run([str(TOLTEK), "run"], capture_output=True, text=True, env=toltek_env(home), timeout=900)
            record.write_text(json.dumps({"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}))
    result = json.loads(record.read_text())
    return home, subprocess.CompletedProcess([str(TOLTEK), "run"], result["returncode"], result["stdout"], result["stderr"])


def copy_of_loaded_home(loaded: tuple[Path, subprocess.CompletedProcess], into: Path) -> Path:
    """A private copy of the loaded home, to run in."""
    import shutil

    shutil.copytree(loaded[0], into, ignore=shutil.ignore_patterns("*.lock"))
    return into


def query(db: Path, sql: str) -> list[tuple]:
    """Rows of `sql` against the DuckDB file `db`, opened read-only."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


RAW_KEYS = {
    "raw_shop_api.customers": "id",
    "raw_shop_api.orders": "id",
    "raw_shop_api.products": "id",
    "raw_shop_api.orders__items": "_dlt_parent_id, line",
    "raw_shop_files.shipments": "shipment_id, _file_name",
    "raw_shop_sheets.sales_targets": "month, channel",
}
MART_KEYS = {
    "marts.fct_orders": "order_id",
    "marts.dim_customers": "customer_id",
    "marts.mart_sales_vs_targets": "sales_month, channel",
}


def counts(db: Path, keys: dict[str, str]) -> dict[str, tuple]:
    """(rows, distinct keys) per table."""
    return {table: query(db, f"select count(*), count(distinct ({key})) from {table}")[0] for table, key in keys.items()}


_HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(600)
"""


@contextmanager
def duckdb_held_by_another_process(path: Path) -> Iterator[None]:
    """Keep the DuckDB file `path` open for writing in another process (DuckDB locks it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait()


# Lines tests want in the run's summary (e.g. the policy pack's mutation score), printed at the end
# of every run even though pytest captures test output.
SUMMARY_LINES: list[str] = []


def pytest_sessionfinish(session) -> None:  # type: ignore[no-untyped-def]
    """Under pytest-xdist, a worker hands its summary lines to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["toltek_summary"] = list(SUMMARY_LINES)


def pytest_testnodedown(node, error) -> None:  # type: ignore[no-untyped-def]
    SUMMARY_LINES.extend(getattr(node, "workeroutput", {}).get("toltek_summary", []))


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if SUMMARY_LINES and getattr(terminalreporter.config, "workeroutput", None) is None:
        terminalreporter.section("toltek")
        for line in SUMMARY_LINES:
            terminalreporter.write_line(line)
