"""``Recommendation Shown`` events off the render path.

A render used to store its impression through a full ingest transaction before answering,
so the fragment waited on a database write (bench/widgets.py: ~100 req/s, p99 ~370 ms).
Now the widget hands the event to a bounded per-process buffer and a background thread
stores the buffer through the ordinary ``Store.ingest`` every ``INTERVAL`` seconds (sooner
when ``BATCH`` are waiting) and once more at shutdown.

Nothing is lost silently: a full buffer refuses the event, counts it in ``dropped`` and logs
the count; a failed write puts its events back (as far as the bound allows) for the next
round. A retried write is harmless: each impression carries a stable messageId, which
ingest deduplicates. The thread only runs while there is something to store.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections import deque
from typing import Any

from ..server.store import Store

log = logging.getLogger("cx.recommend")

CAPACITY = 20_000
INTERVAL = 1.0
BATCH = 500


class Impressions:
    """The buffer of one store in this process (``for_store``)."""

    def __init__(self, store: Store, capacity: int = CAPACITY, interval: float = INTERVAL) -> None:
        # Weak: the registry must not keep a closed store (and its engine) alive.
        self._store = weakref.ref(store)
        self.capacity = capacity
        self.interval = interval
        self.dropped = 0
        self.stored = 0
        self._reported = 0
        self._pending: deque[tuple[str, dict[str, Any]]] = deque()
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, shop_id: str, message: dict[str, Any]) -> bool:
        """Queue one wire message; False (and counted in ``dropped``) when the buffer is
        full. After ``close`` there is no thread any more: the message is stored at once."""
        if self._closed:
            store = self._store()
            if store is not None:
                self._ingest(store, shop_id, [message])
                return True
        start: threading.Thread | None = None
        with self._lock:
            if len(self._pending) >= self.capacity:
                self.dropped += 1
                dropped = self.dropped
            else:
                dropped = 0
                self._pending.append((shop_id, message))
                if len(self._pending) >= BATCH:
                    self._wake.set()
                if self._thread is None or self._pid != os.getpid():
                    # Also after a fork: the parent's thread does not exist in the child.
                    self._pid = os.getpid()
                    self._thread = start = threading.Thread(
                        target=self._run, name="cx-recommend-impressions", daemon=True
                    )
        if dropped:
            if dropped == 1 or dropped % 1000 == 0:
                log.warning("recommendation impressions: buffer full, %d dropped so far", dropped)
            return False
        if start is not None:
            start.start()
        return True

    def flush(self) -> int:
        """Store everything queued now, grouped by shop, ``BATCH`` per ingest call; returns
        how many were stored. Safe to call from any thread (tests call it directly)."""
        with self._flushing:
            with self._lock:
                batch = list(self._pending)
                self._pending.clear()
            store = self._store()
            if store is None:
                self._count_lost(len(batch), "its store is gone")
                return 0
            by_shop: dict[str, list[dict[str, Any]]] = {}
            for shop_id, message in batch:
                by_shop.setdefault(shop_id, []).append(message)
            stored = 0
            chunks = [
                (shop_id, messages[start : start + BATCH])
                for shop_id, messages in by_shop.items()
                for start in range(0, len(messages), BATCH)
            ]
            for position, (shop_id, chunk) in enumerate(chunks):
                try:
                    stored += self._ingest(store, shop_id, chunk)
                except Exception:
                    log.exception("recommendation impressions: storing failed, retrying later")
                    self._put_back(chunks[position:])
                    break
            self.stored += stored
            if self.dropped > self._reported:
                log.warning(
                    "recommendation impressions: %d dropped (buffer of %d full)",
                    self.dropped - self._reported,
                    self.capacity,
                )
                self._reported = self.dropped
            return stored

    def close(self, timeout: float = 10.0) -> int:
        """At shutdown: stop the thread, store what is left; later events are stored at once."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return self.flush()

    def _ingest(self, store: Store, shop_id: str, messages: list[dict[str, Any]]) -> int:
        try:
            result = store.ingest(shop_id, messages)
        except KeyError:
            self._count_lost(len(messages), f"shop {shop_id} no longer exists")
            return 0
        if result.rejected:
            log.warning(
                "recommendation impressions: %d rejected, e.g. %s",
                len(result.rejected),
                result.rejected[0],
            )
        return len(messages) - len(result.rejected)

    def _put_back(self, chunks: list[tuple[str, list[dict[str, Any]]]]) -> None:
        failed = [(shop_id, message) for shop_id, chunk in chunks for message in chunk]
        with self._lock:
            room = max(self.capacity - len(self._pending), 0)
            kept = failed[:room]
            self._pending.extendleft(reversed(kept))
            self.dropped += len(failed) - len(kept)

    def _count_lost(self, count: int, why: str) -> None:
        if count:
            with self._lock:
                self.dropped += count
            log.warning("recommendation impressions: %d not stored, %s", count, why)

    def _run(self) -> None:
        """Flush every ``interval``; end when a round finds nothing left (``add`` starts a
        new thread with the next event), or after ``close``."""
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._closed:
                return
            try:
                self.flush()
            except Exception:  # flush logs its own failures; this thread must not die
                log.exception("recommendation impressions: flush failed")
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return


_buffers: weakref.WeakKeyDictionary[Store, Impressions] = weakref.WeakKeyDictionary()
_registry = threading.Lock()


def for_store(store: Store) -> Impressions:
    """This process's buffer for ``store`` (one per store, created on first use)."""
    with _registry:
        found = _buffers.get(store)
        if found is None:
            found = _buffers[store] = Impressions(store)
        return found


async def shutdown(state: Any) -> None:
    """The part's ``shutdown()`` hook: store what is still buffered before the app stops."""
    store = getattr(state, "store", None)
    if store is None:
        return
    with _registry:
        found = _buffers.get(store)
    if found is not None:
        await asyncio.to_thread(found.close)
