"""Widget tests start with a clean lookup throttle (it is per process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cx_sdk.widgets.throttle import TRACKING_LOOKUPS


@pytest.fixture(autouse=True)
def fresh_throttle() -> Iterator[None]:
    TRACKING_LOOKUPS.reset()
    yield
    TRACKING_LOOKUPS.reset()
