"""``create_app``: the collector as one Starlette application."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from . import api, ingest, parts
from .checkpoint import Checkpointer
from .follower import Follower
from .follower_process import FollowerProcess, separate
from .group_commit import GroupCommit
from .http import JSONResponse, problem
from .openapi import spec
from .settings import Settings
from .store import Store

log = logging.getLogger("cx.server")


def plugin_routes() -> list[BaseRoute]:
    """The parts' routes: mounted at their prefix, or at the root when the prefix is ""."""
    found: list[BaseRoute] = []
    for prefix, hook in parts.hooks("routes"):
        found.extend(hook() if prefix == "" else [Mount(prefix, routes=hook())])
    return found


# ``(path after the prefix, scope, receive, send) -> answered``
FastRoute = Callable[[str, Scope, Receive, Send], Awaitable[bool]]


def fast_routes() -> list[tuple[str, FastRoute]]:
    """``(path prefix, handler)`` of the parts' ``fast_routes()``, in part order."""
    return [
        (f"{prefix}/", handler) for prefix, hook in parts.hooks("fast_routes") for handler in hook()
    ]


def _route_path(scope: Scope) -> str:
    """The path the routes see: without the ``root_path`` a proxy mounts the collector under,
    as Starlette's routing strips it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] == "/":
        return path[len(root) :]
    return path


class Collector(Starlette):
    """Starlette, plus the parts' fast routes: a storefront's fragment GETs are the most
    frequent request a collector serves, and Starlette's middleware and route matching cost
    more than rendering a cached fragment (``bench/widgets.py``)."""

    def __init__(self, *args: Any, fast: list[tuple[str, FastRoute]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast = fast

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = _route_path(scope)
            for prefix, handler in self.fast:
                if path.startswith(prefix):
                    scope["app"] = self
                    if await handler(path[len(prefix) :], scope, receive, send):
                        return
        await super().__call__(scope, receive, send)


Job = Callable[[Store, Settings], object]


def plugin_jobs() -> list[Job]:
    """Periodic jobs of the optional parts (``periodic()`` in their module)."""
    return list(parts.collect("periodic"))


async def _every(seconds: float, jobs: list[Job], store: Store, settings: Settings) -> None:
    """Run every job each ``seconds``; a failing job is logged and does not stop the others."""
    while True:
        await asyncio.sleep(seconds)
        for job in jobs:
            try:
                await run_in_threadpool(job, store, settings)
            except Exception:
                log.exception("periodic job %s failed", getattr(job, "__name__", job))


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return problem(error.status_code, str(error.detail))


async def _openapi(request: Request) -> JSONResponse:
    return JSONResponse(spec(request.app.state.settings))


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None, store: Store | None = None) -> Collector:
    """The collector. ``store`` is opened from ``settings.database_url`` when not given."""
    settings = settings or Settings.from_env()
    own_store = store is None
    store = store or Store.open(settings.database_url, migrate=settings.migrate_on_start)
    store.key_cache_seconds = settings.key_cache_seconds
    store.defer_projectors = settings.defer_projections

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Everything loaded so far (modules, metadata, compiled catalogs) lives as long as the
        # process: keep it out of the collector's full passes.
        gc.freeze()
        follower: Follower | FollowerProcess | None = None
        if settings.defer_projections:
            if settings.follower_process and separate(app.state.store):
                follower = FollowerProcess(app.state.store)
            else:
                follower = Follower(app.state.store)
            follower.start()
        app.state.follower = follower
        checkpointer = (
            Checkpointer(app.state.store, settings.checkpoint_seconds)
            if app.state.store.dialect == "sqlite" and settings.checkpoint_seconds > 0
            else None
        )
        if checkpointer is not None:
            checkpointer.start()
        ticker = (
            asyncio.create_task(
                _every(settings.periodic_seconds, plugin_jobs(), app.state.store, settings)
            )
            if settings.periodic_seconds > 0
            else None
        )
        yield
        for stop in parts.collect("shutdown"):
            try:
                await stop(app.state)
            except Exception:
                log.exception("shutdown of %s failed", getattr(stop, "__qualname__", stop))
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        if follower is not None:
            await run_in_threadpool(follower.stop)
        if checkpointer is not None:
            await run_in_threadpool(checkpointer.stop)
        if own_store:
            app.state.store.close()

    # The hot paths first (routes are tried in order): the parts (widgets first), whose
    # requests are many and small, then ingest, whose requests carry whole batches.
    routes: list[BaseRoute] = [
        *plugin_routes(),
        *ingest.routes(),
        *api.routes(),
        Route("/healthz", _health, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
    ]
    app = Collector(
        routes=routes,
        fast=fast_routes(),
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.settings = settings
    app.state.store = store
    app.state.group_commit = GroupCommit(store, settings.max_event_bytes)
    return app
