"""The agent's side: the console page at ``/console/chat`` and its WebSocket.

Agents of one shop see that shop's open conversations, newest activity first, with the
customer's last order and last survey answer beside the selected one. Replying, resolving and
reopening are plain forms (they work without script); the page's script adds live updates
and sends replies over the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit

import orjson
from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..console.http import (
    console_key,
    csrf_token,
    locale_of,
    page,
    refuse,
    session_of,
    signed_form,
)
from ..server.settings import Settings
from ..server.store import Shop, Store
from ..widgets import i18n
from ..widgets.config import N_, ConfigError
from ..widgets.http import run_in_threadpool
from .conversations import Chats, Conversation, Event
from .hours import MODES, hours_from
from .hub import QUEUE_SIZE, conversation_channel, hub_of, shop_channel
from .limits import MAX_FRAME_BYTES, Bucket, FrameError, message_body
from .visitor import survey_url
from .writer import Job, writer_of

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)


def agent_id(session: dict[str, Any]) -> str:
    """One id per console session: enough to tell several agents apart in the log."""
    return f"agent-{str(session['n'])[:8]}"


def _frame(data: dict[str, Any]) -> str:
    return orjson.dumps(data).decode()


def _url(request: Request, conversation_id: str | None = None, **query: str) -> str:
    root = request.scope.get("root_path", "")
    chosen = i18n.supported(request.query_params.get("locale"))
    params = {**({"locale": chosen} if chosen else {}), **query}
    if conversation_id:
        params["c"] = conversation_id
    suffix = "&".join(f"{key}={quote(value)}" for key, value in params.items())
    return f"{root}/chat" + (f"?{suffix}" if suffix else "")


def _with_csp(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    return response


async def chat_page(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/", status_code=303)
    store: Store = request.app.state.store
    return await run_in_threadpool(lambda: _render(request, store, session))


def _render(
    request: Request,
    store: Store,
    session: dict[str, Any],
    error: str | None = None,
    status: int = 200,
) -> Response:
    shop = store.get_shop(str(session["s"]))
    if shop is None:
        return refuse(request, 404, N_("This shop no longer exists."))
    chats = Chats(store)
    view = request.query_params.get("view", "open")
    view = view if view in ("open", "resolved") else "open"
    listing = chats.listing(shop.id, view)
    selected_id = request.query_params.get("c", "")[:40]
    selected = chats.get(shop.id, selected_id) if selected_id else None
    locale = locale_of(request, shop)
    return _with_csp(
        page(
            request,
            "console_chat.html",
            status=status,
            shop=shop,
            csrf=csrf_token(console_key(request), session),
            view=view,
            conversations=listing,
            selected=selected,
            messages=chats.messages(shop.id, selected.id) if selected else [],
            customer=chats.customer(shop.id, selected) if selected else None,
            hours=chats.hours(shop.id),
            weekdays=WEEKDAYS,
            modes=MODES,
            saved=request.query_params.get("saved") == "hours",
            error=error,
            fmt=i18n.formatter(locale),
            locale=locale,
        )
    )


async def _act(request: Request, action: str) -> Response:
    checked = await signed_form(request)
    if isinstance(checked, Response):
        return checked
    form, session = checked
    store: Store = request.app.state.store
    settings: Settings = request.app.state.settings
    conversation_id = request.path_params["conversation_id"][:40]
    now = datetime.now(UTC)
    body = ""
    if action == "reply":
        try:
            body = message_body(str(form.get("body", "")))
        except FrameError:
            return refuse(request, 400, N_("Please write a reply of at most 2000 characters."))

    def work() -> tuple[Conversation, list[dict[str, Any]], list[dict[str, Any]]] | None:
        shop = store.get_shop(str(session["s"]))
        chats = Chats(store)
        conversation = chats.get(str(session["s"]), conversation_id)
        if shop is None or conversation is None:
            return None
        return act(store, settings, shop, chats, conversation, action, body, now, agent_id(session))

    done = await run_in_threadpool(work)
    if done is None:
        return refuse(request, 404, N_("There is no such conversation in your shop."))
    conversation, to_visitor, to_agents = done
    await publish(request.app.state, conversation, to_visitor, to_agents)
    return RedirectResponse(_url(request, conversation.id), status_code=303)


def act(
    store: Store,
    settings: Settings,
    shop: Any,
    chats: Chats,
    conversation: Conversation,
    action: str,
    body: str,
    now: datetime,
    agent: str,
) -> tuple[Conversation, list[dict[str, Any]], list[dict[str, Any]]]:
    """Apply one agent action; returns the frames for the visitor and for the agents."""
    if action == "reply":
        if conversation.status == "resolved":
            conversation = chats.reopen(shop, conversation, now)
        message = chats.post(shop, conversation, "agent", body, now, agent_id=agent)
        return conversation, [message.wire()], [message.wire()]
    if action == "resolve":
        if conversation.status == "resolved":
            return conversation, [], []
        conversation = chats.resolve(shop, conversation, now)
        ended = {"type": "ended", "survey": survey_url(store, settings, shop, conversation)}
        return conversation, [ended], [{"type": "update", "c": conversation.id}]
    conversation = chats.reopen(shop, conversation, now)
    return conversation, [{"type": "reopened"}], [{"type": "update", "c": conversation.id}]


def reply_job(
    chats: Chats, shop: Shop, conversation_id: str, body: str, agent: str
) -> Job[tuple[Conversation, list[dict[str, Any]], list[dict[str, Any]]] | None]:
    """An agent's reply as a step of the writer's next batch (``act`` without the reads
    before and the event inside): the conversation is read in the batch's transaction."""
    now = datetime.now(UTC)

    def job(
        conn: Connection,
    ) -> tuple[tuple[Conversation, list[dict[str, Any]], list[dict[str, Any]]] | None, list[Event]]:
        conversation = chats.get_in(conn, shop.id, conversation_id)
        if conversation is None:
            return None, []
        if conversation.status == "resolved":
            conversation = chats.reopen_in(conn, shop, conversation, now)
        message, event = chats.post_in(conn, shop, conversation, "agent", body, now, agent_id=agent)
        conversation = chats.after_post(conversation, message)
        return (conversation, [message.wire()], [message.wire()]), [event]

    return job


