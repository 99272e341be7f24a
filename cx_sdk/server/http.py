"""Request plumbing shared by the collector's endpoints: bounded bodies, JSON errors, auth."""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .store import Store


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": detail, "status": status, **extra}, status_code=status)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, gunzipped when sent so, refused with 413 beyond ``limit`` either way."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request body is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error:
            raise HTTPException(400, "body is not valid gzip") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise HTTPException(413, f"request body is over the limit of {limit} bytes")
    return body


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise HTTPException(400, f"malformed JSON: {error}") from None


def basic_username(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def admin_shop(request: Request) -> str:
    """The shop an admin token belongs to; 401 otherwise."""
    token = bearer_token(request)
    store: Store = request.app.state.store
    shop_id = await run_in_threadpool(store.shop_for_key, token, "admin") if token else None
    if shop_id is None:
        raise HTTPException(401, "admin token missing or invalid (Authorization: Bearer <token>)")
    return shop_id
