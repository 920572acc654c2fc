"""`signals.deferred`: a stop that arrives during a step that must not be cut short is delivered
once the step ends, to the handler installed before, also when the step failed."""

from __future__ import annotations

import os
import signal

import pytest

from pipelines import signals
from pipelines.errors import Terminated


@pytest.fixture
def installed():
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    signals.install()
    yield
    for s, handler in previous.items():
        signal.signal(s, handler)


def test_a_stop_during_the_step_is_delivered_after_it(installed):
    done = []
    with pytest.raises(Terminated) as caught:
        with signals.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            done.append("the step went on")
    assert done == ["the step went on"] and caught.value.signum == signal.SIGTERM


def test_a_stop_during_a_step_that_fails_is_not_lost_with_its_exception(installed):
    with pytest.raises(Terminated) as caught:
        with signals.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            raise OSError("the step failed")
    assert isinstance(caught.value.__context__, OSError)


def test_without_a_stop_the_step_runs_as_it_would(installed):
    with signals.deferred():
        pass
    assert signal.getsignal(signal.SIGTERM) is signals.handle
