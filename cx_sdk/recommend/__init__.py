"""Recommendations, an optional part of the collector (hooks: see cx_sdk.server.parts).

Counts are updated on ingest (``projectors``), the storefront widget reads them
(``widgets``), merchants choose strategies in the console (``console_routes``/``console_nav``)
``cx recs rebuild`` recomputes everything from the event log, and ``shutdown`` stores the
impressions still buffered (``impressions``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.routing import BaseRoute


def projectors() -> list[Callable[..., None]]:
    from .projector import project

    return [project]


def periodic() -> list[Callable[..., Any]]:
    from .cli import warn_stale_counts

    return [warn_stale_counts]


def widgets() -> list[Any]:
    from .widget import RecommendationsWidget

    return [RecommendationsWidget()]


def routes() -> list[BaseRoute]:
    from .http import routes as recommendation_routes

    return recommendation_routes()


def console_routes() -> list[BaseRoute]:
    from .console import routes as console_pages

    return console_pages()


def shutdown() -> list[Callable[[Any], Awaitable[None]]]:
    from .impressions import shutdown as store_buffered_impressions

    return [store_buffered_impressions]


def console_nav() -> list[tuple[str, str]]:
    # Not from .console: the console builds its menu while it is being imported.
    return [("/recommendations", "Recommendations")]