async def publish(
    state: Any,
    conversation: Conversation,
    to_visitor: list[dict[str, Any]],
    to_agents: list[dict[str, Any]],
) -> None:
    hub = hub_of(state)
    for frame in to_visitor:
        await hub.publish(
            conversation_channel(conversation.shop_id, conversation.id), _frame(frame)
        )
    for frame in to_agents:
        await hub.publish(shop_channel(conversation.shop_id), _frame(frame))


async def reply(request: Request) -> Response:
    return await _act(request, "reply")


async def resolve(request: Request) -> Response:
    return await _act(request, "resolve")


async def reopen(request: Request) -> Response:
    return await _act(request, "reopen")


async def save_hours(request: Request) -> Response:
    checked = await signed_form(request)
    if isinstance(checked, Response):
        return checked
    form, session = checked
    store: Store = request.app.state.store

    def work() -> Response:
        shop_id = str(session["s"])
        try:
            hours = hours_from(
                str(form.get("timezone", "")).strip(),
                [
                    {
                        "mode": str(form.get(f"mode_{day}", "")),
                        "from": str(form.get(f"from_{day}", "")),
                        "to": str(form.get(f"to_{day}", "")),
                    }
                    for day in range(7)
                ],
                form.get("ask_email") == "on",
            )
        except ConfigError as error:
            locale = locale_of(request, None)
            message = error.translated(i18n.translations(locale).gettext)
            return _render(request, store, session, error=message, status=400)
        Chats(store).save_hours(shop_id, hours)
        return RedirectResponse(_url(request, saved="hours"), status_code=303)

    return await run_in_threadpool(work)


ASSETS = {"agent.js": "text/javascript", "agent.css": "text/css"}


async def agent_static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:
        return Response("no such file", status_code=404, media_type="text/plain")
    return Response(
        (STATIC / name).read_bytes(),
        media_type=ASSETS[name],
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


async def agent_socket(websocket: WebSocket) -> None:
    """Live updates for the agents of one shop; replies and typing go the other way."""
    session = session_of(cast(Request, websocket))
    origin = websocket.headers.get("origin", "")
    if session is None or urlsplit(origin).netloc != websocket.headers.get("host", ""):
        await websocket.close(4403, "sign in to the console first")
        return
    store: Store = websocket.app.state.store
    shop_id = str(session["s"])
    hub = hub_of(websocket.app.state)
    queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
    channel = shop_channel(shop_id)
    # Subscribed before the handshake completes, so nothing published after it is missed.
    await hub.subscribe(channel, queue)
    try:
        await websocket.accept()
    except BaseException:
        await hub.unsubscribe(channel, queue)
        raise

    async def forward() -> None:
        while True:
            await websocket.send_text(await queue.get())

    task = asyncio.create_task(forward())
    bucket = Bucket(rate=5.0, burst=30.0)
    try:
        while True:
            raw = await websocket.receive_text()
            if len(raw.encode()) > MAX_FRAME_BYTES or not bucket.take():
                await websocket.send_text(_frame({"type": "error", "error": "frame refused"}))
                continue
            try:
                data = orjson.loads(raw)
                if not isinstance(data, dict):
                    raise FrameError("frames are JSON objects")
                conversation_id = str(data.get("c", ""))[:40]
                if data.get("type") == "typing":
                    frame = {"type": "typing", "c": conversation_id, "from": "agent"}
                    await hub.publish(conversation_channel(shop_id, conversation_id), _frame(frame))
                    continue
                if data.get("type") != "msg":
                    raise FrameError("type must be msg or typing")
                body = message_body(data.get("body"))
            except (orjson.JSONDecodeError, FrameError) as error:
                await websocket.send_text(_frame({"type": "error", "error": str(error)}))
                continue
            # Cached (a read every few seconds): a hop to a thread costs more than the lookup.
            shop = store.cached_shop(shop_id)
            done = None
            if shop is not None:
                job = reply_job(Chats(store), shop, conversation_id, body, agent_id(session))
                done = await writer_of(websocket.app.state).run(job)
            if done is None:
                await websocket.send_text(
                    _frame({"type": "error", "error": "no such conversation"})
                )
                continue
            await publish(websocket.app.state, *done)
    except WebSocketDisconnect:
        pass
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await hub.unsubscribe(channel, queue)


def console_routes() -> list[BaseRoute]:
    return [
        Route("/chat", chat_page, methods=["GET"]),
        Route("/chat/hours", save_hours, methods=["POST"]),
        Route("/chat/static/{name}", agent_static, methods=["GET"]),
        WebSocketRoute("/chat/ws", agent_socket),
        Route("/chat/{conversation_id}/reply", reply, methods=["POST"]),
        Route("/chat/{conversation_id}/resolve", resolve, methods=["POST"]),
        Route("/chat/{conversation_id}/reopen", reopen, methods=["POST"]),
    ]
