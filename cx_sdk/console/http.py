"""The merchant console at ``/console``: sign in with the shop's admin token, then switch and
configure the widgets of that one shop.

The session is a signed cookie (HttpOnly, SameSite=Strict, Secure behind https, 8 hours);
every form carries a CSRF token derived from the session, and a cross-origin POST is refused
before anything else happens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..server import parts
from ..server.settings import Settings
from ..server.store import Shop, Store, hash_key
from ..widgets import i18n
from ..widgets.config import (
    COLOUR_KEYS,
    N_,
    PLACEMENTS,
    TEXT_KEYS,
    TRIGGERS,
    ConfigError,
    SurveyConfig,
    personas,
)
from ..widgets.registry import WIDGETS, settings_for
from ..widgets.tokens import TokenError, sign, verify

COOKIE = "cx_console"
# The console's menu: its home, then the pages of the optional parts, as (path, label msgid).
NAV: tuple[tuple[str, str], ...] = (("/", N_("Widgets")), *parts.collect("console_nav"))
SESSION_SECONDS = 8 * 3600
MAX_FORM_BYTES = 32 * 1024
STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def console_key(request: Request) -> bytes:
    """Derived from ``CX_SECRET_KEY``; without it, random per process (sessions then end when
    the process does, which is the documented trade-off)."""
    settings: Settings = request.app.state.settings
    if settings.secret_key:
        return hmac.new(settings.secret_key.encode(), b"console", hashlib.sha256).digest()
    key: bytes | None = getattr(request.app.state, "console_key", None)
    if key is None:
        key = secrets.token_bytes(32)
        request.app.state.console_key = key
    return key


def csrf_token(key: bytes, session: dict[str, Any]) -> str:
    return hmac.new(key, f"csrf.{session['n']}".encode(), hashlib.sha256).hexdigest()


def _key_mark(key: bytes, key_hash: str) -> str:
    """Which admin token a session was opened with, without putting its hash in the cookie."""
    return hmac.new(key, f"admin.{key_hash}".encode(), hashlib.sha256).hexdigest()[:32]


def session_of(request: Request) -> dict[str, Any] | None:
    """The signed session, as long as the admin token it was opened with is not rotated."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    key = console_key(request)
    try:
        session = verify(key, "console-session", raw)
    except TokenError:
        return None
    mark = session.get("k")
    if not isinstance(mark, str):
        return None
    store: Store = request.app.state.store
    live = store.live_key_hashes(str(session.get("s")), "admin")
    if not any(hmac.compare_digest(mark, _key_mark(key, digest)) for digest in live):
        return None
    return session


def locale_of(request: Request, shop: Shop | None) -> str:
    return i18n.negotiate(
        request.query_params.get("locale"),
        request.headers.get("accept-language"),
        shop.default_locale if shop else None,
    )


def page(request: Request, template: str, status: int = 200, **values: Any) -> Response:
    locale = values.pop("locale", None) or locale_of(request, values.get("shop"))
    context = {
        "root": request.scope.get("root_path", ""),
        "q": f"?locale={locale}",
        "nav": NAV,
        **values,
    }
    html = i18n.render(template, locale, context)
    return Response(html, status_code=status, media_type="text/html", headers=SECURITY_HEADERS)


def refuse(request: Request, status: int, message: str) -> Response:
    """A refusal the merchant can read, in their language, with a way back."""
    locale = locale_of(request, None)
    text = i18n.translations(locale).gettext(message)
    return page(request, "console_error.html", status=status, message=text, locale=locale)


