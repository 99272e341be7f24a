"""Shopify integration: the app backend (OAuth install, signed webhooks, privacy topics,
app proxy), payload mapping, GraphQL backfill and the theme app extension
(``extension/``). See README.md in this folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.routing import BaseRoute

    from ...server import Settings, Store


def routes() -> list[BaseRoute]:
    """Mounted by the collector at ``/integrations/shopify``."""
    from .oauth import routes as oauth_routes
    from .proxy import routes as proxy_routes
    from .webhooks import routes as webhook_routes

    return [*webhook_routes(), *oauth_routes(), *proxy_routes()]


def sweep_all_abandoned(store: Store, settings: Settings) -> int:
    """Checkout Abandoned for every Shopify shop's checkouts no order followed in time."""
    from datetime import timedelta

    from .cli import sweep_abandoned

    after = timedelta(minutes=settings.shopify_abandoned_after_minutes)
    return sum(
        sweep_abandoned(store, shop.id, after)
        for shop in store.list_shops()
        if shop.platform == "shopify"
    )


def periodic() -> list[Callable[[Store, Settings], object]]:
    """Jobs the collector runs every ``CX_PERIODIC_SECONDS`` in each worker (idempotent)."""
    from .reverse import link_all

    return [sweep_all_abandoned, link_all]


def customer_states() -> list[Callable[..., set[tuple[str, str]]]]:
    """Finds the integration state that names a customer, for the collector's erase and
    export."""
    from .webhooks import customer_states as find

    return [find]


__all__ = ["customer_states", "periodic", "routes", "sweep_all_abandoned"]
