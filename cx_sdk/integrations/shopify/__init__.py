"""Shopify integration: the app backend (OAuth install, signed webhooks, privacy topics,
app proxy), payload mapping, GraphQL backfill and the theme app extension
(``extension/``). See README.md in this folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    """Mounted by the collector at ``/integrations/shopify``."""
    from .oauth import routes as oauth_routes
    from .proxy import routes as proxy_routes
    from .webhooks import routes as webhook_routes

    return [*webhook_routes(), *oauth_routes(), *proxy_routes()]


__all__ = ["routes"]
