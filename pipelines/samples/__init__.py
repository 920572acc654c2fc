"""Sample sources for the local environment: a deterministic data set, its generator, and a small
HTTP server that serves it the way the production REST API and Google Sheets API do.

`secrets.json` holds the sample value of each secret a pipeline declares (Secret Manager name ->
`value`), and for an API token the path of the sample server it opens (`path`); `toltek new`
adds an entry for each REST pipeline it writes.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.errors import UserError

DATA_DIR = Path(__file__).resolve().parent / "data"
SECRETS_FILE = Path(__file__).resolve().parent / "secrets.json"
SAMPLE_GOOGLE_TOKEN = "sample-google-access-token-9b2e"
SAMPLE_SPREADSHEET_ID = "1toltekSampleSalesTargets"


def read_secrets(path: Path = SECRETS_FILE) -> dict[str, dict[str, str]]:
    """The entries of `secrets.json`: secret name -> {"value": ..., "path": ... (optional)}."""
    try:
        entries = json.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"sample secrets: cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise UserError(f"sample secrets: {path} is not valid JSON ({exc})") from None
    if not isinstance(entries, dict) or not all(
        isinstance(entry, dict) and isinstance(entry.get("value"), str) and isinstance(entry.get("path", ""), str)
        for entry in entries.values()
    ):
        raise UserError(f'sample secrets: {path} must map each secret name to {{"value": "...", "path": "/..."}}')
    return entries


_ENTRIES = read_secrets()
# Values the sample server accepts in place of the secrets production reads from Secret Manager.
SAMPLE_SECRETS: dict[str, str] = {name: entry["value"] for name, entry in _ENTRIES.items()}
# Path prefix of the sample server -> the token it requires there.
SAMPLE_TOKENS: dict[str, str] = {entry["path"]: entry["value"] for entry in _ENTRIES.values() if entry.get("path")}
