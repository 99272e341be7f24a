"""``POST /integrations/shopify/webhooks``: Shopify's signed deliveries, one URL for all shops.

Shopify waits 5 s, then retries (up to 8 times over 4 hours) and may deliver a day late, twice
or out of order. The endpoint verifies the HMAC before anything else, persists the raw
delivery (deduped on ``X-Shopify-Webhook-Id``, guarded on ``X-Shopify-Event-Id`` which is
shared by every subscription's copy of one event), then maps and ingests. A delivery whose
processing failed is processed again when Shopify retries it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...server.http import JSONResponse, problem, read_body
from ...server.settings import Settings
from ...server.store import Shop, Store
from ...server.tables import integration_state, webhook_deliveries
from ..owners import order_owner
from . import mapping, reverse, signature
from .mapping import PLATFORM, MappingError, Outcome

log = logging.getLogger("cx.integrations.shopify")

# Headers kept with the raw delivery (never the HMAC: useless once verified).
KEPT_HEADERS = (
    "x-shopify-topic",
    "x-shopify-shop-domain",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    "x-shopify-api-version",
    "x-shopify-triggered-at",
)


def app_secrets(settings: Settings | None) -> list[str | None]:
    """The client secret and, during a rotation, the previous one (settings, else env)."""
    current = getattr(settings, "shopify_api_secret", None) or os.environ.get(
        "CX_SHOPIFY_API_SECRET"
    )
    previous = getattr(settings, "shopify_api_secret_previous", None) or os.environ.get(
        "CX_SHOPIFY_API_SECRET_PREVIOUS"
    )
    return [current, previous]


def _who(store: Store, shop_id: str, order_id: str | None) -> dict[str, str] | None:
    """Whose order it is: the order state, else the order projection."""
    if not order_id:
        return None
    state = store.get_state(shop_id, "order", order_id)
    if state and isinstance(state.get("who"), dict):
        return {str(k): str(v) for k, v in state["who"].items()}
    return order_owner(store, shop_id, order_id, mapping.guest_id)


def _ref(value: Any) -> str | None:
    return mapping.clean_id(value)


def map_topic(
    store: Store, shop_id: str, topic: str, payload: Any, event_id: str | None = None
) -> Outcome | None:
    """The outcome of one delivery against the stored state; None for topics not mapped."""
    if not isinstance(payload, dict):
        raise MappingError("payload must be a JSON object")
    if topic in mapping.ORDER_TOPICS:
        order_id = _ref(payload.get("id"))
        state = store.get_state(shop_id, "order", order_id) if order_id else None
        return mapping.map_order(shop_id, topic, payload, state)
    if topic == "refunds/create":
        order_id = _ref(payload.get("order_id"))
        state = store.get_state(shop_id, "order", order_id) if order_id else None
        return mapping.map_refund(shop_id, payload, state)
    if topic in mapping.CHECKOUT_TOPICS:
        token = _ref(payload.get("token"))
        state = store.get_state(shop_id, "checkout", token) if token else None
        return mapping.map_checkout(shop_id, payload, state)
    if topic in mapping.FULFILLMENT_TOPICS:
        fulfillment_id = _ref(payload.get("id"))
        state = store.get_state(shop_id, "fulfillment", fulfillment_id) if fulfillment_id else None
        who = _who(store, shop_id, _ref(payload.get("order_id")))
        return mapping.map_fulfillment(shop_id, payload, state, who)
    if topic == "fulfillment_events/create":
        fulfillment_id = _ref(payload.get("fulfillment_id"))
        state = store.get_state(shop_id, "fulfillment", fulfillment_id) if fulfillment_id else None
        who = _who(store, shop_id, _ref(payload.get("order_id")))
        return mapping.map_fulfillment_event(shop_id, payload, state, who)
    if topic in mapping.RETURN_TOPICS:
        return_id = _ref(payload.get("id"))
        state = store.get_state(shop_id, "return", return_id) if return_id else None
        order = payload.get("order")
        order_id = _ref(order.get("id") if isinstance(order, dict) else payload.get("order_id"))
        who = _who(store, shop_id, order_id or (state or {}).get("order_id"))
        return mapping.map_return(shop_id, topic, payload, state, who, event_id)
    if topic == "reverse_deliveries/attach_deliverable":
        ret = payload.get("return")
        return_id = _ref(ret.get("id")) if isinstance(ret, dict) else None
        state = store.get_state(shop_id, "return", return_id) if return_id else None
        who = _who(store, shop_id, (state or {}).get("order_id"))
        return mapping.map_reverse_delivery(shop_id, payload, state, who)
    if topic == "reverse_fulfillment_orders/dispose":
        rfo_id = _ref(payload.get("id"))
        link = store.get_state(shop_id, "reverse_fulfillment_order", rfo_id) if rfo_id else None
        who = _who(store, shop_id, (link or {}).get("order_id"))
        return mapping.map_disposal(shop_id, payload, link, who)
    if topic in mapping.CUSTOMER_TOPICS or topic in mapping.CONSENT_TOPICS:
        return mapping.map_customer(shop_id, topic, payload)
    return None


def process(
    store: Store,
    shop_id: str,
    topic: str,
    payload: Any,
    received_bytes: int,
    event_id: str | None = None,
) -> Outcome | None:
    """Map, ingest, then save the state. Ingest first: if it fails the state still says "not
    emitted", and the facts' deterministic messageIds make the retry store each fact once."""
    outcome = map_topic(store, shop_id, topic, payload, event_id)
    if outcome is None:
        return None
    if outcome.messages:
        result = store.ingest(shop_id, outcome.wire(), max_event_bytes=max(received_bytes, 65536))
        if result.rejected:
            raise MappingError(f"events rejected by the catalog: {result.rejected}")
    if outcome.state is not None:
        store.put_state(shop_id, outcome.kind, outcome.key, outcome.state)
    for kind, key, value in outcome.extra_states:
        merged = {**(store.get_state(shop_id, kind, key) or {}), **value}
        store.put_state(shop_id, kind, key, merged)
    return outcome


