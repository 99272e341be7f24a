"""Journey analytics, an optional part of the collector (hooks: see cx_sdk.server.parts).

KPIs from aggregates kept up to date on ingest, RFM personas, comment sentiment, and the
merchant's dashboard at ``/console/dashboard``. Other parts read a customer's persona with
:func:`segment_of`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from ..server.store import Store


def routes() -> list[BaseRoute]:
    from .api import routes as api_routes

    return list(api_routes())


def projectors() -> list[Callable[..., None]]:
    from .aggregates import project

    return [project]


def periodic() -> list[Callable[..., Any]]:
    from .jobs import rescore_segments

    return [rescore_segments]


def console_routes() -> list[BaseRoute]:
    from .dashboard import routes as dashboard_routes

    return list(dashboard_routes())


def console_nav() -> list[tuple[str, str]]:
    from ..widgets.config import N_

    return [("/dashboard", N_("Dashboard"))]


def segment_of(store: Store, shop_id: str, user_id: str) -> str | None:
    """The RFM segment of a customer (``champions`` … ``lost``), None before a first order."""
    from .personas import stored_segment

    return stored_segment(store, shop_id, user_id)


__all__ = ["segment_of"]
