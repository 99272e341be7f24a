"""OAuth install: ``GET /integrations/shopify/install`` and ``/callback``.

The authorization-code grant: the merchant's browser goes to the shop's consent screen with a
random ``state`` that is also set as a short-lived cookie; the callback checks the shop domain,
the query HMAC and that ``state`` matches the cookie, exchanges the code for an offline access
token (stored in the shop's secrets, never logged) and subscribes the webhooks through the
GraphQL Admin API. The compliance topics cannot be subscribed through the API; they are
declared in ``shopify.app.toml``.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ...server.http import problem
from ...server.settings import Settings
from ...server.store import Store
from . import signature
from .mapping import PLATFORM
from .webhooks import app_secrets

log = logging.getLogger("cx.integrations.shopify")

API_VERSION = "2026-07"
SCOPES = ("read_orders", "read_customers", "read_fulfillments", "read_returns", "write_app_proxy")
STATE_COOKIE = "cx_shopify_oauth"
STATE_SECONDS = 600
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$")

# Webhook topics the app subscribes to (REST names, as in shopify.app.toml and the README).
TOPICS = (
    "checkouts/create",
    "checkouts/update",
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "refunds/create",
    "fulfillments/create",
    "fulfillments/update",
    "fulfillment_events/create",
    "returns/request",
    "returns/approve",
    "returns/decline",
    "returns/close",
    "returns/cancel",
    "returns/reopen",
    "reverse_deliveries/attach_deliverable",
    "reverse_fulfillment_orders/dispose",
    "customers/create",
    "customers/update",
    "customers_email_marketing_consent/update",
    "app/uninstalled",
)
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
# The same topics as GraphQL ``WebhookSubscriptionTopic`` values.
WEBHOOK_TOPICS = tuple(topic.upper().replace("/", "_") for topic in TOPICS)

SUBSCRIBE = """
mutation Subscribe($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri}) {
    webhookSubscription { id }
    userErrors { field message }
  }
}
"""


class ShopifyError(RuntimeError):
    """Shopify answered something other than what the protocol promises."""


def valid_shop(domain: str | None) -> str | None:
    """The lower-cased ``*.myshopify.com`` domain, or None for anything else."""
    if not domain:
        return None
    candidate = domain.strip().lower()
    return candidate if SHOP_DOMAIN.fullmatch(candidate) else None


def api_key(settings: Settings) -> str | None:
    return settings.shopify_api_key or os.environ.get("CX_SHOPIFY_API_KEY")


def graphql_url(shop: str) -> str:
    return f"https://{shop}/admin/api/{API_VERSION}/graphql.json"


async def exchange_code(
    client: httpx.AsyncClient, shop: str, key: str, secret: str, code: str
) -> dict[str, Any]:
    """The offline access token for ``code``."""
    response = await client.post(
        f"https://{shop}/admin/oauth/access_token",
        json={"client_id": key, "client_secret": secret, "code": code},
    )
    if response.status_code != 200:
        raise ShopifyError(f"token exchange answered HTTP {response.status_code}")
    body = response.json()
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise ShopifyError("token exchange answered without an access_token")
    return body


async def subscribe_webhooks(
    client: httpx.AsyncClient, shop: str, token: str, uri: str
) -> dict[str, str]:
    """Topic → "ok" or Shopify's error. An existing subscription for the same address is ok."""
    results: dict[str, str] = {}
    for topic in WEBHOOK_TOPICS:
        response = await client.post(
            graphql_url(shop),
            headers={"X-Shopify-Access-Token": token},
            json={"query": SUBSCRIBE, "variables": {"topic": topic, "uri": uri}},
        )
        if response.status_code != 200:
            results[topic] = f"HTTP {response.status_code}"
            continue
        body = response.json()
        if not isinstance(body, dict):
            results[topic] = "unexpected GraphQL answer"
            continue
        payload = (body.get("data") or {}).get("webhookSubscriptionCreate") or {}
        errors = [str(e.get("message")) for e in payload.get("userErrors") or ()]
        errors += [str(e.get("message")) for e in body.get("errors") or ()]
        taken = errors and all("already been taken" in message for message in errors)
        results[topic] = "ok" if not errors or taken else "; ".join(errors)
    return results


