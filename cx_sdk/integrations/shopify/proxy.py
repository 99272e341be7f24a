"""App proxy: ``GET /integrations/shopify/proxy/{widget}``.

The theme app extension fetches ``/apps/cx/{widget}`` on the shop's own domain; Shopify
forwards it here with ``shop``, ``logged_in_customer_id``, ``path_prefix``, ``timestamp`` and
a ``signature`` over all of them. Once the signature and the timestamp check out, the logged-in
customer is trusted, so the tracking widget gets a customer token instead of asking for an
email: it shows an order only when that customer owns it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...server.http import problem
from ...server.settings import Settings
from ...server.store import Shop, Store
from ...widgets import i18n
from ...widgets.framework import RenderContext
from ...widgets.http import static_file
from ...widgets.registry import WIDGETS, settings_for
from ...widgets.tokens import shop_key
from ...widgets.tracking import customer_token
from . import signature
from .mapping import PLATFORM
from .webhooks import app_secrets

# Parameters Shopify adds; never passed on to a widget as if the shopper had sent them.
PROXY_PARAMS = frozenset({"shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature"})
# Set only by this module, from a verified logged_in_customer_id.
RESERVED = frozenset({"customer"})
CUSTOMER_TOKEN_SECONDS = 600


def widget_params(query: dict[str, str]) -> dict[str, str]:
    return {
        key: value[:500].replace("\x00", "")
        for key, value in query.items()
        if key not in PROXY_PARAMS and key not in RESERVED
    }


def _render(request: Request, shop: Shop, name: str, customer: str | None) -> Response:
    store: Store = request.app.state.store
    settings: Settings = request.app.state.settings
    widget = WIDGETS[name]
    widgets = settings_for(store)
    key = shop_key(store, settings, shop)
    params = widget_params(dict(request.query_params))
    if customer:
        params["customer"] = customer_token(key, shop.id, customer, CUSTOMER_TOKEN_SECONDS)
    ctx = RenderContext(
        store=store,
        settings=settings,
        shop=shop,
        locale=i18n.negotiate(
            params.get("locale"), request.headers.get("accept-language"), shop.default_locale
        ),
        config=widgets.get(shop.id, name),
        widgets=widgets,
        key=key,
        params=params,
        base=f"{settings.public_url.rstrip('/')}/widgets/{shop.id}",
        page=False,
        now=datetime.now(UTC),
        client=request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        or (request.client.host if request.client else ""),
    )
    headers = {
        "Cache-Control": "private, no-store",
        "Content-Language": ctx.locale,
        "X-Content-Type-Options": "nosniff",
    }
    if not ctx.config.enabled:
        return Response(status_code=204, headers=headers)
    body = widget.render(ctx)
    if body is None:
        return Response(status_code=204, headers=headers)
    return Response(body, media_type="text/html", headers=headers)


async def proxy(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    store: Store = request.app.state.store
    if not signature.verify_proxy(request.url.query, app_secrets(settings)):
        return problem(401, "signature is missing or wrong, or timestamp is more than 90 s off")
    domain = request.query_params.get("shop", "").strip().lower()
    shop = await run_in_threadpool(store.shop_by_domain, domain) if domain else None
    if shop is None or shop.platform != PLATFORM:
        return problem(401, "shop is not an installed Shopify shop")
    name = request.path_params["widget"]
    if name not in WIDGETS:
        return problem(404, f"no widget {name!r}; one of {', '.join(WIDGETS)}")
    customer = request.query_params.get("logged_in_customer_id", "").strip()
    if customer and not customer.isdigit():
        return problem(400, "logged_in_customer_id is not a Shopify customer id")
    return await run_in_threadpool(_render, request, shop, name, customer or None)


async def stylesheet(request: Request) -> Response:
    """The widgets' stylesheet on the shop's own domain (public, so no signature needed)."""
    return Response(
        static_file("widgets.css"),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def routes() -> list[Route]:
    return [
        Route("/proxy/assets/widgets.css", stylesheet, methods=["GET"]),
        Route("/proxy/{widget}", proxy, methods=["GET"]),
    ]
