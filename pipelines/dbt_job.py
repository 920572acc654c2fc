"""The warehouse's dbt job as both sides see it: its name, schedule and resources.

The infrastructure deploys exactly these (`infra/components/warehouse.py`), and the operations
commands read them (`toltek status`, `toltek trigger dbt`), so the two never drift apart. The job
runs in the warehouse project of the `prd` stack only.
"""

from __future__ import annotations

from pipelines.declarations import Resources, Schedule

NAME = "dbt"
ENVIRONMENTS = ("prd",)
SCHEDULE = Schedule("0 7 * * *", "Europe/Amsterdam")
RESOURCES = Resources(cpu="1", memory="2Gi", timeout_seconds=3600, max_retries=1)
# Scheduled intervals without a succeeded execution before the marts count as stale (warn, error),
# as `Pipeline.stale_after_runs` for a pipeline.
STALE_AFTER_RUNS = (2, 4)


def job_name(env: str) -> str:
    """The Cloud Run job that runs `dbt build` in `env`: `toltek-dbt-{env}`."""
    return f"toltek-{NAME}-{env}"
