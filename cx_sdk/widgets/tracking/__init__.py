"""Delivery tracking: the shopper's order, found by order number (or id) plus the email it was
placed with, or plus a customer token a platform integration signed for a logged-in customer."""

from __future__ import annotations

import hmac
from collections.abc import Hashable
from functools import lru_cache

from ...privacy import hash_email
from ...server.store import OrderHead, OrderView, Store
from ..cache import RenderCache
from ..framework import RenderContext
from ..throttle import TRACKING_LOOKUPS
from ..tokens import TokenError, sign, verify
from . import labels
from .view import TrackingView, build

MAX_ORDER_REF = 200
MAX_EMAIL = 320
CUSTOMER_PURPOSE = "customer"


def customer_token(key: bytes, shop_id: str, user_id: str, ttl_seconds: int = 3600) -> str:
    """For integrations that know the logged-in customer (e.g. a Shopify app proxy request
    whose signature they checked): the placeholder carries ``data-cx-customer="TOKEN"``."""
    return sign(key, CUSTOMER_PURPOSE, {"s": shop_id, "u": user_id}, ttl_seconds)


def _candidates(order_ref: str) -> list[str]:
    order_ref = order_ref.strip()
    if not order_ref or len(order_ref) > MAX_ORDER_REF:
        return []
    if order_ref.startswith("#"):
        return [order_ref]
    return [order_ref, f"#{order_ref}"]  # Shopify numbers are shown as "#1001"


def _head(store: Store, shop_id: str, order_ref: str) -> OrderHead | None:
    """The order the first candidate names (one read for "1001" and "#1001" together)."""
    candidates = _candidates(order_ref)
    return store.order_head(shop_id, *candidates) if candidates else None


# The shopper's email as the order projection keeps it: a reload hashes the same address again.
_email_hash = lru_cache(maxsize=4096)(hash_email)


def lookup(store: Store, shop_id: str, order_ref: str, email: str) -> OrderHead | None:
    """The order when number/id and email belong together; None for every other case, so a
    wrong pair cannot be told apart from a missing order."""
    email = email.strip()
    if "@" not in email or len(email) > MAX_EMAIL:
        return None
    head = _head(store, shop_id, order_ref)
    if head is None:
        return None
    stored = head.email_hash or ""
    if hmac.compare_digest(stored.encode(), _email_hash(email).encode()) and stored:
        return head
    return None


def lookup_for_customer(
    store: Store, key: bytes, shop_id: str, order_ref: str, token: str
) -> OrderHead | None:
    """The order when it belongs to the customer the token was signed for."""
    try:
        data = verify(key, CUSTOMER_PURPOSE, token)
    except TokenError:
        return None
    user_id = str(data.get("u") or "")
    if data.get("s") != shop_id or not user_id:
        return None
    head = _head(store, shop_id, order_ref)
    if head is None:
        return None
    owner = head.user_id or ""
    return head if owner and hmac.compare_digest(owner, user_id) else None


def verified_head(ctx: RenderContext) -> OrderHead | None:
    order_ref = ctx.params.get("order", "")
    if ctx.params.get("customer"):
        return lookup_for_customer(
            ctx.store, ctx.key, ctx.shop.id, order_ref, ctx.params["customer"]
        )
    return lookup(ctx.store, ctx.shop.id, order_ref, ctx.params.get("email", ""))


def verified_order(ctx: RenderContext) -> OrderView | None:
    """The whole order, once the shopper's proof matches it."""
    head = verified_head(ctx)
    return ctx.store.get_order(ctx.shop.id, head.order_id) if head else None


# Tracking pages are reloaded far more often than orders change.
RENDERED = RenderCache()


def _pieces(html: str, uid: str) -> tuple[str, ...]:
    """A fragment cut at its element ids (``…-<uid>"``), so that a hit gets ids of its own:
    two tracking blocks on one page, or one rendered twice, never share an id."""
    return tuple(html.split(f'-{uid}"'))


def _with_uid(pieces: tuple[str, ...], uid: str) -> str:
    return f'-{uid}"'.join(pieces)


def forget_typed_input() -> None:
    """Drop the emails and order numbers shoppers typed from this worker's memos (hashes,
    expired renderings): bounded anyway, but an erased customer's address should not stay in
    memory for long either."""
    _email_hash.cache_clear()
    RENDERED.prune()


class TrackingWidget:
    name = "tracking"
    read_only = True

    def render(self, ctx: RenderContext) -> str | None:
        order_ref = ctx.params.get("order", "")
        email = ctx.params.get("email", "")
        proof = email.strip() or ctx.params.get("customer", "")
        view: TrackingView | None = None
        token = ""
        if not order_ref.strip() and not proof:
            state = "form"
        elif not order_ref.strip() or not proof:
            state = "incomplete"
        elif TRACKING_LOOKUPS.blocked(ctx.client):
            state = "throttled"
        else:
            head = verified_head(ctx)
            key = head and head.revision and self._cache_key(ctx, head, order_ref, proof)
            if key and (cached := RENDERED.get(key)) is not None:
                return _with_uid(cached, ctx.uid)
            order = ctx.store.get_order(ctx.shop.id, head.order_id) if head else None
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
        html = ctx.render(
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
        if state == "found" and key:
            RENDERED.put(key, _pieces(html, ctx.uid))
        return html

    @staticmethod
    def _cache_key(ctx: RenderContext, head: OrderHead, order_ref: str, proof: str) -> Hashable:
        """Everything the found-state fragment depends on (see ``cache.RenderCache``)."""
        return (
            ctx.shop.id,
            head.order_id,
            head.revision,
            order_ref,
            proof,
            ctx.locale,
            ctx.page,
            ctx.shop.default_locale,
            ctx.now.date(),
            ctx.config.fingerprint,
        )
