"""Sample sources for the local environment: a deterministic data set, its generator, and a small
HTTP server that serves it the way the production REST API and Google Sheets API do."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

# Values the sample server accepts in place of the secrets production reads from Secret Manager.
SAMPLE_SECRETS = {"shop-api-token": "sample-shop-api-token-5f1c"}
SAMPLE_GOOGLE_TOKEN = "sample-google-access-token-9b2e"
SAMPLE_SPREADSHEET_ID = "1toltekSampleSalesTargets"
