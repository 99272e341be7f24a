"""The widget endpoints under ``/widgets``: loader, stylesheet, fragments, answers, clicks.

Fragments are fetched cross-origin from the shop's pages, without credentials: nothing here
reads or sets a cookie, so nothing is stored in the shopper's browser before consent.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import anyio.to_thread
import orjson
from anyio import CapacityLimiter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ..events import Context, Track
from ..server.settings import Settings
from ..server.store import Shop, Store
from . import i18n, tracking
from .config import WidgetSettings
from .framework import RenderContext
from .registry import WIDGETS, settings_for
from .survey import AnswerError, answer
from .tokens import TokenError, has_shop_key, shop_key, verify

STATIC = Path(__file__).parent / "static"
MAX_FORM_BYTES = 16 * 1024
MAX_EVENT_BYTES = 2 * 1024
# What a loader's click report may say (``data-cx-track`` in a template); anything else is
# refused.
ACTIONS = frozenset({"tracking_link_clicked"})

T = TypeVar("T")
_LIMITER: CapacityLimiter | None = None


async def run_in_threadpool(work: Callable[[], T]) -> T:
    """Blocking store work on a few threads only: many threads each giving up the GIL at
    every query convoy behind each other and lose throughput."""
    global _LIMITER
    if _LIMITER is None:
        _LIMITER = CapacityLimiter(int(os.environ.get("CX_WIDGET_THREADS", "4")))
    return await anyio.to_thread.run_sync(work, limiter=_LIMITER)


_PUBLIC = {"Access-Control-Allow-Origin": "*", "X-Content-Type-Options": "nosniff"}


@cache
def static_file(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def first_load_bytes() -> dict[str, int]:
    """Gzipped size of everything a storefront loads on first paint (the 10 KB budget)."""
    return {
        name: len(gzip.compress(static_file(name), compresslevel=9))
        for name in ("loader.js", "widgets.css")
    }


def _error(status: int, text: str) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status, headers=_PUBLIC)


def _shop_or_none(request: Request) -> Shop | None:
    store: Store = request.app.state.store
    shop_id = request.path_params["shop_id"]
    if len(shop_id) > 40 or "\x00" in shop_id:
        return None
    # Cached for a few seconds like write keys; a shop whose signing key is not created yet
    # is read fresh, so that no worker creates a second one from a stale copy.
    shop = store.cached_shop(shop_id)
    if shop is not None and has_shop_key(request.app.state.settings, shop):
        return shop
    return store.get_shop(shop_id)


def _settings(request: Request) -> WidgetSettings:
    store: Store = request.app.state.store
    return settings_for(store)


def _base(request: Request, shop_id: str) -> str:
    settings: Settings = request.app.state.settings
    return f"{settings.public_url.rstrip('/')}/widgets/{shop_id}"


def _hints(request: Request) -> tuple[str | None, str | None]:
    """Accept-Language and Sec-Fetch-Mode (the first of each, as ``request.headers.get``
    gives them) in one pass over the request's headers, whose names ASGI gives lower-cased."""
    accept_language: str | None = None
    fetch_mode: str | None = None
    for name, value in request.scope["headers"]:
        if name == b"accept-language" and accept_language is None:
            accept_language = value.decode("latin-1")
        elif name == b"sec-fetch-mode" and fetch_mode is None:
            fetch_mode = value.decode("latin-1")
    return accept_language, fetch_mode


def _context(request: Request, shop: Shop, widget: str, params: dict[str, str]) -> RenderContext:
    state = request.app.state
    store: Store = state.store
    settings: Settings = state.settings
    widgets = settings_for(store)
    accept_language, fetch_mode = _hints(request)
    locale = i18n.negotiate(params.get("locale"), accept_language, shop.default_locale)
    client = request.scope.get("client")
    return RenderContext(
        store=store,
        settings=settings,
        shop=shop,
        locale=locale,
        config=widgets.get(shop.id, widget),
        widgets=widgets,
        key=shop_key(store, settings, shop),
        params=params,
        base=_base(request, shop.id),
        # A browser navigating here (a no-JS form post from an embedded fragment, or a link)
        # gets a whole page; the loader's fetch gets the fragment.
        page=params.get("format") == "page" or fetch_mode == "navigate",
        now=datetime.now(UTC),
        client=client[0] if client else "",
    )


