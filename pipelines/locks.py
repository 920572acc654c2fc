"""Exclusive locks on files, held by a process for as long as it runs (released by the kernel if
it dies): one `toltek run` per home, one run per pipeline."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from pipelines.errors import PipelineFailed


class Busy(PipelineFailed):
    """Someone else holds the lock; nothing was started."""


@contextmanager
def exclusive(path: Path, busy: Callable[[str], str]) -> Iterator[None]:
    """Hold `path` locked (its content: our pid); `busy(holder pid)` is the refusal's message."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise Busy(busy(handle.read().strip() or "another process")) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def home_lock(work_dir: Path) -> AbstractContextManager[None]:
    """One `toltek run` at a time on a home (`work_dir` is its dlt folder): taken before anything
    starts, so a second run refuses without touching the datalake, the warehouse or any state."""
    home = work_dir.parent
    return exclusive(work_dir / "run.lock", lambda pid: f"another toltek run or transform (pid {pid}) is using {home}; not started")
