"""pytest plugin (entry point ``cx_sdk``): the ``cx_events`` fixture.

Kept apart from ``cx_sdk.testing`` so importing the helpers never needs pytest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .testing import FrozenClock, RecordingClient, SequentialIds


@pytest.fixture
def cx_clock() -> FrozenClock:
    """A clock frozen at 2026-01-01T00:00:00Z; ``cx_clock.advance(seconds)`` moves it."""
    return FrozenClock()


@pytest.fixture
def cx_events(cx_clock: FrozenClock) -> Iterator[RecordingClient]:
    """A recording client; inject it where your code expects a ``cx_sdk.Client``."""
    client = RecordingClient(clock=cx_clock, ids=SequentialIds())
    yield client
    client.close()
