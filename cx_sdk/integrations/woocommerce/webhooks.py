"""``POST /integrations/woocommerce/webhooks/{shop_id}``: WooCommerce's signed deliveries.

WooCommerce never retries a delivery and disables a webhook after consecutive failures, so
the endpoint verifies, persists the raw delivery, maps and ingests in one short request and
answers 200 for anything it accepted (including "nothing new"). ``X-WC-Webhook-Delivery-ID``
is a hash of webhook id and the current *second*, not unique: deliveries are keyed by a digest
of topic and raw body instead.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import orjson
from sqlalchemy import and_, or_, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ...server.clock import utcnow
from ...server.http import JSONResponse, problem, read_body
from ...server.settings import Settings
from ...server.store import Store
from ...server.tables import webhook_deliveries
from ..owners import order_owner
from . import signature
from .mapping import (
    PLATFORM,
    MappingConfig,
    MappingError,
    Outcome,
    guest_id,
    map_delivery,
    state_ref,
)

log = logging.getLogger("cx.integrations.woocommerce")

CONFIG_KIND = "config"
CONFIG_KEY = PLATFORM
# Headers kept with the raw delivery (never the signature: it is useless once verified).
KEPT_HEADERS = (
    "x-wc-webhook-source",
    "x-wc-webhook-topic",
    "x-wc-webhook-resource",
    "x-wc-webhook-event",
    "x-wc-webhook-id",
    "x-wc-webhook-delivery-id",
    "user-agent",
)


def delivery_key(topic: str, body: bytes) -> str:
    """Identity of a delivery: the same topic and bytes are the same delivery."""
    return hashlib.sha256(topic.encode("utf-8") + b"\n" + body).hexdigest()


def is_ping(request: Request, body: bytes) -> bool:
    """WooCommerce's creation ping: an unsigned form body ``webhook_id=N``, no X-WC headers."""
    if any(name.lower().startswith("x-wc-webhook-") for name in request.headers):
        return False
    try:
        fields = parse_qs(body.decode("ascii"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return False
    values = fields.get("webhook_id") or []
    return set(fields) == {"webhook_id"} and len(values) == 1 and values[0].isdigit()


def load_config(store: Store, shop_id: str) -> MappingConfig:
    return MappingConfig.from_state(store.get_state(shop_id, CONFIG_KIND, CONFIG_KEY))


def process(store: Store, shop_id: str, topic: str, payload: Any, received_bytes: int) -> Outcome:
    """Map one verified delivery against the stored state, ingest its events, save the state.

    Ingest comes before the state: if it fails the state still says "not emitted", and the
    facts' deterministic messageIds make a later re-delivery store each fact once.
    """
    ref = state_ref(topic, payload)
    state = store.get_state(shop_id, *ref) if ref else None
    who = (
        order_owner(store, shop_id, ref[1], guest_id) if ref and topic == "order.deleted" else None
    )
    outcome = map_delivery(shop_id, topic, payload, state, load_config(store, shop_id), who)
    if outcome.messages:
        result = store.ingest(shop_id, outcome.wire(), max_event_bytes=max(received_bytes, 65536))
        if result.rejected:
            raise MappingError(f"events rejected by the catalog: {result.rejected}")
    if outcome.state is not None:
        store.put_state(shop_id, outcome.kind, outcome.key, outcome.state)
    return outcome


def _user_of(outcome: Outcome) -> str | None:
    for message in outcome.messages:
        if message.user_id:
            return message.user_id
    return None


def payload_user(topic: str, payload: Any) -> str | None:
    """Whose delivery this is, read from the payload, so a privacy erase reaches a failed
    delivery's kept body too."""
    if not isinstance(payload, dict):
        return None
    if topic.startswith("customer.") and payload.get("id") not in (None, "", 0):
        return str(payload["id"])
    customer = payload.get("customer_id")
    return str(customer) if customer not in (None, "", 0, "0") else None


@dataclass
class ReplayReport:
    processed: int = 0
    events: int = 0
    failed: list[str] = field(default_factory=list)


def replay(store: Store, shop_id: str, older_than_seconds: float = 60.0) -> ReplayReport:
    """Process again the deliveries that failed, or whose processing never finished (a worker
    killed mid-request), for one shop. WooCommerce will not send them again."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                webhook_deliveries.c.delivery_id,
                webhook_deliveries.c.topic,
                webhook_deliveries.c.body,
            )
            .where(
                webhook_deliveries.c.shop_id == shop_id,
                webhook_deliveries.c.platform == PLATFORM,
                webhook_deliveries.c.body != b"",
                or_(
                    webhook_deliveries.c.error.is_not(None),
                    and_(
                        webhook_deliveries.c.processed_at.is_(None),
                        webhook_deliveries.c.received_at < cutoff,
                    ),
                ),
            )
            .order_by(webhook_deliveries.c.id)
        ).all()
    report = ReplayReport()
    for row in rows:
        try:
            payload = orjson.loads(row.body)
            outcome = process(store, shop_id, row.topic, payload, len(row.body))
        except (orjson.JSONDecodeError, MappingError) as error:
            store.finish_webhook(shop_id, PLATFORM, row.delivery_id, str(error))
            report.failed.append(f"{row.topic} {row.delivery_id[:12]}: {error}")
            continue
        store.finish_webhook(shop_id, PLATFORM, row.delivery_id, None, _user_of(outcome))
        report.processed += 1
        report.events += len(outcome.messages)
    return report


async def receive(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    store: Store = request.app.state.store
    shop_id = request.path_params["shop_id"]
    body = await read_body(request, settings.max_request_bytes)

    if is_ping(request, body):
        shop = await run_in_threadpool(store.get_shop, shop_id)
        if shop is None:
            return problem(404, f"unknown shop {shop_id!r}; check the delivery URL")
        # WooCommerce accepts the webhook only on exactly 200.
        return PlainTextResponse("ok", status_code=200)

    header = request.headers.get(signature.SIGNATURE_HEADER)
    if not header:
        return problem(401, "X-WC-Webhook-Signature header is missing")
    shop = await run_in_threadpool(store.get_shop, shop_id)
    secret = str(shop.secrets.get("webhook_secret") or "") if shop else ""
    # Unknown shop and wrong signature answer alike: nothing tells shop ids apart.
    if not signature.verify(body, secret, header):
        return problem(401, "X-WC-Webhook-Signature does not match the body and the shop's secret")

    topic = request.headers.get("x-wc-webhook-topic", "").strip().lower()
    if not topic:
        return problem(400, "X-WC-Webhook-Topic header is missing")
    key = delivery_key(topic, body)
    headers = {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}
    fresh = await run_in_threadpool(
        store.record_webhook, shop_id, PLATFORM, key, topic, headers, body
    )
    if not fresh:
        return JSONResponse({"status": "duplicate", "delivery": key})

    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        detail = f"body is not JSON: {error}"
        await run_in_threadpool(store.finish_webhook, shop_id, PLATFORM, key, detail)
        return problem(400, detail)
    try:
        outcome = await run_in_threadpool(process, store, shop_id, topic, payload, len(body))
    except MappingError as error:
        await run_in_threadpool(
            store.finish_webhook, shop_id, PLATFORM, key, str(error), payload_user(topic, payload)
        )
        return problem(422, f"{topic}: {error}")
    except Exception as error:
        # Kept with its body for `cx woocommerce replay`; WooCommerce will not send it again.
        log.exception("woocommerce delivery %s for shop %s failed", key, shop_id)
        await run_in_threadpool(
            store.finish_webhook,
            shop_id,
            PLATFORM,
            key,
            f"{type(error).__name__}: {error}",
            payload_user(topic, payload),
        )
        return problem(503, "the delivery was stored but could not be processed; it is kept")
    await run_in_threadpool(store.finish_webhook, shop_id, PLATFORM, key, None, _user_of(outcome))
    return JSONResponse(
        {
            "status": "processed",
            "delivery": key,
            "events": len(outcome.messages),
            **({"note": outcome.note} if outcome.note else {}),
        }
    )


def routes() -> list[Route]:
    return [Route("/webhooks/{shop_id}", receive, methods=["POST"])]
