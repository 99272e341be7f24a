"""cx: customer-journey events for online shops.

The SDK needs only httpx and pydantic; the collector lives in ``cx_sdk.server``
(install ``cx-sdk[server]``).
"""

from __future__ import annotations

from . import events
from .aio import AsyncClient
from .client import Client
from .events import EventError, parse

__version__ = "0.1.0"

__all__ = ["AsyncClient", "Client", "EventError", "__version__", "events", "parse"]
