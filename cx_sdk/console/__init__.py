"""The merchant console, mounted by the collector at ``/console``."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    from .http import routes as console_routes

    return console_routes()


__all__ = ["routes"]
