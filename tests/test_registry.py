"""Registry discovery and every declaration error."""

from __future__ import annotations

import textwrap

import pytest
from conftest import REPO_ROOT

from pipelines.base import Pipeline
from pipelines.declarations import Resources, Schedule
from pipelines.errors import DeclarationError, UserError


def test_discovery_registers_every_pipeline_of_the_package(registry):
    assert registry.names() == ["shop_api", "shop_files", "shop_sheets"]
    assert {cls.dataset for cls in registry.all()} == {"raw_shop_api", "raw_shop_files", "raw_shop_sheets"}


def test_a_subclass_defined_anywhere_registers_itself(registry):
    class Extra(Pipeline):
        """An extra pipeline."""

        name = "extra_pipeline"
        schedule = Schedule("0 3 * * *")
        dataset = "raw_extra"

        def source(self, env):
            raise AssertionError("not run")

    assert registry.get("extra_pipeline") is Extra
    assert "extra_pipeline" in registry.names()


def test_isolation_forgets_declared_pipelines():
    from pipelines.registry import discover

    assert "extra_pipeline" not in discover().names()


def declare(cls_name="TestPipe", **overrides):
    """Declare a pipeline class with valid defaults, changing one field."""
    attrs = {
        "__doc__": "A test pipeline.",
        "name": "test_pipe",
        "schedule": Schedule("0 3 * * *", "Europe/Amsterdam"),
        "dataset": "raw_test_pipe",
        "source": lambda self, env: None,
    }
    attrs.update(overrides)
    attrs = {k: v for k, v in attrs.items() if v is not REMOVE}
    return type(cls_name, (Pipeline,), attrs)


REMOVE = object()


