"""Operations on the deployed jobs: `toltek status`, `toltek trigger`, `toltek logs`.

Cloud Run executions through google-cloud-run, log entries through google-cloud-logging. The
Google libraries are imported inside the functions that use them, so listing and running
pipelines never load them.
"""
