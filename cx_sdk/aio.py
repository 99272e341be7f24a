"""``AsyncClient``: the same hot path, a single asyncio task instead of a thread.

``track()`` stays a plain (non-async) method: it validates, appends and returns, so a
Starlette handler can call it without ``await``. The worker task starts on the first call
made inside a running loop (or on ``async with`` / ``await client.start()``); close it in
the app's lifespan: ``async with AsyncClient(...) as cx: yield``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from types import TracebackType
from typing import Any

import httpx

from . import _core
from ._base import BaseClient, payload_of
from ._core import Batch, Entry

log = logging.getLogger("cx_sdk")


class AsyncClient(BaseClient):
    """asyncio client; no threads. ``flush`` and ``close`` are coroutines."""

    def __init__(
        self,
        write_key: str,
        endpoint: str = "http://127.0.0.1:8000",
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> None:
        if options.get("sync_mode"):
            raise ValueError("sync_mode is for the thread Client; AsyncClient always batches")
        super().__init__(write_key, endpoint, **options)
        self._transport = transport
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._idle_event: asyncio.Event | None = None
        self._stopping = False
        self._busy = False
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> AsyncClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        self._ensure_worker()

    # --- worker management ----------------------------------------------------------------

    def _ensure_worker(self) -> None:
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # queued; the task starts on the next call inside a loop
        if self._closed:
            return
        self._loop = loop
        self._event = asyncio.Event()
        self._idle_event = asyncio.Event()
        self._task = loop.create_task(self._run(), name="cx-sdk")

    def _wake(self) -> None:
        self._ensure_worker()
        event, loop = self._event, self._loop
        if event is None or loop is None:
            return
        try:
            same_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            event.set()
        elif not loop.is_closed():
            # track() from another thread (a sync handler in a threadpool): wake safely.
            loop.call_soon_threadsafe(event.set)

    def _after_fork(self) -> None:
        super()._after_fork()
        self._task = None
        self._loop = None
        self._event = None
        self._idle_event = None
        self._http = None

    def _send_sync_now(self, entry: Entry) -> None:
        raise RuntimeError("AsyncClient has no sync_mode")

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self.options.timeout, transport=self._transport, auth=self._auth()
            )
        return self._http

    async def _run(self) -> None:
        limit = max(self.options.batch_size * 8, 1000)
        assert self._event is not None and self._idle_event is not None
        while True:
            next_due = self._next_due()
            wait = self.options.flush_interval
            if next_due is not None:
                wait = max(0.0, min(wait, next_due - time.monotonic()))
            ready = self._stopping or len(self._queue) >= self.options.batch_size
            if not (self._queue and ready):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._event.wait(), wait)
            self._event.clear()
            self._busy = True
            try:
                await self._cycle(limit)
            except Exception:
                log.exception("cx_sdk: worker cycle failed")
            finally:
                self._busy = False
            if self._idle():
                self._idle_event.set()
            if self._stopping and (self._idle() or self._closed):
                return

    async def _cycle(self, limit: int) -> None:
        for batch in self._due(time.monotonic()):
            await self._send(batch)
        while self._queue or self._orphans_left:
            for batch in self._collect(limit):
                await self._send(batch)
            for batch in self._due(time.monotonic()):
                await self._send(batch)
            if self._closed:
                return

    async def _send(self, batch: Batch) -> None:
        now = time.monotonic()
        if not batch.first_try:
            batch.first_try = now
        status: int | None = None
        headers: dict[str, str] = {}
        payload: Any = None
        content = _core.body((e.data for e in batch.entries), time.time(), self.options.gzip)
        try:
            response = await self._client().post(
                self._url, content=content, headers=self._headers()
            )
            status = response.status_code
            headers = {k.lower(): v for k, v in response.headers.items()}
            payload = payload_of(status, response.content)
        except httpx.HTTPError as error:
            log.debug("cx_sdk: sending failed: %s", error)
        verdict = _core.judge(batch, status, headers, payload, self.options)
        self._settle(batch, verdict, time.monotonic())

    # --- public -----------------------------------------------------------------------------

    async def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued; True when nothing is left (pending retries count as left)."""
        self._wake()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (self._idle() and not self._busy):
            if self._task is None or self._task.done():
                return self._idle()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            assert self._idle_event is not None and self._event is not None
            self._idle_event.clear()
            self._event.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._idle_event.wait(), 0.05 if remaining is None else min(remaining, 0.05)
                )
        return True

    async def close(self, timeout: float | None = None) -> int:
        """Drain within ``timeout`` (default ``shutdown_timeout``); returns events not sent."""
        if self._closed:
            return 0
        timeout = self.options.shutdown_timeout if timeout is None else timeout
        self._stopping = True
        self._wake()
        task = self._task
        if task is not None and not task.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), timeout)
        self._closed = True
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        left = self._leftovers()
        if self._http is not None:
            await self._http.aclose()
        if self._spool is not None:
            self._spool.close()
        return left