@cache
def _html_headers(locale: str, origin: str | None) -> tuple[tuple[bytes, bytes], ...]:
    """The headers of a fragment (``origin`` None) or of a page, encoded once: they depend on
    the locale and the public URL only, and building them cost more than rendering a hit."""
    headers = {
        **_PUBLIC,
        "Cache-Control": "no-store",
        "Content-Language": locale,
        "Vary": "Accept-Language, Sec-Fetch-Mode",
    }
    if origin is not None:
        headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src {origin}/widgets/; img-src 'self'; "
            f"form-action {origin}/widgets/; base-uri 'none'; frame-ancestors 'self'"
        )
    return tuple(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    )


class _Html(Response):
    """A fragment or page with the headers ``_html_headers`` encoded once: Starlette's own
    header building cost more than sending a cached fragment."""

    def __init__(self, body: str, status: int, headers: tuple[tuple[bytes, bytes], ...]) -> None:
        self.status_code = status
        self.background = None
        self.body = body.encode()
        self.raw_headers = [(b"content-length", b"%d" % len(self.body)), _HTML_TYPE, *headers]


_HTML_TYPE = (b"content-type", b"text/html; charset=utf-8")


def _html(ctx: RenderContext, body: str, status: int = 200) -> Response:
    origin = None
    if ctx.page:
        body = ctx.render("page.html", body=body, title=ctx.config.widget)
        origin = ctx.settings.public_url.rstrip("/")
    return _Html(body, status, _html_headers(ctx.locale, origin))


def clean(value: str, limit: int) -> str:
    """Bounded, without NUL (PostgreSQL text cannot hold it, and no shopper types it)."""
    return value[:limit].replace("\x00", "")


# Parsed queries by their bytes: a storefront asks for the same few fragments over and over,
# and parsing one cost more than the rest of a cached render. Bounded by clearing.
_QUERIES: dict[bytes, dict[str, str]] = {}


def _params(request: Request) -> dict[str, str]:
    """The query as ``request.query_params`` reads it (the same ``parse_qsl``, the last of a
    repeated name wins), without building its multi-dict: on every render. A copy, so no
    render can change what the next one reads."""
    raw: bytes = request.scope["query_string"]
    parsed = _QUERIES.get(raw)
    if parsed is None:
        query = raw.decode("latin-1")
        parsed = {
            name: clean(value, 500) for name, value in parse_qsl(query, keep_blank_values=True)
        }
        if len(raw) <= 2048:
            if len(_QUERIES) >= 4096:
                _QUERIES.clear()
            _QUERIES[raw] = parsed
    return dict(parsed)


async def fragment(request: Request) -> Response:
    name = request.path_params["widget"]
    widget = WIDGETS.get(name)
    if widget is None:
        return _error(404, f"no widget {name!r}; one of {', '.join(WIDGETS)}")

    def work(inline: bool) -> Response | None:
        shop = _shop_or_none(request)
        if shop is None:
            return _error(404, "unknown shop")
        if inline and not has_shop_key(request.app.state.settings, shop):
            return None  # creating the key writes: not on the event loop
        ctx = _context(request, shop, name, _params(request))
        if not ctx.config.enabled:
            return Response(status_code=204, headers=_PUBLIC)
        body = widget.render(ctx)
        if body is None:
            return Response(status_code=204, headers=_PUBLIC)
        return _html(ctx, body)

    store: Store = request.app.state.store
    if widget.read_only and store.dialect == "sqlite":
        # Embedded SQLite answers these indexed point reads in microseconds and WAL readers
        # never wait for a writer, so a read-only render costs less on the event loop than
        # a thread hop (bench/widgets.py: +45 % throughput, half the p99).
        response = work(inline=True)
        if response is not None:
            return response
    threaded = await run_in_threadpool(lambda: work(inline=False))
    assert threaded is not None
    return threaded


def forget_typed_input(store: Store, settings: Settings) -> None:
    """The periodic job (every ``CX_PERIODIC_SECONDS``): parsed queries and the tracking
    widget's memos hold what shoppers typed, emails included; each run drops them."""
    _QUERIES.clear()
    tracking.forget_typed_input()