def test_a_valid_declaration_registers(registry):
    cls = declare()
    assert registry.get("test_pipe") is cls


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"name": REMOVE}, "name", "is required"),
        ({"schedule": REMOVE}, "schedule", "is required"),
        ({"dataset": REMOVE}, "dataset", "is required"),
        ({"name": "Test-Pipe"}, "name", "lowercase snake case"),
        ({"name": "test_pipe_"}, "name", "lowercase snake case"),
        ({"name": "a_pipeline_name_far_too_long"}, "name", "is 28 characters; at most 24 fit"),
        ({"name": "ab"}, "name", "derived service account id 'pl-ab' is invalid (6-30 characters"),
        ({"__doc__": None}, "__doc__", "docstring"),
        ({"schedule": "0 * * * *"}, "schedule", "must be a Schedule"),
        ({"schedule": Schedule("61 * * * *")}, "schedule", "invalid cron expression '61 * * * *'"),
        ({"schedule": Schedule("0 * * * * *")}, "schedule", "6 field(s), expected 5 (minute hour day-of-month month day-of-week)"),
        ({"schedule": Schedule("61 * * * *")}, "schedule", "minute 61 is out of range 0-59"),
        ({"schedule": Schedule("0 0 * * MON#1")}, "schedule", "day of week 'MON#1' is not a number (L, W, # and ? are not unix cron)"),
        ({"schedule": Schedule("@hourly")}, "schedule", "invalid cron expression"),
        ({"schedule": Schedule("0 * * * *", "Mars/Olympus")}, "schedule", "unknown time zone 'Mars/Olympus'"),
        # Files of a machine's zoneinfo folder that are no tz database name (Cloud Scheduler takes
        # those only); `localtime` is the zone of whichever machine plans.
        ({"schedule": Schedule("0 * * * *", "localtime")}, "schedule", "unknown time zone 'localtime'"),
        ({"schedule": Schedule("0 * * * *", "posix/Europe/Amsterdam")}, "schedule", "unknown time zone 'posix/Europe/Amsterdam'"),
        ({"schedule": Schedule("0 * * * *", "right/UTC")}, "schedule", "unknown time zone 'right/UTC'"),
        ({"schedule": Schedule("0 * * * *", "Factory")}, "schedule", "unknown time zone 'Factory'"),
        # Yearly: four runs missed is four years, past the two a freshness alert can watch.
        ({"schedule": Schedule("0 6 1 1 *", "Europe/Amsterdam")}, "stale_after_runs", "would count as stale only after 1464d"),
        ({"dataset": "Raw-Data"}, "dataset", "lowercase letters and digits, words joined by single underscores"),
        # dlt would load these into `raw_a_b` and `raw_ax`: datasets nothing else names.
        ({"dataset": "raw_a__b"}, "dataset", "'raw_a__b' must be lowercase letters and digits, words joined by single underscores"),
        ({"dataset": "raw_a_"}, "dataset", "'raw_a_' must be lowercase letters and digits, words joined by single underscores"),
        ({"name": "test__pipe"}, "name", "'test__pipe' must be lowercase snake case (letters and digits, words joined by single underscores)"),
        ({"name": "dbt"}, "name", "'dbt' is reserved (the dbt job's name"),
        ({"name": "null"}, "name", "'null' is reserved"),
        ({"dataset": "r" * 1017}, "dataset", "'rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr...' must be lowercase letters and digits, words joined by single underscores, at most 1016"),
        ({"secrets": ["token"]}, "secrets", "must map Secret Manager secret names"),
        ({"secrets": {"bad secret!": "sources.x.token"}}, "secrets", "not a valid Secret Manager secret name"),
        ({"secrets": {"api-token": "token"}}, "secrets", "must look like sources.<name>.<key>"),
        ({"resources": {"cpu": "1"}}, "resources", "must be a Resources"),
        ({"resources": Resources(cpu="3")}, "resources", "cpu '3' must be one of"),
        ({"resources": Resources(memory="1GB")}, "resources", "memory '1GB' must look like"),
        ({"resources": Resources(memory="64Gi")}, "resources", "between 512Mi and 32Gi"),
        ({"resources": Resources(timeout_seconds=10)}, "resources", "timeout_seconds 10"),
        ({"resources": Resources(max_retries=-1)}, "resources", "max_retries -1"),
        ({"schedule": Schedule("*/10 * * * *")}, "resources", "an execution may take 2400 s (timeout x (1 + retries)) but runs may start 600 s apart"),
        ({"schedule": Schedule("0 * * * *"), "resources": Resources(timeout_seconds=1200, max_retries=3)}, "resources", "could overlap"),
        # Exactly the gap leaves no time to start: refused too.
        ({"schedule": Schedule("0 * * * *"), "resources": Resources(timeout_seconds=1200, max_retries=2)}, "resources", "may take 3600 s (timeout x (1 + retries)) but runs may start 3600 s apart"),
        ({"schedule": Schedule("0 0 31 2 *")}, "schedule", "cron expression '0 0 31 2 *' never fires (no such date)"),
        # Daily at 02:30 in Amsterdam fires twice, an hour apart, when daylight saving ends.
        ({"schedule": Schedule("30 2 * * *", "Europe/Amsterdam"), "resources": Resources(timeout_seconds=1800)}, "resources", "may take 3600 s (timeout x (1 + retries)) but runs may start 3600 s apart"),
        # 01:00 and 03:00 are one real hour apart on the day daylight saving starts.
        ({"schedule": Schedule("0 1,3 * * *", "Europe/Amsterdam"), "resources": Resources(timeout_seconds=3000)}, "resources", "may take 6000 s (timeout x (1 + retries)) but runs may start 3600 s apart"),
        ({"schedule": Schedule("0 0 L * *")}, "schedule", "invalid cron expression '0 0 L * *'"),
        ({"schedule": Schedule("0 0 * * 5#2")}, "schedule", "invalid cron expression '0 0 * * 5#2'"),
        ({"schedule": Schedule("0 0 ? * *")}, "schedule", "invalid cron expression '0 0 ? * *'"),
        ({"schedule": Schedule(None)}, "schedule", "cron None and time zone 'Etc/UTC' must be strings"),
        ({"schedule": Schedule("0 * * * *", None)}, "schedule", "must be strings"),
        ({"resources": Resources(timeout_seconds="900")}, "resources", "timeout_seconds '900' must be an integer"),
        ({"resources": Resources(max_retries=True)}, "resources", "max_retries True must be an integer"),
        ({"resources": Resources(cpu=2)}, "resources", "cpu 2 must be one of"),
        ({"resources": Resources(memory=1024)}, "resources", "memory 1024 must look like"),
        ({"environments": ("local", "staging")}, "environments", "drawn from local, dev, prd"),
        ({"environments": ()}, "environments", "non-empty"),
        ({"environments": "prd"}, "environments", "non-empty tuple"),
        ({"transfer": "stream"}, "transfer", "'stream' must be one of read, copy"),
        ({"landing_prefix": "/abs/path"}, "landing_prefix", "must be a folder name"),
        ({"landing_prefix": "Shipments"}, "landing_prefix", "must be a folder name"),
        ({"google_sheets": "1TOLTEKsalesTargets2025xxxxxxxxxxxxxxxxxxxxx"}, "google_sheets", "must be a tuple of spreadsheet ids"),
        ({"google_sheets": ("https://docs.google.com/spreadsheets/d/1abc",)}, "google_sheets", "must be a tuple of spreadsheet ids"),
        ({"source": REMOVE}, "source", "must be implemented"),
    ],
)
def test_a_bad_declaration_names_class_and_field(registry, overrides, field, fragment):
    before = registry.names()
    with pytest.raises(DeclarationError) as caught:
        declare(**overrides)
    assert caught.value.cls_name == "TestPipe"
    assert caught.value.field == field
    assert str(caught.value).startswith(f"TestPipe.{field}: ")
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)
    assert registry.names() == before


