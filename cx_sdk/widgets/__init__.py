"""Storefront widgets: delivery tracking and surveys, the loader that embeds them in any shop,
and the per-shop switches the merchant console and ``cx widgets`` change.

Mounted by the collector at ``/widgets``; see README.md in this folder.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from . import tables as tables


def routes() -> list[BaseRoute]:
    from .http import routes as widget_routes

    return widget_routes()


def fast_routes() -> list[Callable[[str, Scope, Receive, Send], Awaitable[bool]]]:
    from .http import fast_fragment

    return [fast_fragment]


def periodic() -> list[Callable[..., Any]]:
    from .http import forget_typed_input

    return [forget_typed_input]


__all__ = ["fast_routes", "periodic", "routes", "tables"]
