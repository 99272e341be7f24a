"""Storefront widgets: delivery tracking and surveys, the loader that embeds them in any shop,
and the per-shop switches the merchant console and ``cx widgets`` change.

Mounted by the collector at ``/widgets``; see README.md in this folder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

from . import tables as tables

if TYPE_CHECKING:
    from ..server.app import FastRoute


def routes() -> list[BaseRoute]:
    from .http import routes as widget_routes

    return widget_routes()


def fast_routes() -> list[FastRoute]:
    from .http import fast_fragment

    return [fast_fragment]


def periodic() -> list[Callable[..., Any]]:
    from .http import forget_typed_input

    return [forget_typed_input]


__all__ = ["fast_routes", "periodic", "routes", "tables"]
