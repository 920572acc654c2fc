"""Stopping on SIGTERM (Cloud Run's timeout or cancel) and SIGINT (Ctrl-C), wherever the run is.

Outside dbt, the handler raises `Terminated` in the main thread: the run unwinds through its
`finally` blocks and stops with one line (exit 128 + signal). Inside dbt, which runs its nodes in
worker threads on open database connections, an exception of our own would tear those threads
down mid-query; dbt handles one interruption itself, `KeyboardInterrupt`: it cancels the open
queries, waits for its threads and returns. So while dbt runs, the handler records the signal and
raises `KeyboardInterrupt`, and `stopped()` re-raises the signal as `Terminated` once dbt is out.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

from pipelines.errors import Terminated

_state: dict[str, object] = {"in_dbt": False, "signum": None}


def handle(signum: int, frame: object) -> None:
    _state["signum"] = signum
    if _state["in_dbt"]:
        raise KeyboardInterrupt
    raise Terminated(signum)


def install() -> None:
    """Handle SIGTERM and SIGINT as above (call from the main thread)."""
    _state["signum"] = None
    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


@contextmanager
def inside_dbt() -> Iterator[None]:
    """Run dbt in this block; a stop requested meanwhile leaves it as `Terminated`."""
    _state["in_dbt"] = True
    try:
        yield
    except KeyboardInterrupt:
        raise Terminated(int(_state["signum"] or signal.SIGINT)) from None  # type: ignore[call-overload]
    finally:
        _state["in_dbt"] = False
    if _state["signum"] is not None:
        raise Terminated(int(_state["signum"]))  # type: ignore[call-overload]


@contextmanager
def deferred() -> Iterator[None]:
    """A step a stop must not cut short (a child process that would go on alone: `git worktree
    add` checks out in a child of its own): SIGTERM or SIGINT received meanwhile is delivered again
    once it ends, to whatever handled it before (main thread only)."""
    received: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    for signum in previous:
        signal.signal(signum, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:  # also when the step failed: the stop is not lost with its exception
            signal.raise_signal(received[0])


def stopped_line(exc: BaseException, kept: str) -> tuple[int, str]:
    """(exit code, the one line) of a stop: `Terminated` or Ctrl-C's `KeyboardInterrupt`, exit
    128 + the signal, the line saying what was kept."""
    signum = exc.signum if isinstance(exc, Terminated) else signal.SIGINT
    return 128 + signum, f"by {signal.Signals(signum).name}: stopped; {kept}"