def _same_origin(request: Request) -> bool:
    """Browsers send Origin with every form POST; one that is not ours is a forged request."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def read_form(request: Request) -> FormData | Response:
    if not _same_origin(request):
        return refuse(request, 403, N_("Forms sent from other sites are refused."))
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        return refuse(request, 413, N_("The form is too large."))
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return refuse(request, 415, N_("Please send the form from the console page."))
    form = await request.form()
    if any("\x00" in str(value) for value in form.values()):
        return refuse(request, 400, N_("Form values must not contain NUL characters."))
    return form


def authorised(request: Request, form: FormData) -> dict[str, Any] | Response:
    session = session_of(request)
    if session is None:
        return refuse(
            request,
            401,
            N_("Your console session is missing or has expired. Please sign in again."),
        )
    given = str(form.get("csrf", ""))
    if not hmac.compare_digest(given.encode(), csrf_token(console_key(request), session).encode()):
        return refuse(
            request, 403, N_("This form has expired. Please reload the page and try again.")
        )
    return session


async def signed_form(request: Request) -> tuple[FormData, dict[str, Any]] | Response:
    """The posted form and the session it was sent from, or the refusal to answer with:
    every console form goes through these checks (origin, size, type, session, CSRF)."""
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    session = authorised(request, form)
    if isinstance(session, Response):
        return session
    return form, session


def _home_url(request: Request, **query: str) -> str:
    root = request.scope.get("root_path", "")
    chosen = i18n.supported(request.query_params.get("locale"))
    if chosen:
        query = {"locale": chosen, **query}
    suffix = "&".join(f"{key}={quote(value)}" for key, value in query.items())
    return f"{root}/" + (f"?{suffix}" if suffix else "")


async def home(request: Request) -> Response:
    session = session_of(request)
    store: Store = request.app.state.store
    if session is None:
        return page(request, "console_login.html", csrf="", shop=None)
    return await run_in_threadpool(_dashboard, request, store, session, None, None)


def _dashboard(
    request: Request,
    store: Store,
    session: dict[str, Any],
    error: ConfigError | None,
    error_target: str | None,
    status: int = 200,
) -> Response:
    shop = store.get_shop(str(session["s"]))
    if shop is None:
        return refuse(request, 404, N_("This shop no longer exists."))
    locale = locale_of(request, shop)
    widgets = settings_for(store)
    saved = request.query_params.get("saved", "")
    return page(
        request,
        "console_home.html",
        status=status,
        shop=shop,
        csrf=csrf_token(console_key(request), session),
        widgets=widgets.all(shop.id),
        surveys=widgets.surveys(shop.id),
        placements=PLACEMENTS,
        triggers=TRIGGERS,
        personas=personas(),
        colour_keys=COLOUR_KEYS,
        text_keys=TEXT_KEYS,
        locales=i18n.LOCALES,
        saved=saved if saved in WIDGETS or saved.startswith("survey:") else "",
        error=error.translated(i18n.translations(locale).gettext) if error else None,
        error_target=error_target,
        locale=locale,
    )


async def login(request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    token = str(form.get("token", "")).strip()
    store: Store = request.app.state.store
    shop_id = await run_in_threadpool(store.shop_for_key, token, "admin") if token else None
    if shop_id is None:
        return page(request, "console_login.html", status=401, csrf="", shop=None, failed=True)
    value = sign(
        console_key(request),
        "console-session",
        {
            "s": shop_id,
            "n": secrets.token_hex(16),
            "k": _key_mark(console_key(request), hash_key(token)),
        },
        ttl_seconds=SESSION_SECONDS,
    )
    response = RedirectResponse(_home_url(request), status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path=request.scope.get("root_path") or "/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def logout(request: Request) -> Response:
    checked = await signed_form(request)
    if isinstance(checked, Response):
        return checked
    response = RedirectResponse(_home_url(request), status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(COOKIE, path=request.scope.get("root_path") or "/")
    return response


def _int(form: FormData, name: str) -> int:
    raw = str(form.get(name, "")).strip()
    if not (raw.isascii() and raw.lstrip("-").isdigit()):
        raise ConfigError(N_("delay and cap must be whole numbers of days"))
    return int(raw)


async def save_widget(request: Request) -> Response:
    checked = await signed_form(request)
    if isinstance(checked, Response):
        return checked
    form, session = checked
    name = request.path_params["name"]
    if name not in WIDGETS:
        return refuse(request, 404, N_("There is no widget with this name."))
    store: Store = request.app.state.store

    def work() -> Response:
        widgets = settings_for(store)
        shop_id = str(session["s"])
        current = widgets.stored(shop_id, name)
        config = replace(
            current,
            enabled=form.get("enabled") == "on",
            placement=str(form.get("placement", current.placement)),
            texts={
                locale: {key: str(form.get(f"text_{locale}_{key}", "")) for key in TEXT_KEYS}
                for locale in i18n.LOCALES
            },
            colours={key: str(form.get(f"colour_{key}", "")) for key in COLOUR_KEYS},
        )
        try:
            widgets.save(shop_id, config)
        except ConfigError as error:
            return _dashboard(request, store, session, error, name, status=400)
        return RedirectResponse(_home_url(request, saved=name), status_code=303)

    return await run_in_threadpool(work)


async def save_survey(request: Request) -> Response:
    checked = await signed_form(request)
    if isinstance(checked, Response):
        return checked
    form, session = checked
    store: Store = request.app.state.store
    survey_id = str(request.path_params.get("survey_id") or form.get("survey_id", "")).strip()

    def work() -> Response:
        widgets = settings_for(store)
        shop_id = str(session["s"])
        try:
            survey = SurveyConfig(
                survey_id=survey_id,
                survey_type=str(form.get("survey_type", "")),
                trigger=str(form.get("trigger", "")),
                delay_days=_int(form, "delay_days"),
                cap_days=_int(form, "cap_days"),
                enabled=form.get("enabled") == "on",
                question={
                    locale: str(form.get(f"question_{locale}", "")) for locale in i18n.LOCALES
                },
                segments=tuple(str(name) for name in form.getlist("segments")),
            )
            widgets.save_survey(shop_id, survey)
        except ConfigError as error:
            return _dashboard(request, store, session, error, f"survey:{survey_id}", 400)
        return RedirectResponse(_home_url(request, saved=f"survey:{survey_id}"), status_code=303)

    return await run_in_threadpool(work)


async def stylesheet(request: Request) -> Response:
    return Response(
        (STATIC / "console.css").read_bytes(),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


def routes() -> list[BaseRoute]:
    return [
        *parts.collect("console_routes"),
        Route("/", home, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/static/console.css", stylesheet, methods=["GET"]),
        Route("/widgets/{name}", save_widget, methods=["POST"]),
        Route("/surveys", save_survey, methods=["POST"]),
        Route("/surveys/{survey_id}", save_survey, methods=["POST"]),
    ]


__all__ = ["routes"]
