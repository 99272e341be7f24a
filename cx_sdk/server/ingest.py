"""Segment-compatible ingest: ``/v1/batch``, ``/v1/track`` … as any Segment client sends them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from .group_commit import GroupCommit
from .http import JSONResponse, basic_username, parse_json, read_body
from .settings import Settings
from .store import Store


async def _ingest(request: Request, kind: str) -> JSONResponse:
    received = datetime.now(UTC)
    settings: Settings = request.app.state.settings
    store: Store = request.app.state.store
    body = parse_json(await read_body(request, settings.max_request_bytes))
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    key = basic_username(request) or body.get("writeKey")
    shop_id = (
        await run_in_threadpool(store.shop_for_key, key, "write") if isinstance(key, str) else None
    )
    if shop_id is None:
        raise HTTPException(401, "write key missing or invalid (HTTP Basic username or writeKey)")
    messages: list[Any]
    if kind == "batch":
        batch = body.get("batch")
        if not isinstance(batch, list):
            raise HTTPException(400, "batch: required, a list of messages")
        messages = batch
        # Segment clients put a batch-wide context/sentAt on the envelope; merge it in.
        shared_context = body.get("context") if isinstance(body.get("context"), dict) else None
        sent_at = body.get("sentAt")
        if shared_context or sent_at:
            messages = [_merge_envelope(message, shared_context, sent_at) for message in messages]
    else:
        message = {key: value for key, value in body.items() if key != "writeKey"}
        message.setdefault("type", kind)
        messages = [message]
    group: GroupCommit = request.app.state.group_commit
    result = await group.ingest(shop_id, messages, received)
    status = 400 if result.rejected and not (result.accepted or result.duplicates) else 200
    return JSONResponse(result.as_response(), status_code=status)


def _merge_envelope(message: Any, context: dict[str, Any] | None, sent_at: Any) -> Any:
    if not isinstance(message, dict):
        return message
    merged = dict(message)
    if context:
        merged["context"] = {**context, **(merged.get("context") or {})}
    if sent_at and "sentAt" not in merged:
        merged["sentAt"] = sent_at
    return merged


async def batch(request: Request) -> JSONResponse:
    return await _ingest(request, "batch")


def _single(kind: str) -> Any:
    async def endpoint(request: Request) -> JSONResponse:
        return await _ingest(request, kind)

    endpoint.__name__ = kind
    return endpoint


def routes() -> list[Route]:
    return [
        Route("/v1/batch", batch, methods=["POST"]),
        Route("/v1/import", batch, methods=["POST"]),
        *(
            Route(f"/v1/{kind}", _single(kind), methods=["POST"])
            for kind in ("track", "identify", "page", "screen", "alias")
        ),
    ]
