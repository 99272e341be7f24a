from __future__ import annotations

import pytest

from cx_sdk.server import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The widget's tests read counts right after storing the events they need: projected in
    the ingest transaction here (the follower itself is tested in tests/server)."""
    return settings.model_copy(update={"defer_projections": False})
