"""The chat's public routes under ``/chat``: the panel page, its assets and the socket."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from .visitor import panel, visitor_socket

STATIC = Path(__file__).parent / "static"
ASSETS = {"chat.js": "text/javascript", "chat.css": "text/css"}


@cache
def asset(name: str) -> bytes:
    return (STATIC / name).read_bytes()


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:
        return Response("no such file", status_code=404, media_type="text/plain")
    content = asset(name)
    return Response(
        content,
        media_type=ASSETS[name],
        headers={
            "Cache-Control": "public, max-age=300",
            "ETag": '"' + hashlib.sha256(content).hexdigest()[:16] + '"',
            "X-Content-Type-Options": "nosniff",
        },
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/static/{name}", static, methods=["GET"]),
        Route("/{shop_id}/panel", panel, methods=["GET"]),
        WebSocketRoute("/{shop_id}/ws", visitor_socket),
    ]