def _ids(value: Any) -> list[str]:
    return [ref for ref in (_ref(item) for item in value) if ref] if isinstance(value, list) else []


def handle_privacy(store: Store, shop: Shop, topic: str, payload: Any) -> dict[str, Any]:
    """The mandatory compliance topics, with real effects."""
    if not isinstance(payload, dict):
        raise MappingError("payload must be a JSON object")
    if topic == "shop/redact":
        counts = store.erase_shop(shop.id)
        log.info("shopify shop/redact erased shop %s", shop.id)
        return {"erased": counts}
    customer = payload.get("customer")
    if not isinstance(customer, dict):
        raise MappingError(f"{topic}: payload has no customer object")
    user_id = _ref(customer.get("id"))
    email = customer.get("email") if isinstance(customer.get("email"), str) else None
    if not user_id and not email:
        raise MappingError(f"{topic}: customer has neither id nor email")
    if topic == "customers/data_request":
        export = store.export_customer(shop.id, user_id=user_id, email=email or None)
        # Earlier requests are listed, not nested: each export would otherwise contain all
        # the previous ones and grow with every request.
        tables = export.get("tables") or {}
        tables["privacy_requests"] = [
            {key: value for key, value in row.items() if key != "payload"}
            for row in tables.get("privacy_requests") or ()
        ]
        request = payload.get("data_request")
        request_id = request.get("id") if isinstance(request, dict) else None
        record = {
            "source": "shopify customers/data_request",
            "shopify_request_id": request_id,
            "orders_requested": _ids(payload.get("orders_requested")),
            "export": export,
        }
        number = store.record_privacy_request(shop.id, "export", user_id, record)
        return {"privacy_request": number}
    counts = store.erase_customer(shop.id, user_id=user_id, email=email or None)
    store.record_privacy_request(
        shop.id,
        "erase",
        user_id,
        {
            "source": "shopify customers/redact",
            "orders_to_redact": _ids(payload.get("orders_to_redact")),
            "counts": counts,
        },
    )
    return {"erased": counts}


