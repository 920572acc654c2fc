"""Settings of the Google Sheets source."""

SHEETS_API_URL = "https://sheets.googleapis.com/v4/"
SCOPES = ("https://www.googleapis.com/auth/spreadsheets.readonly",)
# The commercial team's spreadsheet of monthly revenue targets; shared read-only with the
# pipeline's service account.
PRODUCTION_SPREADSHEET_ID = "1TOLTEKsalesTargets2025xxxxxxxxxxxxxxxxxxxxx"
RANGES = ("sales_targets",)