def test_duplicate_name_is_rejected(registry):
    with pytest.raises(DeclarationError, match=r"TestPipe\.name: 'shop_api' is already declared by pipelines\.shop_api"):
        declare(name="shop_api")


def test_two_pipelines_cannot_claim_one_dataset(registry):
    with pytest.raises(DeclarationError, match=r"TestPipe\.dataset: 'raw_shop_api' is already claimed by"):
        declare(dataset="raw_shop_api")


def test_a_dataset_may_not_be_another_pipelines_staging_dataset(registry):
    with pytest.raises(DeclarationError) as caught:
        declare(dataset="raw_shop_api_staging")
    assert str(caught.value) == (
        "TestPipe.dataset: 'raw_shop_api_staging' is already claimed by pipelines.shop_api.pipeline.ShopApi"
    )


def test_a_staging_dataset_may_not_be_another_pipelines_dataset(registry):
    declare(name="test_pipe", dataset="raw_orders_staging")
    with pytest.raises(DeclarationError) as caught:
        declare("OtherPipe", name="other_pipe", dataset="raw_orders")
    assert str(caught.value) == f"OtherPipe.dataset: 'raw_orders_staging' is already claimed by {__name__}.TestPipe"


@pytest.mark.parametrize("dataset", ["staging", "marts", "dbt_dev"])
def test_the_platforms_own_datasets_are_reserved(registry, dataset):
    with pytest.raises(DeclarationError) as caught:
        declare(dataset=dataset)
    assert str(caught.value) == f"TestPipe.dataset: '{dataset}' is reserved for the warehouse and dbt"
    assert "test_pipe" not in registry.names()


@pytest.mark.parametrize("prefix", ["shipments/eu", "shipments/2026/06"])
def test_a_landing_folder_inside_another_pipelines_is_refused(registry, prefix):
    """ShopFiles reads `shipments/` and every folder under it (and its account may read every
    object there): a pipeline landing in `shipments/eu/` would have its files loaded twice."""
    with pytest.raises(DeclarationError) as caught:
        declare(dataset="raw_eu", landing_prefix=prefix)
    assert str(caught.value) == (
        f"TestPipe.landing_prefix: '{prefix}' is inside 'shipments', the landing folder of pipelines.shop_files.pipeline.ShopFiles, "
        "whose source reads (and whose account may read) every file under it; choose a folder beside it"
    )
    assert "test_pipe" not in registry.names()