def _belongs(
    value: dict[str, Any],
    user_ids: Sequence[str],
    anonymous_ids: Sequence[str],
    email_hash: str | None,
) -> bool:
    who: dict[str, Any] = value["who"] if isinstance(value.get("who"), dict) else {}
    props: dict[str, Any] = value["properties"] if isinstance(value.get("properties"), dict) else {}
    if who.get("user_id") and who.get("user_id") in user_ids:
        return True
    if who.get("anonymous_id") and who.get("anonymous_id") in anonymous_ids:
        return True
    if email_hash:
        return (
            who.get("anonymous_id") == mapping.guest_id(email_hash)
            or props.get("email_hash") == email_hash
        )
    return False


def customer_states(
    conn: Connection,
    shop_id: str,
    user_ids: Sequence[str],
    anonymous_ids: Sequence[str],
    email_hash: str | None,
) -> set[tuple[str, str]]:
    """The ``customer_states()`` hook: the integration state that names the customer (orders
    and checkouts with their id or email hash) and the state of those orders' shipments and
    returns, as ``(kind, key)``; the collector's erase deletes it and its export lists it."""
    rows = conn.execute(
        select(integration_state.c.kind, integration_state.c.key, integration_state.c.value).where(
            integration_state.c.shop_id == shop_id,
            integration_state.c.kind.in_(
                ["order", "checkout", "fulfillment", "return", reverse.KIND]
            ),
        )
    ).all()
    theirs = {
        (row.kind, row.key)
        for row in rows
        if row.kind in ("order", "checkout")
        and _belongs(dict(row.value), user_ids, anonymous_ids, email_hash)
    }
    orders = {key for kind, key in theirs if kind == "order"}
    theirs |= {
        (row.kind, row.key)
        for row in rows
        if row.kind in ("fulfillment", "return", reverse.KIND)
        and dict(row.value).get("order_id") in orders
    }
    return theirs


