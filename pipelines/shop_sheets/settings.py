"""Settings of the Google Sheets source."""

# The commercial team's spreadsheet of monthly revenue targets; shared read-only with the
# pipeline's service account.
PRODUCTION_SPREADSHEET_ID = "1TOLTEKsalesTargets2025xxxxxxxxxxxxxxxxxxxxx"
RANGES = ("sales_targets",)
