"""Delivery tracking: the shopper's order, found by order number (or id) plus email."""

from __future__ import annotations

import hmac

from ...privacy import hash_email
from ...server.store import OrderView, Store
from ..framework import RenderContext
from ..throttle import TRACKING_LOOKUPS
from ..tokens import sign
from . import labels
from .view import TrackingView, build

MAX_ORDER_REF = 200
MAX_EMAIL = 320


def lookup(store: Store, shop_id: str, order_ref: str, email: str) -> OrderView | None:
    """The order when number/id and email belong together; None for every other case, so a
    wrong pair cannot be told apart from a missing order."""
    order_ref, email = order_ref.strip(), email.strip()
    if (
        not order_ref
        or "@" not in email
        or len(order_ref) > MAX_ORDER_REF
        or len(email) > MAX_EMAIL
    ):
        return None
    candidates = [order_ref]
    if not order_ref.startswith("#"):
        candidates.append(f"#{order_ref}")  # Shopify numbers are shown as "#1001"
    digest = hash_email(email)
    for ref in candidates:
        order = store.get_order(shop_id, ref)
        if order is not None:
            stored = order.email_hash or ""
            if hmac.compare_digest(stored.encode(), digest.encode()) and stored:
                return order
            return None
    return None


class TrackingWidget:
    name = "tracking"

    def render(self, ctx: RenderContext) -> str | None:
        order_ref = ctx.params.get("order", "")
        email = ctx.params.get("email", "")
        view: TrackingView | None = None
        token = ""
        if not order_ref.strip() and not email.strip():
            state = "form"
        elif not order_ref.strip() or not email.strip():
            state = "incomplete"
        elif TRACKING_LOOKUPS.blocked(ctx.client):
            state = "throttled"
        else:
            order = lookup(ctx.store, ctx.shop.id, order_ref, email)
            if order is None:
                TRACKING_LOOKUPS.failed(ctx.client)
                state = "not_found"
            else:
                state = "found"
                view = build(order, ctx.now.date())
                token = sign(
                    ctx.key,
                    "widget",
                    {"s": ctx.shop.id, "w": self.name, "o": order.order_id, "u": order.user_id},
                    ttl_seconds=86400,
                )
        return ctx.render(
            "tracking.html",
            state=state,
            view=view,
            token=token,
            order_input=order_ref[:MAX_ORDER_REF],
            email_input=email[:MAX_EMAIL],
            labels=labels.LABELS,
            explanations=labels.EXPLANATIONS,
            punctuality=labels.PUNCTUALITY,
            returns=labels.RETURNS,
        )
