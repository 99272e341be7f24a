"""``GET /recommendations/{shop_id}/click``: counts a click on a card, then sends the shopper
on to the product. The target comes from the product data, never from the request, so this
is no open redirect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..events import Context, RecommendationClicked
from ..server.store import Store
from ..widgets.http import run_in_threadpool
from ..widgets.tokens import TokenError, shop_key
from .tables import rec_items
from .widget import click_data, safe_link


def _error(status: int, text: str) -> Response:
    return PlainTextResponse(
        text, status_code=status, headers={"X-Content-Type-Options": "nosniff"}
    )


async def click(request: Request) -> Response:
    token = request.query_params.get("t", "")
    if not token:
        return _error(400, "t (the card's click token) is required")
    shop_id = request.path_params["shop_id"]

    def work() -> Response:
        store: Store = request.app.state.store
        shop = store.get_shop(shop_id) if len(shop_id) <= 40 else None
        if shop is None:
            return _error(404, "unknown shop")
        try:
            data = click_data(shop_key(store, request.app.state.settings, shop), shop.id, token)
        except TokenError as error:
            return _error(400, f"click token: {error}")
        with store.engine.connect() as conn:
            url = conn.execute(
                select(rec_items.c.url).where(
                    rec_items.c.shop_id == shop.id, rec_items.c.product_id == data["p"]
                )
            ).scalar()
        target = safe_link(url)
        if target is None:
            return _error(404, "this product has no page any more")
        store.ingest(shop.id, [_event(data).to_wire()])
        if target.startswith("/") and shop.domain:
            target = f"https://{shop.domain}{target}"
        return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})

    return await run_in_threadpool(work)


def _event(data: dict[str, Any]) -> RecommendationClicked:
    user_id = data.get("u") or None
    anonymous_id = data.get("a") or f"rec-{data.get('r')}"
    consent = bool(data.get("u") or data.get("a"))
    event: RecommendationClicked = RecommendationClicked(
        user_id=user_id,
        anonymous_id=None if user_id else anonymous_id,
        properties={
            "strategy": data["st"],
            "placement": data.get("pl"),
            "recommendation_id": data.get("r"),
            "product_id": data["p"],
            "position": data.get("i"),
        },
        context=Context.model_validate(
            {"channel": "web"}
            | ({"consent": {"categoryPreferences": {"Analytics": True}}} if consent else {})
        ),
    ).keyed(data.get("r"), data["p"])
    return event


def routes() -> list[BaseRoute]:
    return [
        Route("/{shop_id}/click", click, methods=["GET"]),
    ]