def _delivery_done(store: Store, shop_id: str, delivery_id: str) -> bool:
    """True when a delivery seen before was processed without error (a retry of a failed
    one is processed again)."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(webhook_deliveries.c.processed_at, webhook_deliveries.c.error).where(
                webhook_deliveries.c.shop_id == shop_id,
                webhook_deliveries.c.platform == PLATFORM,
                webhook_deliveries.c.delivery_id == delivery_id,
            )
        ).first()
    return row is not None and row.processed_at is not None and row.error is None


def payload_user(payload: Any) -> str | None:
    """Whose delivery this is, from the payload, so a privacy erase also reaches the kept body
    of a delivery that failed."""
    if not isinstance(payload, dict):
        return None
    customer = payload.get("customer")
    if isinstance(customer, dict):
        return _ref(customer.get("id"))
    return _ref(payload.get("customer_id"))


def _user_of(outcome: Outcome | None) -> str | None:
    for message in outcome.messages if outcome else ():
        if message.user_id:
            return message.user_id
    return None


async def receive(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    store: Store = request.app.state.store
    body = await read_body(request, settings.max_request_bytes)
    header = request.headers.get(signature.WEBHOOK_HEADER)
    if not header:
        return problem(401, "X-Shopify-Hmac-Sha256 header is missing")
    if not signature.verify_webhook(body, header, app_secrets(settings)):
        return problem(401, "X-Shopify-Hmac-Sha256 does not match the body and the app secret")
    domain = request.headers.get("x-shopify-shop-domain", "").strip().lower()
    shop = await run_in_threadpool(store.shop_by_domain, domain) if domain else None
    if shop is None or shop.platform != PLATFORM:
        return problem(401, "X-Shopify-Shop-Domain is missing or not an installed shop")
    topic = request.headers.get("x-shopify-topic", "").strip().lower()
    if not topic or len(topic) > 100:
        return problem(400, "X-Shopify-Topic header is missing or too long")
    webhook_id = request.headers.get("x-shopify-webhook-id", "").strip()
    if not webhook_id or len(webhook_id) > 200:
        return problem(400, "X-Shopify-Webhook-Id header is missing or too long")
    event_id = request.headers.get("x-shopify-event-id", "").strip()[:80] or None
    headers = {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}

    fresh = await run_in_threadpool(
        store.record_webhook, shop.id, PLATFORM, webhook_id, topic, headers, body
    )
    if not fresh and await run_in_threadpool(_delivery_done, store, shop.id, webhook_id):
        return JSONResponse({"status": "duplicate", "delivery": webhook_id})
    if fresh and event_id:
        # Another subscription's copy of the same event: recorded once, processed once.
        guard = f"event:{topic}:{event_id}"
        first = await run_in_threadpool(
            store.record_webhook, shop.id, PLATFORM, guard, topic, {}, b""
        )
        if not first:
            await run_in_threadpool(store.finish_webhook, shop.id, PLATFORM, webhook_id, None)
            return JSONResponse({"status": "duplicate", "delivery": webhook_id})

    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        detail = f"body is not JSON: {error}"
        await run_in_threadpool(store.finish_webhook, shop.id, PLATFORM, webhook_id, detail)
        return problem(400, detail)

    try:
        if topic in mapping.PRIVACY_TOPICS:
            result = await run_in_threadpool(handle_privacy, store, shop, topic, payload)
            if topic != "shop/redact":
                await run_in_threadpool(store.finish_webhook, shop.id, PLATFORM, webhook_id)
            return JSONResponse({"status": "processed", "topic": topic, **result})
        if topic == "app/uninstalled":
            await run_in_threadpool(uninstall, store, shop)
            await run_in_threadpool(store.finish_webhook, shop.id, PLATFORM, webhook_id)
            return JSONResponse({"status": "processed", "topic": topic})
        outcome = await run_in_threadpool(
            process, store, shop.id, topic, payload, len(body), event_id
        )
    except MappingError as error:
        await run_in_threadpool(
            store.finish_webhook, shop.id, PLATFORM, webhook_id, str(error), payload_user(payload)
        )
        # 422 makes Shopify retry; a payload this topic cannot carry will not improve, but
        # the delivery is kept (with its error) for the merchant to see.
        return problem(422, f"{topic}: {error}")
    except Exception as error:
        log.exception("shopify delivery %s for shop %s failed", webhook_id, shop.id)
        await run_in_threadpool(
            store.finish_webhook,
            shop.id,
            PLATFORM,
            webhook_id,
            f"{type(error).__name__}: {error}",
            payload_user(payload),
        )
        return problem(503, "the delivery was stored but could not be processed; retry")
    await run_in_threadpool(
        store.finish_webhook, shop.id, PLATFORM, webhook_id, None, _user_of(outcome)
    )
    if outcome is None:
        return JSONResponse({"status": "ignored", "topic": topic})
    response = JSONResponse(
        {
            "status": "processed",
            "delivery": webhook_id,
            "events": len(outcome.messages),
            **({"note": outcome.note} if outcome.note else {}),
        }
    )
    if topic == reverse.TOPIC and outcome.state and "pending_kinds" in outcome.state:
        # Ask Shopify which return this was once the webhook is answered, not while it waits.
        response.background = BackgroundTask(reverse.link_shop, store, shop.id)
    return response


def uninstall(store: Store, shop: Shop) -> None:
    """``app/uninstalled``: the access token is dead; forget it, keep the shop's data until
    Shopify's ``shop/redact`` (48 hours later) says to erase it."""
    store.update_shop_secrets(shop.id, access_token=None, scopes=None)
    store.put_state(
        shop.id, "app", "installation", {"uninstalled_at": datetime.now(UTC).isoformat()}
    )


def routes() -> list[Route]:
    return [Route("/webhooks", receive, methods=["POST"])]
