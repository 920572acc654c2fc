"""`toltek run --env dev|prd` checks its settings, credentials and secrets before anything starts:
one line, exit 2, nothing created."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import TOLTEK, toltek_env


@pytest.fixture(scope="module")
def service_account_file(tmp_path_factory) -> Path:
    """A well-formed service-account key file (a fresh RSA key, no real account): what
    application-default credentials read from GOOGLE_APPLICATION_CREDENTIALS."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    path = tmp_path_factory.mktemp("adc") / "key.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "toltek-datalake-dev", "private_key_id": "0" * 40, "private_key": pem,
        "client_email": "runner@toltek-datalake-dev.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }))
    return path


def run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = toltek_env(tmp_path / "home", NO_GCE_CHECK="True", HOME=str(tmp_path), **extra)
    env = {k: v for k, v in env.items() if not k.startswith(("SOURCES__", "GOOGLE_"))} | {k: v for k, v in extra.items()}
    return subprocess.run([str(TOLTEK), "run", *args], capture_output=True, text=True, env=env, timeout=120)


def one_line(done: subprocess.CompletedProcess, text: str, tmp_path: Path) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"error: {text}"
    assert not (tmp_path / "home").exists()


def test_no_credentials(tmp_path):
    done = run(tmp_path, "--env", "dev")
    one_line(done, "no application-default credentials: run `gcloud auth application-default login`", tmp_path)


def test_a_credentials_file_that_is_not_there(tmp_path):
    done = run(tmp_path, "--env", "prd", GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "gone.json"))
    assert f"GOOGLE_APPLICATION_CREDENTIALS={tmp_path / 'gone.json'}: File {tmp_path / 'gone.json'} was not found." in done.stderr
    one_line(done, done.stderr.strip().removeprefix("error: "), tmp_path)


def test_a_missing_secret_names_the_variable(tmp_path, service_account_file):
    done = run(tmp_path, "--env", "dev", "shop_api", GOOGLE_APPLICATION_CREDENTIALS=str(service_account_file))
    one_line(done, "pipeline 'shop_api' needs secret 'shop-api-token' (config key sources.shop_api.access_token): "
             "set SOURCES__SHOP_API__ACCESS_TOKEN or add sources.shop_api.access_token to .dlt/secrets.toml "
             "(the Cloud Run job mounts it from Secret Manager)", tmp_path)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TOLTEK_DATALAKE_PROJECT", "Toltek_Lake", "TOLTEK_DATALAKE_PROJECT is 'Toltek_Lake', expected a GCP project id"),
        ("TOLTEK_BQ_LOCATION", "europe", "TOLTEK_BQ_LOCATION is 'europe', expected EU, US or a region"),
        ("TOLTEK_WAREHOUSE_PROJECT", "toltek-datalake-prd", "the prd warehouse project must differ from its datalake project (toltek-datalake-prd)"),
    ],
)
def test_stack_settings_are_checked_as_plan_checks_them(tmp_path, service_account_file, variable, value, message):
    done = run(tmp_path, "--env", "prd", GOOGLE_APPLICATION_CREDENTIALS=str(service_account_file), **{variable: value})
    one_line(done, message, tmp_path)
