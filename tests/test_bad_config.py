"""A bad registry or stack config: one clear line from `toltek pipelines` / `toltek plan`, exit 2."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import TOLTEK, copy_of_loaded_home, copy_repository, toltek_env

from pipelines.samples import DATA_DIR, SAMPLE_GOOGLE_TOKEN, SAMPLE_SECRETS

pytestmark = pytest.mark.faults

TEMPLATE = '''
from pipelines.base import Pipeline
from pipelines.declarations import Resources, Schedule


class Broken(Pipeline):
    """A pipeline with one bad declaration."""

    name = {name!r}
    schedule = Schedule({cron!r}, "Europe/Amsterdam")
    dataset = {dataset!r}
    secrets = {secrets!r}

    def source(self, env):
        raise NotImplementedError
'''
GOOD = {"name": "broken_one", "cron": "0 5 * * *", "dataset": "raw_broken", "secrets": {}}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return copy_repository(tmp_path_factory.mktemp("repo"), "data")


def cli(tree, *args):
    return subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", *args],
        cwd=tree, env=toltek_env(tree / ".home", PYTHONPATH=str(tree)), capture_output=True, text=True, timeout=300,
    )


CASES = [
    ({"name": "shop_api"}, "Broken.name: 'shop_api' is already declared by pipelines.shop_api.pipeline.ShopApi"),
    ({"cron": "0 25 * * *"}, "Broken.schedule: invalid cron expression '0 25 * * *': hour 25 is out of range 0-23"),
    ({"name": "an_extremely_long_pipeline_name"}, "Broken.name: 'an_extremely_long_pipeline_name' is 31 characters; at most 24 fit every id derived from it"),
    ({"name": "ab"}, "Broken.name: derived service account id 'pl-ab' is invalid (6-30 characters: lowercase letters, digits, hyphens)"),
    ({"name": "Broken-One"}, "Broken.name: 'Broken-One' must be lowercase snake case (letters and digits, words joined by single underscores)"),
    ({"secrets": {"shop api token": "sources.broken.token"}}, "Broken.secrets: 'shop api token' is not a valid Secret Manager secret name"),
    ({"dataset": "raw_shop_api"}, "Broken.dataset: 'raw_shop_api' is already claimed by pipelines.shop_api.pipeline.ShopApi"),
]


def new_package(tree, text):
    """A pipeline package `pipelines/zz_broken/` whose `pipeline.py` holds `text`."""
    package = tree / "pipelines" / "zz_broken"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "pipeline.py").write_text(text)
    return package


@pytest.mark.parametrize(("change", "message"), CASES, ids=[m.split(":")[0] + "-" + list(c)[0] for c, m in CASES])
def test_a_bad_declaration_is_one_line_and_exit_2(tree, change, message):
    module = new_package(tree, TEMPLATE.format(**{**GOOD, **change}))
    try:
        for args in (["pipelines"], ["plan", "-s", "prd"]):
            done = cli(tree, *args)
            assert done.returncode == 2, (args, done.stdout, done.stderr)
            # Where the class is, as a compiler says it: the file (from the working directory) and line.
            assert done.stderr.strip() == f"error: pipelines/zz_broken/pipeline.py:6: {message}", args
            assert "Traceback" not in done.stdout + done.stderr
    finally:
        shutil.rmtree(module)


def test_a_secret_without_a_local_value_is_one_line_and_exit_2(tree):
    module = new_package(tree, TEMPLATE.format(**{**GOOD, "secrets": {"unknown-token": "sources.broken.token"}}))
    try:
        done = cli(tree, "run", "broken_one", "--skip-transform")
    finally:
        shutil.rmtree(module)
    assert done.returncode == 2
    # Refused before anything starts: no progress, no partial run, just the one line.
    assert done.stderr.strip() == (
        "error: pipeline 'broken_one' needs secret 'unknown-token', which has no local sample value"
    )
    assert done.stdout == ""


def test_missing_stack_config_is_one_line_and_exit_2(tree):
    stack_file = tree / "Pulumi.prd.yaml"
    saved = stack_file.read_text()
    stack_file.unlink()
    try:
        done = cli(tree, "plan", "-s", "prd")
    finally:
        stack_file.write_text(saved)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: stack config Pulumi.prd.yaml not found in {tree}"


def test_no_secret_value_reaches_output_logs_plan_or_errors(loaded_home, tmp_path):
    # A whole run's output and the home it wrote (dlt state, dbt logs), shared with other modules.
    home = copy_of_loaded_home(loaded_home, tmp_path / "home")
    assert loaded_home[1].returncode == 0, loaded_home[1].stderr
    outputs = [loaded_home[1].stdout + loaded_home[1].stderr]
    for args in (["plan", "-s", "prd", "--json"], ["policy", "-s", "prd", "--json"], ["pipelines", "--json"]):
        done = subprocess.run([str(TOLTEK), *args], capture_output=True, text=True, env=toltek_env(home), timeout=600)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)
    failing = subprocess.run(
        [str(TOLTEK), "run", "shop_api", "--skip-transform"], capture_output=True, text=True, timeout=600,
        env=toltek_env(home, TOLTEK_SAMPLE_FAULTS='[{"path": "/shop/v1/orders", "status": 401, "times": -1}]'),
    )
    assert failing.returncode == 1 and "HTTP 401 Unauthorized" in failing.stderr
    outputs.append(failing.stdout + failing.stderr)
    files = [p for p in home.rglob("*") if p.is_file() and p.suffix != ".duckdb"]
    assert any(p.suffix == ".log" for p in files), "dbt wrote its logs"
    secrets = [*SAMPLE_SECRETS.values(), SAMPLE_GOOGLE_TOKEN]
    for secret in secrets:
        assert all(secret not in text for text in outputs)
        assert not [p for p in files if secret.encode() in p.read_bytes()]


def run_cli(*args, home, **extra):
    return subprocess.run([str(TOLTEK), *args], capture_output=True, text=True, env=toltek_env(home, **extra), timeout=600)


def test_a_toltek_home_that_is_not_a_usable_folder_is_one_line_and_exit_2(tmp_path):
    home = tmp_path / "home"
    home.write_text("not a folder")
    done = run_cli("run", "shop_sheets", home=home)
    assert (done.returncode, done.stderr.strip()) == (2, f"error: TOLTEK_HOME: {home} is a file, not a folder")
    under = home / "inner"
    done = run_cli("run", "shop_sheets", home=under)
    assert (done.returncode, done.stderr.strip()) == (
        2, f"error: TOLTEK_HOME {under} is not usable: Not a directory ({under})"
    )
    assert home.read_text() == "not a folder"
    other = tmp_path / "other"
    other.mkdir()
    (other / "dlt").write_text("in the way")
    done = run_cli("run", "shop_sheets", home=other)
    assert (done.returncode, done.stderr.strip()) == (2, f"error: TOLTEK_HOME: {other / 'dlt'} is a file, not a folder")
    # dlt's DuckDB loader puts load file paths into SQL unescaped: every load failed in a parser error.
    quoted = tmp_path / "o'brien"
    done = run_cli("run", "shop_sheets", home=quoted)
    assert (done.returncode, done.stderr.strip()) == (
        2, f"error: TOLTEK_HOME {quoted} holds a single quote ('), which dlt's DuckDB loads cannot read: choose a folder without one"
    )
    assert not quoted.exists()


RULE = "TOLTEK_SAMPLES must name a folder holding api/, sheets/ and files/"


def test_a_sample_folder_that_is_missing_or_incomplete_is_one_line_and_exit_2(tmp_path):
    home = tmp_path / "home"
    missing = tmp_path / "no-samples"
    done = run_cli("run", home=home, TOLTEK_SAMPLES=str(missing))
    assert (done.returncode, done.stderr.strip()) == (2, f"error: sample data folder {missing} not found ({RULE})")
    missing.write_text("x")
    done = run_cli("run", home=home, TOLTEK_SAMPLES=str(missing))
    assert (done.returncode, done.stderr.strip()) == (2, f"error: sample data folder {missing} is a file ({RULE})")
    partial = tmp_path / "partial"
    (partial / "files").mkdir(parents=True)
    done = run_cli("run", home=home, TOLTEK_SAMPLES=str(partial))
    assert (done.returncode, done.stderr.strip()) == (2, f"error: sample data folder {partial} lacks api/, sheets/ ({RULE})")


def test_a_broken_sample_file_is_one_line_naming_it(tmp_path):
    samples = tmp_path / "samples"
    shutil.copytree(DATA_DIR, samples)
    customers = samples / "api" / "customers.jsonl"
    customers.write_text(customers.read_text() + "{not json\n")
    done = run_cli("run", home=tmp_path / "home", TOLTEK_SAMPLES=str(samples))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: sample data: {customers} is not valid sample data "
        "(JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"
    )


def test_a_run_of_file_pipelines_does_not_read_the_api_sample(tmp_path):
    """The sample server (and its data in memory) serves the REST and Sheets pipelines only: a
    broken API sample stops `toltek run`, not `toltek run shop_files`."""
    samples = tmp_path / "samples"
    shutil.copytree(DATA_DIR, samples)
    customers = samples / "api" / "customers.jsonl"
    customers.write_text(customers.read_text() + "{not json\n")
    done = run_cli("run", "shop_files", "--skip-transform", home=tmp_path / "home", TOLTEK_SAMPLES=str(samples))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "6672" in done.stdout
    done = run_cli("run", "shop_files", "shop_api", "--skip-transform", home=tmp_path / "home", TOLTEK_SAMPLES=str(samples))
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"error: sample data: {customers} is not valid sample data")


def test_a_toltek_home_without_write_permission_is_one_line_and_exit_2(tmp_path):
    import os

    home = tmp_path / "locked"
    home.mkdir()
    home.chmod(0o555)
    command = [str(TOLTEK), "run", "shop_sheets"]
    if os.geteuid() == 0:  # root ignores file modes unless it drops the capabilities that let it
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a folder unwritable")
        caps = "-dac_override,-dac_read_search,-fowner"
        command = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", *command]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=toltek_env(home), timeout=600)
    finally:
        home.chmod(0o755)
    assert (done.returncode, done.stderr.strip()) == (
        2, f"error: TOLTEK_HOME {home} is not usable: Permission denied ({home / 'dlt'})"
    )


IMPORT_CASES = [
    ("from pipelines.base import Pipeline\nclass Broken(Pipeline)\n    pass\n", "pipelines/zz_broken/pipeline.py:2: syntax error: expected ':'"),
    ("import pipelines\nimport toltek_no_such_module\n", "pipelines/zz_broken/pipeline.py:2: cannot import 'toltek_no_such_module' (pipelines.zz_broken.pipeline); is it installed (uv.lock) and spelled right?"),
    ("LIMIT = 10\nRATE = LIMIT / 0\n", "pipelines/zz_broken/pipeline.py:2: ZeroDivisionError while importing pipelines.zz_broken.pipeline: division by zero"),
]


@pytest.mark.parametrize(("text", "message"), IMPORT_CASES, ids=["syntax", "missing-module", "raises"])
def test_a_pipeline_module_that_cannot_be_imported_is_one_line_naming_file_and_line_exit_2(tree, text, message):
    module = new_package(tree, text)
    try:
        for args in (["pipelines"], ["run", "shop_sheets", "--skip-transform"], ["plan", "-s", "prd"], ["transform"]):
            done = cli(tree, *args)
            assert done.returncode == 2, (args, done.stdout, done.stderr)
            assert done.stderr.strip() == f"error: {message}", args
    finally:
        shutil.rmtree(module)


@pytest.mark.parametrize("name", ["config.toml", "secrets.toml"])
def test_a_dlt_config_file_that_cannot_be_read_is_one_line_and_exit_2(tmp_path, name):
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / name).write_text('[data_writer\ncompression = "zstd"\n')  # a bracket left open
    done = subprocess.run(
        [str(TOLTEK), "run", "shop_sheets", "--skip-transform"], cwd=tmp_path, capture_output=True, text=True,
        env=toltek_env(tmp_path / "home"), timeout=600,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: dlt configuration: A problem encountered when loading {name} from paths ['./.dlt/{name}'")
    assert line.endswith("Unexpected character: '\\n' at line 1 col 12")
