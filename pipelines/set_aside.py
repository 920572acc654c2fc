"""Data that fails for a reason of its own is set aside, never retried forever.

A package that fails in extract, normalize or load because of what is *in* it (a value the
contract refuses, a null key, a table the destination rejects) would fail again on every run, and
block every later load of that pipeline. Such a package is copied under
`$TOLTEK_HOME/failed/<pipeline>/<load id>/` with the reason, then aborted, which rolls the
pipeline's state (incremental cursors, files read) back to before it: once the source is fixed,
the next run reads the same data again. In a Cloud Run job the folder lives as long as the
execution (the reason is in its log). Failures of the world (network, a locked file, a full disk,
a signal) are not data failures: their package is kept and the next run resumes it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import dlt
from dlt.common.destination.exceptions import DestinationTerminalException
from dlt.common.schema.exceptions import DataValidationError, SchemaException

from pipelines.errors import SourceDataError

DATA_FAILURES = (SourceDataError, DataValidationError, SchemaException, DestinationTerminalException)


def is_data_failure(cause: BaseException) -> bool:
    return isinstance(cause, DATA_FAILURES)


def set_aside(dlt_pipeline: dlt.Pipeline, folder: Path, reason: str) -> Path | None:
    """Copy every pending package of `dlt_pipeline` to `folder/<load id>/` with `reason`, then
    abort them (state rolled back). Returns the folder, or None when nothing was pending."""
    working = Path(dlt_pipeline.working_dir)
    load_ids = sorted({*dlt_pipeline.list_extracted_load_packages(), *dlt_pipeline.list_normalized_load_packages()})
    kept = None
    for load_id in load_ids:
        target = folder / load_id
        for source in working.rglob(load_id):
            if source.is_dir():
                shutil.copytree(source, target / source.parent.name, dirs_exist_ok=True)
        target.mkdir(parents=True, exist_ok=True)
        (target / "reason.txt").write_text(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {reason}\n")
        kept = folder
    dlt_pipeline.abort_packages()
    if dlt_pipeline.has_pending_data:  # a package that had started loading completes as aborted
        dlt_pipeline.load()
    return kept
