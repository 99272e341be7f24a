"""WooCommerce integration: signed webhooks, payload mapping, REST backfill and the
WordPress plugin (``wordpress-plugin/``). See README.md in this folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    """Mounted by the collector at ``/integrations/woocommerce``."""
    from .webhooks import routes as webhook_routes

    return list(webhook_routes())


__all__ = ["routes"]
