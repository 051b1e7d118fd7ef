"""Fixtures shared by the data tests."""
from __future__ import annotations

import signal

import pytest


@pytest.fixture
def no_hang():
    """A reader that hangs on a bad file fails the test instead of the suite (60 s per test)."""
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("timed out: the reader hung"))
    signal.alarm(60)
    yield
    signal.alarm(0)