async def install(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    key = api_key(settings)
    if not key or not any(app_secrets(settings)):
        return problem(503, "the Shopify app is not configured (CX_SHOPIFY_API_KEY/SECRET)")
    shop = valid_shop(request.query_params.get("shop"))
    if shop is None:
        return problem(400, "shop must be a *.myshopify.com domain")
    if "hmac" in request.query_params and not signature.verify_oauth(
        request.url.query, app_secrets(settings)
    ):
        return problem(401, "hmac does not match the query and the app secret")
    nonce = secrets.token_urlsafe(24)
    redirect_uri = f"{settings.public_url.rstrip('/')}/integrations/shopify/callback"
    query = urlencode(
        {
            "client_id": key,
            "scope": ",".join(SCOPES),
            "redirect_uri": redirect_uri,
            "state": nonce,
        }
    )
    response = RedirectResponse(f"https://{shop}/admin/oauth/authorize?{query}", status_code=302)
    response.set_cookie(
        STATE_COOKIE,
        nonce,
        max_age=STATE_SECONDS,
        path="/integrations/shopify",
        httponly=True,
        secure=settings.public_url.startswith("https://"),
        samesite="lax",
    )
    return response


def _save_shop(store: Store, shop: str, token: str, scopes: str) -> str:
    existing = store.shop_by_domain(shop)
    if existing is not None:
        if existing.platform != PLATFORM:
            raise ShopifyError(f"{shop} is registered as a {existing.platform} shop")
        store.update_shop_secrets(existing.id, access_token=token, scopes=scopes)
        return existing.id
    name = shop.removesuffix(".myshopify.com")
    created = store.create_shop(
        name, PLATFORM, domain=shop, secrets={"access_token": token, "scopes": scopes}
    )
    return created.shop.id


async def callback(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    store: Store = request.app.state.store
    key = api_key(settings)
    secret = settings.shopify_api_secret or os.environ.get("CX_SHOPIFY_API_SECRET")
    if not key or not secret:
        return problem(503, "the Shopify app is not configured (CX_SHOPIFY_API_KEY/SECRET)")
    params = request.query_params
    shop = valid_shop(params.get("shop"))
    if shop is None:
        return problem(400, "shop must be a *.myshopify.com domain")
    if not signature.verify_oauth(request.url.query, app_secrets(settings)):
        return problem(401, "hmac does not match the query and the app secret")
    cookie = request.cookies.get(STATE_COOKIE, "")
    state = params.get("state", "")
    if not cookie or not hmac.compare_digest(cookie.encode(), state.encode()):
        return problem(403, "state does not match this browser's install; start the install again")
    code = params.get("code")
    if not code:
        return problem(400, "code is missing")
    async with httpx.AsyncClient(timeout=10.0) as client:
        try:
            grant = await exchange_code(client, shop, key, secret, code)
        except (httpx.HTTPError, ValueError, ShopifyError) as error:
            log.warning("shopify token exchange for %s failed: %s", shop, type(error).__name__)
            return problem(502, f"Shopify did not grant an access token: {error}")
        token = str(grant["access_token"])
        try:
            shop_id = await run_in_threadpool(
                _save_shop, store, shop, token, str(grant.get("scope") or "")
            )
        except ShopifyError as error:
            return problem(409, str(error))
        uri = f"{settings.public_url.rstrip('/')}/integrations/shopify/webhooks"
        try:
            results = await subscribe_webhooks(client, shop, token, uri)
        except (httpx.HTTPError, ValueError) as error:
            results = {"*": f"{type(error).__name__}"}
    failed = {topic: result for topic, result in results.items() if result != "ok"}
    if failed:
        log.warning("shopify webhook subscriptions failed for %s: %s", shop, sorted(failed))
    await run_in_threadpool(
        store.put_state,
        shop_id,
        "app",
        "installation",
        {"shop": shop, "api_version": API_VERSION, "webhooks": results},
    )
    response = RedirectResponse(f"https://{shop}/admin/apps/{key}", status_code=302)
    response.delete_cookie(STATE_COOKIE, path="/integrations/shopify")
    return response


def routes() -> list[Route]:
    return [
        Route("/install", install, methods=["GET"]),
        Route("/callback", callback, methods=["GET"]),
    ]
