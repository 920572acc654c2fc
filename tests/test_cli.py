"""The `toltek` command line: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess

from conftest import TOLTEK, toltek_env
from typer.testing import CliRunner

from pipelines import cli
from pipelines.errors import DeclarationError
from pipelines.samples import DATA_DIR


def toltek(*args, home, **extra):
    return subprocess.run([str(TOLTEK), *args], capture_output=True, text=True, env=toltek_env(home, **extra), timeout=600)


def test_pipelines_json_lists_the_declarations(tmp_path):
    done = toltek("pipelines", "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = {p["name"]: p for p in json.loads(done.stdout)}
    assert sorted(listed) == ["shop_api", "shop_files", "shop_sheets"]
    api = listed["shop_api"]
    assert api["schedule"] == {"cron": "15 * * * *", "time_zone": "Europe/Amsterdam"}
    assert api["dataset"] == "raw_shop_api"
    assert api["secrets"] == [{"secret": "shop-api-token", "config_key": "sources.shop_api.access_token"}]
    assert api["environments"] == ["local", "dev", "prd"]
    assert all({"name", "schedule", "dataset", "secrets", "environments"} <= set(p) for p in listed.values())


def test_pipelines_piped_is_tab_separated_with_a_header(tmp_path):
    done = toltek("pipelines", home=tmp_path)
    assert done.returncode == 0
    lines = [line.split("\t") for line in done.stdout.splitlines()]
    assert lines[0] == ["name", "cron", "time zone", "dataset", "secrets", "environments"]
    assert lines[1] == ["shop_api", "15 * * * *", "Europe/Amsterdam", "raw_shop_api", "shop-api-token", "local dev prd"]
    assert [line[0] for line in lines[1:]] == ["shop_api", "shop_files", "shop_sheets"]


def test_pipelines_in_a_terminal_is_a_table():
    from rich.console import Console

    cli.out = Console(force_terminal=True, width=80, record=True)
    try:
        result = CliRunner().invoke(cli.app, ["pipelines"])
        text = cli.out.export_text()
    finally:
        cli.out = Console()
    assert result.exit_code == 0
    assert "Registered pipelines" in text and " name " in text
    assert all(len(line) <= 80 for line in text.splitlines())
    # At 80 columns no identifier breaks across lines, and nothing is cut.
    for name in ("shop_api", "shop_files", "shop_sheets", "raw_shop_api", "shop-api-token", "15 * * * *", "Europe/Amsterdam"):
        assert name in text
    assert "…" not in text


def one_line_error(done, text):
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {text}"
    assert "Traceback" not in done.stderr + done.stdout


def test_unknown_pipeline_is_one_line_and_exit_2(tmp_path):
    done = toltek("run", "nope", home=tmp_path)
    one_line_error(done, "unknown pipeline 'nope' (registered: shop_api, shop_files, shop_sheets)")
    assert not (tmp_path / "datalake.duckdb").exists()


def test_unknown_environment_is_one_line_and_exit_2(tmp_path):
    one_line_error(toltek("run", "--env", "qa", home=tmp_path), "unknown environment 'qa' (choose from: local, dev, prd)")


def test_a_bad_declaration_is_one_line_and_exit_2(monkeypatch):
    def broken_discover():
        raise DeclarationError("Broken", "schedule", "invalid cron expression '61 * * * *' (expected 5 unix-cron fields)")

    monkeypatch.setattr(cli, "discover", broken_discover)
    for args in (["pipelines"], ["run"]):
        result = CliRunner().invoke(cli.app, args)
        assert result.exit_code == 2
        assert result.output.strip() == "error: Broken.schedule: invalid cron expression '61 * * * *' (expected 5 unix-cron fields)"


def test_help_explains_commands(tmp_path):
    done = toltek("--help", home=tmp_path)
    assert done.returncode == 0
    assert "pipelines" in done.stdout and "run" in done.stdout
    done = toltek("run", "--help", home=tmp_path)
    assert "--skip-transform" in done.stdout and "--force-transform" in done.stdout and "--env" in done.stdout


def test_skipping_and_forcing_the_transform_at_once_is_one_line_and_exit_2(tmp_path):
    done = toltek("run", "--skip-transform", "--force-transform", home=tmp_path)
    one_line_error(done, "--skip-transform and --force-transform exclude each other")
    assert not (tmp_path / "datalake.duckdb").exists()


def test_refresh_without_the_pipelines_to_reload_is_one_line_and_exit_2(tmp_path):
    """Dropping every raw table of an environment is never a flag away: `--refresh` needs names."""
    done = toltek("run", "--refresh", home=tmp_path)
    one_line_error(done, "--refresh reloads the pipelines it names from scratch: name them (e.g. `toltek run shop_sheets --refresh`)")
    assert not (tmp_path / "datalake.duckdb").exists()


def test_a_failed_and_a_never_loaded_source_leave_out_their_models_and_the_rest_is_built(tmp_path):
    """On a fresh home: shop_files fails (a drop lacks its key column), shop_sheets loads, shop_api
    was never loaded. The run exits 1, says why each source is left out and which models, and
    dbt builds what stands on shop_sheets alone."""
    samples = tmp_path / "samples"
    shutil.copytree(DATA_DIR, samples)
    (samples / "files" / "shipments" / "shipments_2025_01.csv").write_text(
        "order_id,carrier,shipped_at,delivered_at,weight_kg\n1,ups,,,1\n"  # no shipment_id column
    )
    done = toltek("run", "shop_files", "shop_sheets", home=tmp_path / "home", TOLTEK_SAMPLES=str(samples))
    assert done.returncode == 1
    assert "failed: pipeline 'shop_files' failed in extract: shipments_2025_01.csv lacks required column(s) shipment_id" in done.stderr
    assert "shop_sheets" in done.stdout and "36" in done.stdout  # the other pipeline still ran, and is summarised
    assert "source shop_api: raw dataset 'raw_shop_api' has never been loaded; skipped 7 model(s)" in done.stderr
    assert "source shop_files: failed in this run; skipped 4 model(s): dim_customers, fct_orders, mart_sales_vs_targets, stg_shop_files__shipments" in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "failed: 8 model(s) not built: source(s) shop_api, shop_files unhealthy (see above)"
    # shop_sheets' own staging model is built all the same.
    results = json.loads((tmp_path / "home" / "dbt" / "target" / "run_results.json").read_text())["results"]
    assert {r["unique_id"]: r["status"] for r in results}["model.toltek.stg_shop_sheets__sales_targets"] == "success"
    again = toltek("run", "shop_sheets", "--skip-transform", home=tmp_path / "home", TOLTEK_SAMPLES=str(samples))
    assert again.returncode == 0, again.stderr


def test_run_json_is_the_summary_as_data_on_stdout(tmp_path):
    done = toltek("run", "shop_sheets", "--skip-transform", "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # nothing else on stdout
    assert summary["ok"] is True and summary["environment"] == "local"
    (sheets,) = summary["pipelines"]
    assert (sheets["name"], sheets["status"], sheets["rows"], sheets["tables"], sheets["discarded"], sheets["refreshed"]) == (
        "shop_sheets", "loaded", 36, {"sales_targets": 36}, 0, False
    )
    assert summary["transform"] == {"ran": False, "reason": "--skip-transform"}


def test_a_working_folder_that_cannot_be_written_fails_that_pipeline_in_one_line_and_the_others_load(tmp_path):
    """dlt writes each pipeline's state into its working folder before anything else: a full disk,
    a lost mount or a file in the folder's place used to end the whole run in a traceback."""
    home = tmp_path / "home"
    (home / "dlt").mkdir(parents=True)
    (home / "dlt" / "toltek_shop_sheets").write_text("not a folder")
    done = toltek("run", "shop_files", "shop_sheets", "--skip-transform", "--json", home=home)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed:")]
    assert failed == [f"failed: pipeline 'shop_sheets' failed in start: NotADirectoryError: [Errno 20] Not a directory: '{home}/dlt/toltek_shop_sheets/state.json'"]
    status = {p["name"]: p["status"] for p in json.loads(done.stdout)["pipelines"]}
    assert status == {"shop_files": "loaded", "shop_sheets": "failed"}
