"""The console page ``/console/recommendations``: strategy and count per placement, and the
products never to recommend."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..console.http import console_key, csrf_token, page, refuse, signed_form
from ..console.http import session_of as console_session
from ..server.store import Store
from ..widgets import i18n
from ..widgets.config import N_, ConfigError
from . import settings as rec_settings
from .engine import STRATEGIES

PATH = "/recommendations"


def _page(
    request: Request,
    store: Store,
    session: dict[str, Any],
    chosen: rec_settings.RecSettings | None = None,
    error: ConfigError | None = None,
    status: int = 200,
) -> Response:
    shop = store.get_shop(str(session["s"]))
    if shop is None:
        return refuse(request, 404, N_("This shop no longer exists."))
    locale = i18n.negotiate(
        request.query_params.get("locale"),
        request.headers.get("accept-language"),
        shop.default_locale,
    )
    return page(
        request,
        "recommendations_console.html",
        status=status,
        shop=shop,
        csrf=csrf_token(console_key(request), session),
        current=chosen or rec_settings.load(store.engine, shop.id),
        placements=rec_settings.PLACEMENTS,
        strategies=STRATEGIES,
        max_limit=rec_settings.MAX_LIMIT,
        saved=request.query_params.get("saved") == "1",
        error=error.translated(i18n.translations(locale).gettext) if error else None,
        locale=locale,
    )


async def show(request: Request) -> Response:
    session = console_session(request)
    if session is None:
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/", status_code=303)
    store: Store = request.app.state.store
    return await run_in_threadpool(_page, request, store, session)


async def save(request: Request) -> Response:
    checked = await signed_form(request)
    if isinstance(checked, Response):
        return checked
    form, session = checked
    store: Store = request.app.state.store

    def work() -> Response:
        raw = {
            name: (str(form.get(f"{name}_strategy", "")), str(form.get(f"{name}_limit", "")))
            for name in rec_settings.PLACEMENTS
        }
        excluded = str(form.get("excluded", "")).splitlines()
        try:
            chosen = rec_settings.validate(raw, excluded)
        except ConfigError as error:
            return _page(request, store, session, error=error, status=400)
        rec_settings.save(store.engine, str(session["s"]), chosen)
        root = request.scope.get("root_path", "")
        locale = i18n.supported(request.query_params.get("locale"))
        suffix = f"&locale={locale}" if locale else ""
        return RedirectResponse(f"{root}{PATH}?saved=1{suffix}", status_code=303)

    return await run_in_threadpool(work)


def routes() -> list[BaseRoute]:
    return [Route(PATH, show, methods=["GET"]), Route(PATH, save, methods=["POST"])]