def test_a_landing_folder_above_another_pipelines_is_refused_naming_the_inner_one_and_beside_or_shared_is_not(registry):
    """Whichever class is declared (imported) first, the error names the one whose folder is inside."""
    declare("Deep", name="deep_pipe", dataset="raw_deep", landing_prefix="partners/acme/orders")
    with pytest.raises(DeclarationError, match=r"^Deep\.landing_prefix: 'partners/acme/orders' is inside 'partners', the landing folder of .*\.TestPipe,"):
        declare(dataset="raw_all", landing_prefix="partners")
    declare("Beside", name="beside_pipe", dataset="raw_beside", landing_prefix="partners/acme/returns")
    declare("Prefix", name="prefix_pipe", dataset="raw_prefix", landing_prefix="shipments-archive")  # a name, not a folder, apart
    declare("Shared", name="shared_pipe", dataset="raw_shared", landing_prefix="shipments")  # one folder, narrowed globs
    assert {"deep_pipe", "beside_pipe", "prefix_pipe", "shared_pipe"} <= set(registry.names())


def test_a_reimported_class_may_keep_or_move_its_landing_folder(registry):
    declare("Moving", name="moving_pipe", dataset="raw_moving", landing_prefix="drops/a")
    declare("Moving", name="moving_pipe", dataset="raw_moving", landing_prefix="drops/a")
    declare("Moving", name="moving_pipe", dataset="raw_moving", landing_prefix="drops")  # only itself was below
    declare("Other", name="other_pipe", dataset="raw_other", landing_prefix="drops2/a")
    with pytest.raises(DeclarationError, match="'drops/b' is inside 'drops'"):
        declare(dataset="raw_b", landing_prefix="drops/b")


def test_unknown_name_lists_the_registered_ones(registry):
    with pytest.raises(UserError, match=r"unknown pipeline 'nope' \(registered: shop_api, shop_files, shop_sheets\)"):
        registry.get("nope")


def test_select_refuses_a_pipeline_outside_its_environments(registry):
    declare(environments=("local",))
    with pytest.raises(UserError, match="pipeline 'test_pipe' does not run in environment 'prd'"):
        registry.select(["test_pipe"], "prd")
    assert "test_pipe" not in [c.name for c in registry.select(None, "prd")]
    assert "test_pipe" in [c.name for c in registry.select(None, "local")]


def test_the_readme_example_pipeline_declares_cleanly(registry):
    """The class the README's "Add a pipeline" shows is a valid declaration as written."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Add a pipeline", 1)[1]
    code = textwrap.dedent(section.split("```python", 1)[1].split("```", 1)[0])
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(code, "README.md", "exec"), namespace)
    assert registry.get("payments") is namespace["Payments"]


def test_a_secret_belongs_to_one_pipeline(registry):
    before = registry.names()
    with pytest.raises(DeclarationError) as caught:
        declare(secrets={"shop-api-token": "sources.test_pipe.token"})
    assert str(caught.value) == (
        "TestPipe.secrets: secret 'shop-api-token' already belongs to pipelines.shop_api.pipeline.ShopApi; "
        "each secret belongs to one pipeline (create a second secret with the same value)"
    )
    assert registry.names() == before


def test_a_pipeline_class_outside_a_pipeline_package_is_one_line(tmp_path):
    import shutil
    import subprocess
    import sys

    shutil.copytree(REPO_ROOT / "pipelines", tmp_path / "pipelines", ignore=shutil.ignore_patterns("__pycache__", "data"))
    (tmp_path / "pipelines" / "payments.py").write_text(
        "from pipelines.base import Pipeline\n\n\nclass Payments(Pipeline):\n    pass\n"
    )
    code = "from pipelines.registry import discover\ntry:\n    discover()\nexcept Exception as exc:\n    print(type(exc).__name__, exc)"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}, capture_output=True, text=True)
    assert done.stdout.strip() == (
        "UserError pipelines/payments.py defines a Pipeline class outside a pipeline package: move it to pipelines/<name>/pipeline.py"
    )
