"""``create_app``: the collector as one Starlette application."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from . import api, ingest
from .http import JSONResponse, problem
from .openapi import spec
from .settings import Settings
from .store import Store

log = logging.getLogger("cx.server")

# Optional parts: each module exposes ``routes()``; missing ones are simply not mounted.
PLUGINS = {
    "/integrations/shopify": "cx_sdk.integrations.shopify",
    "/integrations/woocommerce": "cx_sdk.integrations.woocommerce",
    "/widgets": "cx_sdk.widgets",
    "/console": "cx_sdk.console",
}


def plugin_jobs() -> list[Callable[[Store, Settings], object]]:
    """Periodic jobs of the optional parts: ``periodic()`` in their module, if any."""
    jobs: list[Callable[[Store, Settings], object]] = []
    for module_name in PLUGINS.values():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        factory = getattr(module, "periodic", None)
        if callable(factory):
            jobs.extend(factory())
    return jobs


async def run_jobs(store: Store, settings: Settings) -> None:
    """Run every periodic job once; one failing job is logged and does not stop the others."""
    for job in plugin_jobs():
        try:
            await run_in_threadpool(job, store, settings)
        except Exception:
            log.exception("periodic job %s failed", getattr(job, "__name__", job))


async def _every(seconds: float, store: Store, settings: Settings) -> None:
    while True:
        await asyncio.sleep(seconds)
        await run_jobs(store, settings)


def plugin_routes() -> list[BaseRoute]:
    mounted: list[BaseRoute] = []
    for prefix, module_name in PLUGINS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        factory = getattr(module, "routes", None)
        if callable(factory):
            mounted.append(Mount(prefix, routes=factory()))
    return mounted


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return problem(error.status_code, str(error.detail))


async def _openapi(request: Request) -> JSONResponse:
    return JSONResponse(spec(request.app.state.settings))


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None, store: Store | None = None) -> Starlette:
    """The collector. ``store`` is opened from ``settings.database_url`` when not given."""
    settings = settings or Settings.from_env()
    own_store = store is None
    store = store or Store.open(settings.database_url, migrate=settings.migrate_on_start)
    store.key_cache_seconds = settings.key_cache_seconds

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ticker = (
            asyncio.create_task(_every(settings.periodic_seconds, app.state.store, settings))
            if settings.periodic_seconds > 0
            else None
        )
        yield
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        if own_store:
            app.state.store.close()

    routes: list[BaseRoute] = [
        Route("/healthz", _health, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
        *ingest.routes(),
        *api.routes(),
        *plugin_routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.settings = settings
    app.state.store = store
    return app
