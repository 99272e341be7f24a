"""Group commit: ingest requests that arrive while a transaction is being stored are stored
together in the next one.

Batches wait on the event loop instead of in threads, and each transaction takes every batch
that arrived meanwhile (``Store.ingest_many``). A lone request is stored at once; under load one
commit carries several batches: SQLite writes the index and profile pages they share to its log
once, PostgreSQL flushes its log once. One thread stores: threads taking turns at SQLite's one
writer cost more in switching than they overlapped, and on PostgreSQL grouped commits stored a
quarter more than two threads committing side by side (``bench/ingest.py``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import anyio
import anyio.to_thread

from .store import IngestResult, Store

# Batches per transaction at most: a commit of 32 full requests (500 KB each) stays short.
MAX_BATCHES = 32

Call = tuple[str, list[Any], datetime]


class GroupCommit:
    def __init__(self, store: Store, max_event_bytes: int, max_batches: int = MAX_BATCHES) -> None:
        self.store = store
        self.max_event_bytes = max_event_bytes
        self.max_batches = max_batches
        self._waiting: list[tuple[Call, asyncio.Future[IngestResult]]] = []
        self._task: asyncio.Task[None] | None = None
        self._thread = anyio.CapacityLimiter(1)

    async def ingest(self, shop_id: str, messages: list[Any], received: datetime) -> IngestResult:
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        self._waiting.append(((shop_id, messages, received), future))
        if self._task is None:
            self._task = asyncio.create_task(self._store())
        return await future

    async def _store(self) -> None:
        try:
            while self._waiting:
                taken = self._waiting[: self.max_batches]
                del self._waiting[: self.max_batches]
                try:
                    outcomes = await anyio.to_thread.run_sync(
                        self.store.ingest_many,
                        [call for call, _ in taken],
                        self.max_event_bytes,
                        limiter=self._thread,
                    )
                except Exception as error:  # ingest_many answers per call; this is a bug
                    outcomes = [error] * len(taken)
                for (_, future), outcome in zip(taken, outcomes, strict=True):
                    if future.done():  # the request went away; its batch is stored anyway
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._task = None
