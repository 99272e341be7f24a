"""The read and privacy API, authorised by the shop's admin token (Bearer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from .http import JSONResponse, admin_shop, parse_json, read_body
from .store import Store

PAGE_DEFAULT = 1000
PAGE_MAX = 10_000


def _time_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(400, f"{name}: must be an ISO-8601 time, got {raw!r}") from None
    if value.tzinfo is None:
        raise HTTPException(400, f"{name}: needs a timezone (e.g. 2026-01-01T00:00:00Z)")
    return value


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise HTTPException(400, f"{name}: must be an integer from {low} to {high}")
    return int(raw)


async def list_events(request: Request) -> StreamingResponse:
    """NDJSON, oldest first; ``X-Next-Cursor`` names where the next page starts."""
    shop_id = await admin_shop(request)
    store: Store = request.app.state.store
    limit = _int_param(request, "limit", PAGE_DEFAULT, 1, PAGE_MAX)
    cursor = _int_param(request, "cursor", 0, 0, 2**62)
    rows = await run_in_threadpool(
        lambda: list(
            store.iter_events(
                shop_id,
                event=request.query_params.get("event"),
                user_id=request.query_params.get("user_id"),
                since=_time_param(request, "since"),
                until=_time_param(request, "until"),
                after=cursor,
                limit=limit,
            )
        )
    )
    headers = {"X-Next-Cursor": str(rows[-1][0])} if len(rows) == limit else {}

    async def lines() -> AsyncIterator[bytes]:
        for _, item in rows:
            yield orjson.dumps(item) + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson", headers=headers)


async def journey(request: Request) -> JSONResponse:
    shop_id = await admin_shop(request)
    store: Store = request.app.state.store
    data = await run_in_threadpool(store.journey, shop_id, request.path_params["user_id"])
    if not data["timeline"] and not data["traits"]:
        raise HTTPException(404, "no events for this customer")
    return JSONResponse(data)


def _subject(data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    subject = {key: data[key] for key in ("user_id", "email") if data.get(key)}
    if not subject:
        raise HTTPException(400, "user_id or email: one is required")
    if any(not isinstance(value, str) for value in subject.values()):
        raise HTTPException(400, "user_id and email must be strings")
    return subject


async def erase(request: Request) -> JSONResponse:
    shop_id = await admin_shop(request)
    store: Store = request.app.state.store
    subject = _subject(parse_json(await read_body(request, 64 * 1024)))
    counts = await run_in_threadpool(lambda: store.erase_customer(shop_id, **subject))
    return JSONResponse({"erased": counts})


async def export(request: Request) -> JSONResponse:
    shop_id = await admin_shop(request)
    store: Store = request.app.state.store
    subject = _subject(dict(request.query_params))
    data = await run_in_threadpool(lambda: store.export_customer(shop_id, **subject))
    return JSONResponse(data)


async def privacy_requests(request: Request) -> JSONResponse:
    shop_id = await admin_shop(request)
    store: Store = request.app.state.store
    return JSONResponse({"requests": await run_in_threadpool(store.privacy_requests, shop_id)})


async def order(request: Request) -> JSONResponse:
    shop_id = await admin_shop(request)
    store: Store = request.app.state.store
    view = await run_in_threadpool(store.get_order, shop_id, request.path_params["order_ref"])
    if view is None:
        raise HTTPException(404, "no such order")
    return JSONResponse(_plain(view))


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def routes() -> list[Route]:
    return [
        Route("/api/v1/events", list_events, methods=["GET"]),
        Route("/api/v1/customers/{user_id}/journey", journey, methods=["GET"]),
        Route("/api/v1/orders/{order_ref}", order, methods=["GET"]),
        Route("/api/v1/privacy/erase", erase, methods=["POST"]),
        Route("/api/v1/privacy/export", export, methods=["GET"]),
        Route("/api/v1/privacy/requests", privacy_requests, methods=["GET"]),
    ]
