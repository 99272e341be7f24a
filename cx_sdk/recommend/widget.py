"""The storefront widget: product cards for a placement (product page, cart, thank-you,
tracking page), each linking through the collector so a click is counted per strategy.

Impressions and clicks become ``Recommendation Shown`` / ``Recommendation Clicked`` (an
impression is buffered and stored within about a second, off the render path). Before
the shopper's consent (``data-cx-consent="granted"`` on the placeholder) they carry only a
random per-render id, never the visitor's ids, so nothing about the person is stored.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..events import Context, RecommendationShown
from ..widgets import i18n
from ..widgets.config import N_
from ..widgets.framework import RenderContext
from ..widgets.tokens import TokenError, sign, verify
from ..widgets.tracking import CUSTOMER_PURPOSE
from . import impressions
from . import settings as rec_settings
from .engine import STRATEGIES, Card, Engine, Visitor

TITLES = {
    "also_bought": N_("Customers also bought"),
    "also_viewed": N_("Customers also viewed"),
    "bestsellers": N_("Bestsellers"),
    "recently_viewed": N_("Recently viewed"),
    "for_you": N_("Recommended for you"),
}
CLICK_PURPOSE = "recommendation-click"
CLICK_TTL = 7 * 86400
MAX_ID = 200
_IMAGE_DATA = re.compile(r"^data:image/(png|jpeg|gif|webp|svg\+xml)[;,]", re.IGNORECASE)


def safe_link(value: str | None) -> str | None:
    """http(s) URLs and same-site paths only: ``javascript:`` and friends never render."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("/") and not value.startswith("//"):
        return value
    parts = urlsplit(value)
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return value
    return None


def safe_image(value: str | None) -> str | None:
    if value and _IMAGE_DATA.match(value.strip()):
        return value.strip()
    return safe_link(value)


@lru_cache(maxsize=4096)
def price_text(locale: str, price: str, currency: str) -> str:
    """A card's price as the locale writes it, kept: a shop shows the same few prices on
    every render, and Babel's formatting was a third of the template's time."""
    return i18n.formatter(locale).money(price, currency)


@dataclass(frozen=True)
class Shown:
    card: Card
    image: str | None
    href: str | None
    initial: str
    price: str | None


def visitor_of(ctx: RenderContext) -> Visitor:
    """The browser's anonymous id as given; a user id only when an integration signed it."""
    user_id = None
    token = ctx.params.get("customer", "")
    if token:
        try:
            data = verify(ctx.key, CUSTOMER_PURPOSE, token)
        except TokenError:
            data = {}
        if data.get("s") == ctx.shop.id and data.get("u"):
            user_id = str(data["u"])
    anonymous_id = ctx.params.get("visitor", "")[:MAX_ID] or None
    return Visitor(user_id=user_id, anonymous_id=anonymous_id)


def _products(ctx: RenderContext) -> list[str]:
    raw = ctx.params.get("product", "")
    return [part.strip()[:MAX_ID] for part in raw.split(",") if part.strip()][:10]


class RecommendationsWidget:
    name = "recommendations"
    # The impression goes to an in-process buffer (``impressions``), not the database, but
    # a render still reads and scores (~1.3 ms on SQLite): on the event loop it would stall
    # every other connection (bench at 2-3 ms: p99 0.5-3.8 s inline, 0.3-0.7 s in the pool).
    read_only = False

    def render(self, ctx: RenderContext) -> str | None:
        with ctx.store.reading() as conn:
            chosen = rec_settings.for_render(ctx.store, conn, ctx.shop.id)
            placement_name = ctx.params.get("placement", "product")
            placement_name = rec_settings.ALIASES.get(placement_name, placement_name)
            if placement_name not in rec_settings.PLACEMENTS:
                placement_name = "product"
            placement = chosen.placement(placement_name)
            strategy = ctx.params.get("strategy") or placement.strategy
            if strategy not in STRATEGIES:
                strategy = placement.strategy
            limit = placement.limit
            if ctx.params.get("limit", "").isdigit():
                limit = max(1, min(int(ctx.params["limit"]), rec_settings.MAX_LIMIT))
            visitor = visitor_of(ctx)
            cards = Engine(ctx.store).recommend(
                ctx.shop.id,
                strategy,
                products=_products(ctx),
                visitor=visitor,
                limit=limit,
                exclude=chosen.excluded,
                order_id=ctx.params.get("order") or None,
                category=ctx.params.get("category") or None,
                now=ctx.now,
                conn=conn,
            )
        if not cards:
            return None
        consent = ctx.params.get("consent") == "granted"
        recommendation_id = secrets.token_hex(8)
        ids: dict[str, Any] = {"r": recommendation_id}
        if consent:
            ids.update(u=visitor.user_id, a=visitor.anonymous_id)
        shown = [
            Shown(
                card=card,
                image=safe_image(card.image_url),
                href=self._click_url(ctx, card, position, strategy, placement_name, ids),
                initial=(card.name.strip()[:1] or "?").upper(),
                price=(
                    price_text(ctx.locale, card.price, card.currency)
                    if card.price and card.currency
                    else None
                ),
            )
            for position, card in enumerate(cards)
        ]
        self._record(ctx, strategy, placement_name, recommendation_id, cards, visitor, consent)
        return ctx.render(
            "recommendations.html",
            shown=shown,
            strategy=strategy,
            placement=placement_name,
            titles=TITLES,
        )

    def _click_url(
        self,
        ctx: RenderContext,
        card: Card,
        position: int,
        strategy: str,
        placement: str,
        ids: dict[str, Any],
    ) -> str | None:
        if safe_link(card.url) is None:
            return None
        token = sign(
            ctx.key,
            CLICK_PURPOSE,
            {
                "s": ctx.shop.id,
                "p": card.product_id,
                "i": position,
                "st": strategy,
                "pl": placement,
                **ids,
            },
            CLICK_TTL,
        )
        public = ctx.settings.public_url.rstrip("/")
        return f"{public}/recommendations/{ctx.shop.id}/click?{urlencode({'t': token})}"

    def _record(
        self,
        ctx: RenderContext,
        strategy: str,
        placement: str,
        recommendation_id: str,
        cards: list[Card],
        visitor: Visitor,
        consent: bool,
    ) -> None:
        user_id = visitor.user_id if consent else None
        anonymous_id = (visitor.anonymous_id if consent else None) or f"rec-{recommendation_id}"
        event = RecommendationShown(
            user_id=user_id,
            anonymous_id=None if user_id else anonymous_id,
            properties={
                "strategy": strategy,
                "placement": placement,
                "recommendation_id": recommendation_id,
                "products": [
                    {"product_id": card.product_id, "position": position}
                    for position, card in enumerate(cards)
                ],
            },
            context=Context.model_validate(
                {"channel": "web", "locale": ctx.locale}
                | ({"consent": {"categoryPreferences": {"Analytics": True}}} if consent else {})
            ),
        ).keyed(ctx.shop.id, "recommendation", recommendation_id)
        impressions.for_store(ctx.store).add(ctx.shop.id, event.to_wire())


def click_data(key: bytes, shop_id: str, token: str) -> dict[str, Any]:
    """The verified click token; TokenError when forged, expired or for another shop."""
    data = verify(key, CLICK_PURPOSE, token)
    if data.get("s") != shop_id or not data.get("p") or data.get("st") not in STRATEGIES:
        raise TokenError("click token is for another shop")
    return data