async def fast_fragment(path: str, scope: Scope, receive: Receive, send: Send) -> bool:
    """``fragment`` for ``GET /widgets/{shop_id}/{widget}``, called by the collector ahead of
    Starlette's middleware and routing (``server.app.Collector``); anything else under
    /widgets (the loader, the stylesheet, an unknown widget's 404) is left to the routes."""
    shop_id, _, name = path.partition("/")
    if not shop_id or name not in WIDGETS:
        return False
    scope["path_params"] = {"shop_id": shop_id, "widget": name}
    response = await fragment(Request(scope, receive))
    await response(scope, receive, send)
    return True


async def survey_answer(request: Request) -> Response:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return _error(413, f"form is over the limit of {MAX_FORM_BYTES} bytes")
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return _error(415, "send the survey as application/x-www-form-urlencoded")
    form = {key: clean(str(value), 5000) for key, value in (await request.form()).items()}

    def work() -> Response:
        shop = _shop_or_none(request)
        if shop is None:
            return _error(404, "unknown shop")
        ctx = _context(request, shop, "survey", {**_params(request), **form})
        try:
            html = answer(ctx, form)
        except AnswerError as error:
            return _error(400, str(error))
        return _html(ctx, html)

    return await run_in_threadpool(work)


async def widget_event(request: Request) -> Response:
    """A click the loader reports (only with the shopper's consent): a custom track event
    tied to the rendered widget's signed token, so nobody can post events for others."""
    body = await request.body()
    if len(body) > MAX_EVENT_BYTES:
        return _error(413, f"event is over the limit of {MAX_EVENT_BYTES} bytes")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _error(400, 'body must be JSON: {"t": token, "action": name}')
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        return _error(400, 'body must be JSON: {"t": token, "action": name}')
    action = data.get("action")
    if action not in ACTIONS:
        return _error(400, f"action must be one of {', '.join(sorted(ACTIONS))}")

    def work() -> Response:
        shop = _shop_or_none(request)
        if shop is None:
            return _error(404, "unknown shop")
        store: Store = request.app.state.store
        key = shop_key(store, request.app.state.settings, shop)
        try:
            token = verify(key, "widget", data["t"])
        except TokenError as error:
            return _error(400, f"widget token: {error}")
        if token.get("s") != shop.id:
            return _error(400, "widget token: issued for another shop")
        properties: dict[str, Any] = {"widget": token.get("w"), "action": action}
        if token.get("o"):
            properties["order_id"] = token["o"]
        event = Track(
            event="Widget Interaction",
            user_id=token.get("u") or None,
            anonymous_id=None if token.get("u") else f"widget-{token.get('o')}",
            properties=properties,
            context=Context.model_validate(
                {"channel": "web", "consent": {"categoryPreferences": {"Analytics": True}}}
            ),
        )
        store.ingest(shop.id, [event.to_wire()])
        return Response(status_code=204, headers=_PUBLIC)

    return await run_in_threadpool(work)


def _static(name: str, media_type: str, extra: bytes = b"") -> Response:
    content = static_file(name) + extra
    etag = hashlib.sha256(content).hexdigest()[:16]
    return Response(
        content,
        media_type=media_type,
        headers={**_PUBLIC, "Cache-Control": "public, max-age=300", "ETag": f'"{etag}"'},
    )


async def loader(request: Request) -> Response:
    return _static("loader.js", "text/javascript")


async def stylesheet(request: Request) -> Response:
    """The base stylesheet plus this shop's colours as custom properties (validated hex, so
    nothing a merchant types can break out of the declaration)."""

    def work() -> bytes:
        shop = _shop_or_none(request)
        if shop is None:
            return b""
        rules = []
        for config in _settings(request).all(shop.id):
            colours = ";".join(f"--cx-{key}:{value}" for key, value in config.colours.items())
            rules.append(f'.cx-w[data-cx-widget="{config.widget}"]{{{colours}}}')
        return ("\n" + "\n".join(rules) + "\n").encode()

    return _static("widgets.css", "text/css", await run_in_threadpool(work))


def routes() -> list[BaseRoute]:
    return [
        Route("/{shop_id}/loader.js", loader, methods=["GET"]),
        Route("/{shop_id}/widgets.css", stylesheet, methods=["GET"]),
        Route("/{shop_id}/events", widget_event, methods=["POST"]),
        Route("/{shop_id}/survey", survey_answer, methods=["POST"]),
        Route("/{shop_id}/{widget}", fragment, methods=["GET"]),
    ]
