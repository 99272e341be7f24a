"""``Client``: one daemon thread sends batches; callers only validate and append.

The worker wakes on a full batch or every ``flush_interval``, sends due retries and new
batches one after the other (a batch in backoff waits in ``_pending`` while later batches
go out), and drains at interpreter exit or SIGTERM within ``shutdown_timeout``.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from types import FrameType, TracebackType
from typing import Any

import httpx

from . import _core
from ._base import BaseClient, payload_of
from ._core import Batch, Entry

log = logging.getLogger("cx_sdk")

_CLIENTS: weakref.WeakSet[Client] = weakref.WeakSet()
_sigterm_installed = False
_previous_sigterm: Any = None


def _close_all() -> None:
    for client in list(_CLIENTS):
        client.close()


atexit.register(_close_all)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _close_all()
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _install_sigterm() -> None:
    """Drain on SIGTERM too (atexit does not run on a default SIGTERM); chain the old handler."""
    global _sigterm_installed, _previous_sigterm
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        _previous_sigterm = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        return
    _sigterm_installed = True


class Client(BaseClient):
    """Thread-backed client. ``track()`` never blocks; ``flush()`` / ``close()`` do."""

    def __init__(
        self,
        write_key: str,
        endpoint: str = "http://127.0.0.1:8000",
        *,
        drain_on_sigterm: bool = True,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(write_key, endpoint, **options)
        self._transport = transport
        self._event = threading.Event()
        self._idle_cond = threading.Condition()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._busy = False
        self._in_flight = 0
        self._slots = threading.Semaphore(max(1, self.options.max_in_flight))
        self._senders: ThreadPoolExecutor | None = None
        self._http: httpx.Client | None = None
        _CLIENTS.add(self)
        if not self.options.sync_mode:
            self._client()  # building the connection pool (SSL context) is not the caller's cost
        if drain_on_sigterm:
            _install_sigterm()
        if self._orphans_left:
            self._ensure_worker()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- worker management ----------------------------------------------------------------

    def _ensure_worker(self) -> None:
        if self._thread is not None or self.options.sync_mode:
            return
        with self._start_lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="cx-sdk", daemon=True)
                self._thread.start()

    def _wake(self) -> None:
        self._ensure_worker()
        self._event.set()

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                timeout=self.options.timeout, transport=self._transport, auth=self._auth()
            )
        return self._http

    def _after_fork(self) -> None:
        super()._after_fork()
        self._event = threading.Event()
        self._idle_cond = threading.Condition()
        self._start_lock = threading.Lock()
        self._thread = None
        self._busy = False
        self._in_flight = 0
        self._slots = threading.Semaphore(max(1, self.options.max_in_flight))
        self._senders = None
        self._http = None  # the parent's sockets are not ours

    def _run(self) -> None:
        limit = max(self.options.batch_size * 8, 1000)
        while True:
            next_due = self._next_due()
            wait = self.options.flush_interval
            if next_due is not None:
                wait = max(0.0, min(wait, next_due - time.monotonic()))
            ready = self._stopping or len(self._queue) >= self.options.batch_size
            if not (self._queue and ready):
                self._event.wait(wait)
            self._event.clear()
            self._busy = True
            try:
                self._cycle(limit)
            except Exception:
                log.exception("cx_sdk: worker cycle failed")
            finally:
                self._busy = False
            with self._idle_cond:
                self._idle_cond.notify_all()
            if self._stopping and (self._idle() or self._closed):
                return

    def _cycle(self, limit: int) -> None:
        for batch in self._due(time.monotonic()):
            self._dispatch(batch)
        while self._queue or self._orphans_left:
            for batch in self._collect(limit):
                self._dispatch(batch)
            for batch in self._due(time.monotonic()):
                self._dispatch(batch)
            if self._closed:
                break
        # Wait for the sends of this cycle, so idle means "nothing in flight".
        for _ in range(max(1, self.options.max_in_flight)):
            self._slots.acquire()
        for _ in range(max(1, self.options.max_in_flight)):
            self._slots.release()

    def _dispatch(self, batch: Batch) -> None:
        """Send on a small pool so encoding the next batch overlaps the collector's work."""
        if self.options.max_in_flight <= 1:
            self._send(batch)
            return
        if self._senders is None:
            self._senders = ThreadPoolExecutor(self.options.max_in_flight, "cx-sdk-send")
        self._slots.acquire()
        with self._plock:
            self._in_flight += 1
        try:
            self._senders.submit(self._send_released, batch)
        except RuntimeError:
            self._slots.release()
            with self._plock:
                self._in_flight -= 1
            self._send(batch)

    def _send_released(self, batch: Batch) -> None:
        try:
            self._send(batch)
        except Exception:
            log.exception("cx_sdk: send failed")
        finally:
            with self._plock:
                self._in_flight -= 1
            self._slots.release()

    def _send(self, batch: Batch) -> None:
        now = time.monotonic()
        if not batch.first_try:
            batch.first_try = now
        status: int | None = None
        headers: dict[str, str] = {}
        payload: Any = None
        content = _core.body((e.data for e in batch.entries), time.time(), self.options.gzip)
        try:
            response = self._client().post(self._url, content=content, headers=self._headers())
            status = response.status_code
            headers = {k.lower(): v for k, v in response.headers.items()}
            payload = payload_of(status, response.content)
        except httpx.HTTPError as error:
            log.debug("cx_sdk: sending failed: %s", error)
        verdict = _core.judge(batch, status, headers, payload, self.options)
        self._settle(batch, verdict, time.monotonic())

    def _send_sync_now(self, entry: Entry) -> None:
        """``sync_mode``: send in the caller, retrying until done or out of time."""
        self._pending.append(Batch([entry]))
        while self._pending:
            now = time.monotonic()
            due = self._due(now)
            if not due:
                next_due = self._next_due()
                time.sleep(max(0.0, (next_due or now) - now))
                continue
            for batch in due:
                self._send(batch)

    # --- public -----------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued; True when nothing is left (pending retries count as left)."""
        if self.options.sync_mode:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake()
        with self._idle_cond:
            while not (self._idle() and not self._busy):
                if self._thread is None or not self._thread.is_alive():
                    return self._idle()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._event.set()
                self._idle_cond.wait(0.05 if remaining is None else min(remaining, 0.05))
        return True

    def close(self, timeout: float | None = None) -> int:
        """Drain within ``timeout`` (default ``shutdown_timeout``); returns events not sent."""
        if self._closed:
            return 0
        timeout = self.options.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        self._stopping = True
        self._event.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(max(0.0, deadline - time.monotonic()))
        elif not self._idle() and not self.options.sync_mode:
            self._cycle(max(self.options.batch_size * 8, 1000))
        self._closed = True
        left = self._leftovers()
        if thread is not None and thread.is_alive():
            thread.join(0.5)
        if self._senders is not None:
            self._senders.shutdown(wait=False)
        if self._http is not None and (thread is None or not thread.is_alive()):
            self._http.close()
        if self._spool is not None and (thread is None or not thread.is_alive()):
            self._spool.close()
        _CLIENTS.discard(self)
        return left
