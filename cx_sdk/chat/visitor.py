"""The visitor's side: the launcher widget, the chat panel page and its WebSocket.

The launcher is a server-rendered fragment like every widget (no script of its own). Opening
it swaps in an iframe with the panel, served from the collector with its own CSP, so the chat
script loads only on click and the WebSocket's origin is always the collector's. Nothing is
stored, in the browser or here, until the visitor sends a first message.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..server.settings import Settings
from ..server.store import Shop, Store
from ..widgets import i18n
from ..widgets.http import run_in_threadpool
from ..widgets.registry import settings_for
from ..widgets.survey import subject_token
from ..widgets.tokens import TokenError, shop_key, sign, verify
from .conversations import Chats, Conversation, Event, Message
from .hours import away_due, away_message, local_day
from .hub import QUEUE_SIZE, conversation_channel, hub_of, shop_channel
from .limits import (
    MAX_FRAME_BYTES,
    Addresses,
    Bucket,
    FrameError,
    email_address,
    message_body,
)
from .writer import writer_of

TOKEN_PURPOSE = "chat"  # noqa: S105 (a MAC purpose, not a secret)
TOKEN_TTL = 30 * 86400


def origins(settings: Settings, shop: Shop) -> set[str]:
    """Where a chat socket may be opened from: the collector (the panel) and the shop."""
    public = urlsplit(settings.public_url)
    allowed = {f"{public.scheme}://{public.netloc}"}
    if shop.domain:
        allowed |= {f"https://{shop.domain}", f"http://{shop.domain}"}
    return allowed


def conversation_token(key: bytes, shop_id: str, conversation_id: str) -> str:
    return sign(key, TOKEN_PURPOSE, {"s": shop_id, "c": conversation_id}, ttl_seconds=TOKEN_TTL)


def conversation_of_token(key: bytes, shop_id: str, token: str) -> str:
    data = verify(key, TOKEN_PURPOSE, token)
    if data.get("s") != shop_id or not isinstance(data.get("c"), str):
        raise TokenError("token was issued for another shop")
    return str(data["c"])


def _frame(data: dict[str, Any]) -> str:
    return orjson.dumps(data).decode()


def _shop(store: Store, shop_id: str) -> Shop | None:
    if len(shop_id) > 40 or "\x00" in shop_id:
        return None
    return store.get_shop(shop_id)


async def panel(request: Request) -> Response:
    """The chat window inside the launcher's iframe."""
    store: Store = request.app.state.store
    settings: Settings = request.app.state.settings

    def work() -> Response:
        shop = _shop(store, request.path_params["shop_id"])
        if shop is None:
            return PlainTextResponse("unknown shop", status_code=404)
        widgets = settings_for(store)
        config = widgets.get(shop.id, "chat")
        if not config.enabled:
            return PlainTextResponse("chat is switched off for this shop", status_code=404)
        locale = i18n.negotiate(
            request.query_params.get("locale"),
            request.headers.get("accept-language"),
            shop.default_locale,
        )
        hours = Chats(store).hours(shop.id)
        root = request.scope.get("root_path", "")
        html = i18n.render(
            "chat_panel.html",
            locale,
            {
                "shop": shop,
                "config": config,
                "root": root,
                "online": hours.is_open(datetime.now(UTC)),
                "ask_email": hours.ask_email,
                "socket": f"{root}/{shop.id}/ws",
                "widgets_css": f"{settings.public_url.rstrip('/')}/widgets/{shop.id}/widgets.css",
            },
        )
        public = urlsplit(settings.public_url)
        socket = ("wss" if public.scheme == "https" else "ws") + f"://{public.netloc}"
        csp = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"connect-src 'self' {socket}; form-action 'none'; base-uri 'none'; "
            # Any storefront may frame it: Shopify and WordPress shops live on domains the
            # collector does not know, and the panel holds nothing before the visitor writes
            # (its storage is partitioned by the framing site).
            "frame-ancestors *"
        )
        return Response(
            html,
            media_type="text/html",
            headers={
                "Content-Security-Policy": csp,
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    return await run_in_threadpool(work)


class VisitorSocket:
    """One visitor connection: resync, then relay frames both ways."""

    def __init__(self, websocket: WebSocket, shop: Shop, key: bytes) -> None:
        self.ws = websocket
        self.shop = shop
        self.key = key
        self.store: Store = websocket.app.state.store
        self.settings: Settings = websocket.app.state.settings
        self.chats = Chats(self.store)
        self.hub = hub_of(websocket.app.state)
        self.queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self.conversation: Conversation | None = None
        self.channel: str | None = None
        self.bucket = Bucket()
        self.locale = i18n.negotiate(
            websocket.query_params.get("locale"), None, shop.default_locale
        )

    async def run(self, token: str, after: int) -> None:
        # Accepted first, so that the browser sees why: 4401 and 4404 make it start afresh.
        await self.ws.accept()
        if token:
            try:
                conversation_id = conversation_of_token(self.key, self.shop.id, token)
            except TokenError as error:
                await self.ws.close(4401, f"conversation token: {error}"[:120])
                return
            self.conversation = await run_in_threadpool(
                lambda: self.chats.get(self.shop.id, conversation_id)
            )
            if self.conversation is None:
                await self.ws.close(4404, "conversation is gone")
                return
        forward = asyncio.create_task(self._forward())
        try:
            if self.conversation is not None:
                await self._listen(self.conversation)
                backlog = await run_in_threadpool(
                    lambda: self.chats.messages(self.shop.id, self.conversation.id, after)  # type: ignore[union-attr]
                )
                for message in backlog:
                    await self.ws.send_text(_frame(message.wire()))
                if self.conversation.status == "resolved":
                    await self.ws.send_text(_frame({"type": "ended"}))
            await self._receive()
        except WebSocketDisconnect:
            pass
        finally:
            forward.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forward
            if self.channel is not None:
                await self.hub.unsubscribe(self.channel, self.queue)

    async def _listen(self, conversation: Conversation) -> None:
        channel = conversation_channel(self.shop.id, conversation.id)
        if channel == self.channel:
            return
        if self.channel is not None:
            await self.hub.unsubscribe(self.channel, self.queue)
        self.channel = channel
        await self.hub.subscribe(channel, self.queue)

    async def _forward(self) -> None:
        while True:
            data = await self.queue.get()
            await self.ws.send_text(data)

    async def _error(self, text: str) -> None:
        await self.ws.send_text(_frame({"type": "error", "error": text}))

    async def _receive(self) -> None:
        while True:
            raw = await self.ws.receive_text()
            if len(raw.encode()) > MAX_FRAME_BYTES:
                await self._error(f"frame is over the limit of {MAX_FRAME_BYTES} bytes")
                await self.ws.close(1009)
                return
            if not self.bucket.take():
                await self._error("too many messages; wait a moment")
                continue
            try:
                data = orjson.loads(raw)
                if not isinstance(data, dict):
                    raise FrameError('frames are JSON objects: {"type": …}')
                await self._handle(data)
            except orjson.JSONDecodeError:
                await self._error('frames are JSON objects: {"type": …}')
            except FrameError as error:
                await self._error(str(error))

    async def _handle(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        if kind == "msg":
            # A pre-chat email rides along with the first message (nothing is sent before).
            early = email_address(data["email"]) if data.get("email") else None
            await self._message(message_body(data.get("body")), early)
        elif kind == "typing":
            if self.conversation is not None:
                frame = {"type": "typing", "c": self.conversation.id, "from": "visitor"}
                await self.hub.publish(shop_channel(self.shop.id), _frame(frame))
        elif kind == "email":
            email = email_address(data.get("email"))
            if self.conversation is None:
                raise FrameError("write a message first")
            conversation_id = self.conversation.id
            self.conversation = await run_in_threadpool(
                lambda: self.chats.set_email(self.shop.id, conversation_id, email)
            )
            await self.ws.send_text(_frame({"type": "email_saved"}))
            await self.hub.publish(
                shop_channel(self.shop.id), _frame({"type": "update", "c": conversation_id})
            )
        else:
            raise FrameError("type must be msg, typing or email")

    async def _message(self, body: str, email: str | None = None) -> None:
        now = datetime.now(UTC)
        fresh = self.conversation is None
        known = self.conversation.id if self.conversation is not None else None
        shop, chats = self.shop, self.chats

        def job(conn: Connection) -> tuple[tuple[Conversation, list[Message]], list[Event]]:
            events: list[Event] = []
            # Read in the batch's transaction: an agent may have resolved it meanwhile.
            conversation = chats.get_in(conn, shop.id, known) if known else None
            if conversation is None:
                conversation, started = chats.start_in(conn, shop, self.locale, now)
                events.append(started)
            elif conversation.status == "resolved":
                conversation = chats.reopen_in(conn, shop, conversation, now)
            message, event = chats.post_in(conn, shop, conversation, "visitor", body, now)
            posted, events = [message], [*events, event]
            conversation = chats.after_post(conversation, message)
            if email:
                conversation = chats.set_email_in(conn, shop.id, conversation.id, email) or (
                    conversation
                )
            hours = chats.hours_in(conn, shop.id)
            if away_due(
                hours, now, away_day=conversation.away_day, last_agent_at=conversation.last_agent_at
            ):
                day = local_day(hours, now)
                if chats.claim_away_in(conn, shop.id, conversation.id, day):
                    text = away_message(
                        hours, now, conversation.locale, has_email=bool(conversation.email)
                    )
                    auto, event = chats.post_in(conn, shop, conversation, "auto", text, now)
                    posted.append(auto)
                    events.append(event)
                    conversation = replace(chats.after_post(conversation, auto), away_day=day)
            return (conversation, posted), events

        conversation, posted = await writer_of(self.ws.app.state).run(job)
        self.conversation = conversation
        if fresh or conversation.id != known:
            await self._listen(conversation)
            token = conversation_token(self.key, self.shop.id, conversation.id)
            await self.ws.send_text(_frame({"type": "token", "t": token, "c": conversation.id}))
            if email:
                await self.ws.send_text(_frame({"type": "email_saved"}))
        for message in posted:
            frame = _frame(message.wire())
            await self.hub.publish(
                conversation_channel(self.shop.id, message.conversation_id), frame
            )
            await self.hub.publish(shop_channel(self.shop.id), frame)


# Close code for a client address over ``Settings.chat_sockets_per_ip`` (like HTTP 429).
TOO_MANY = 4429


def _addresses(state: Any, limit: int) -> Addresses:
    addresses: Addresses | None = getattr(state, "chat_addresses", None)
    if addresses is None:
        addresses = state.chat_addresses = Addresses(limit)
    addresses.limit = limit
    return addresses


async def visitor_socket(websocket: WebSocket) -> None:
    settings: Settings = websocket.app.state.settings
    addresses = _addresses(websocket.app.state, settings.chat_sockets_per_ip)
    address = websocket.client.host if websocket.client else ""
    if not addresses.take(address):
        # Accepted first, so that the client sees the code and the reason.
        await websocket.accept()
        await websocket.close(TOO_MANY, "too many chat connections from this address")
        return
    try:
        await _visitor_socket(websocket)
    finally:
        addresses.give_back(address)


async def _visitor_socket(websocket: WebSocket) -> None:
    store: Store = websocket.app.state.store
    settings: Settings = websocket.app.state.settings

    def lookup() -> tuple[Shop, bytes] | None:
        shop = _shop(store, websocket.path_params["shop_id"])
        if shop is None or not settings_for(store).get(shop.id, "chat").enabled:
            return None
        return shop, shop_key(store, settings, shop)

    found = await run_in_threadpool(lookup)
    if found is None:
        await websocket.close(4404, "unknown shop or chat switched off")
        return
    shop, key = found
    if websocket.headers.get("origin") not in origins(settings, shop):
        await websocket.close(4403, "origin not allowed")
        return
    after_raw = websocket.query_params.get("after", "0")
    after = int(after_raw) if after_raw.isascii() and after_raw.isdigit() else 0
    await VisitorSocket(websocket, shop, key).run(websocket.query_params.get("t", ""), after)


def survey_url(store: Store, settings: Settings, shop: Shop, conversation: Conversation) -> str:
    """Where the panel fetches the CSAT survey (trigger ``chat``) once the chat is resolved."""
    token = subject_token(
        shop_key(store, settings, shop),
        shop.id,
        user_id=conversation.user_id,
        anonymous_id=conversation.anonymous_id,
        conversation_id=conversation.id,
        ended_at=conversation.resolved_at,
    )
    query = urlencode({"subject": token, "locale": conversation.locale})
    return f"{settings.public_url.rstrip('/')}/widgets/{shop.id}/survey?{query}"
