"""Storefront widgets: delivery tracking and surveys, the loader that embeds them in any shop,
and the per-shop switches the merchant console and ``cx widgets`` change.

Mounted by the collector at ``/widgets``; see README.md in this folder.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from . import tables as tables


def routes() -> list[BaseRoute]:
    from .http import routes as widget_routes

    return widget_routes()


__all__ = ["routes", "tables"]
