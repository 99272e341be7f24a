"""Group commit for chat messages: the messages that arrive while one write is under way are
stored together in the next transaction, and their journey events follow after the fan-out.

A message is fanned out only once its transaction has committed, so what a socket has shown
is in the database and a reconnect finds it again by id. Per message the work was one
transaction for the chat row plus one ``Store.ingest`` for its event, each on SQLite's single
writer; under load the messages queued behind each other (a burst of 100 replies took ~1 s).
Now a batch of messages costs one commit, and the events of a whole batch go through one
``Store.ingest`` per shop on their own thread, after the sockets have their frames.
``Chats.catch_up`` re-sends the events a crashed worker had not ingested yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection

from ..server.store import Store
from .conversations import Chats, Event

log = logging.getLogger("cx.chat")
T = TypeVar("T")
# One step of a batch: writes through the batch's connection, returns its result and the
# journey events to ingest once the result is out.
Job = Callable[[Connection], tuple[T, list[Event]]]
# Seconds before a failed event ingest is tried again.
RETRY_SECONDS = 1.0
# Events wait this long for more to join them, and step aside while messages are being
# stored, for at most MAX_EVENT_WAIT; one ingest takes at most EVENT_CHUNK of them.
EVENT_DELAY = 0.05
MAX_EVENT_WAIT = 1.0
EVENT_CHUNK = 50


class _Pending(Generic[T]):
    __slots__ = ("future", "job")

    def __init__(self, job: Job[T], future: asyncio.Future[T]) -> None:
        self.job = job
        self.future = future


class Writer:
    """Runs chat write jobs in batches, one transaction per batch, on a thread of its own (so
    that they never wait behind page renders in the shared pool)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.chats = Chats(store)
        self._queue: list[_Pending[Any]] = []
        self._events: list[Event] = []
        self._writing: asyncio.Task[None] | None = None
        self._ingesting: asyncio.Task[None] | None = None
        self._db = ThreadPoolExecutor(1, thread_name_prefix="cx-chat-write")
        self._lane = ThreadPoolExecutor(1, thread_name_prefix="cx-chat-events")
        # The first batch of this writer also triggers a ``Chats.catch_up``.
        self._sweep_due = True
        self.batches = 0

    async def run(self, job: Job[T]) -> T:
        """Run ``job`` in the next batch; returns once its transaction has committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(job, future))
        if not _alive(self._writing):
            self._writing = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        if self._sweep_due:
            self._events_later(loop)
        while self._queue:
            # One turn of the loop lets the frames that arrived together join this batch.
            await asyncio.sleep(0)
            batch, self._queue = self._queue, []
            try:
                outcomes = await loop.run_in_executor(self._db, self._commit, batch)
            except Exception as error:  # the executor itself: every caller hears of it
                outcomes = [error] * len(batch)
            self.batches += 1
            for pending, outcome in zip(batch, outcomes, strict=True):
                if pending.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    pending.future.set_exception(outcome)
                else:
                    result, events = outcome
                    self._events += events
                    pending.future.set_result(result)
            if self._events:
                self._events_later(loop)

    def _commit(self, batch: list[_Pending[Any]]) -> list[Any]:
        """All jobs in one transaction; when one fails, each job again in its own, so that
        one bad message costs only itself."""
        try:
            with self.store.begin() as conn:
                return [pending.job(conn) for pending in batch]
        except Exception as error:
            if len(batch) == 1:
                return [error]
        outcomes: list[Any] = []
        for pending in batch:
            try:
                with self.store.begin() as conn:
                    outcomes.append(pending.job(conn))
            except Exception as error:
                outcomes.append(error)
        return outcomes

    def _events_later(self, loop: asyncio.AbstractEventLoop) -> None:
        if not _alive(self._ingesting):
            self._ingesting = loop.create_task(self._ingest())

    async def _ingest(self) -> None:
        loop = asyncio.get_running_loop()
        if self._sweep_due:
            self._sweep_due = False
            await self._sweep(loop)
        while self._events:
            # Gather the events of the next few messages into one ingest, and let messages
            # that are waiting to be stored go first (on SQLite both need the one writer).
            await asyncio.sleep(EVENT_DELAY)
            waited = 0.0
            while _alive(self._writing) and waited < MAX_EVENT_WAIT:
                await asyncio.sleep(EVENT_DELAY)
                waited += EVENT_DELAY
            events, self._events = self._events[:EVENT_CHUNK], self._events[EVENT_CHUNK:]
            try:
                await loop.run_in_executor(self._lane, self.chats.ingest, events)
            except ValueError:
                log.exception("chat: journey events refused")
            except Exception:
                log.exception("chat: storing journey events failed; retrying")
                self._events = events + self._events
                await asyncio.sleep(RETRY_SECONDS)

    async def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Once per writer: the events a previous worker died before ingesting."""
        try:
            await loop.run_in_executor(self._lane, lambda: self.chats.catch_up(datetime.now(UTC)))
        except Exception:
            log.exception("chat: catching up on journey events failed")

    async def flush(self) -> None:
        """Wait until every queued message is stored and every event ingested."""
        while True:
            running = [
                task
                for task in (self._writing, self._ingesting)
                if task is not None and _alive(task)
            ]
            if not running and not self._queue and not self._events:
                return
            if not running:
                loop = asyncio.get_running_loop()
                if self._queue:
                    self._writing = loop.create_task(self._write())
                if self._events:
                    self._events_later(loop)
                continue
            await asyncio.gather(*running, return_exceptions=True)

    async def close(self) -> None:
        await self.flush()
        self._db.shutdown(wait=True)
        self._lane.shutdown(wait=True)


def _alive(task: asyncio.Task[Any] | None) -> bool:
    """A task that still runs in this event loop (tests start a loop per client)."""
    if task is None or task.done():
        return False
    try:
        return task.get_loop() is asyncio.get_running_loop()
    except RuntimeError:
        return False


def catch_up(store: Store, settings: Any) -> None:
    """The periodic job (every ``CX_PERIODIC_SECONDS``): events a dead worker left behind."""
    sent = Chats(store).catch_up(datetime.now(UTC))
    if sent:
        log.info("chat: re-sent %d journey events", sent)


def writer_of(state: Any) -> Writer:
    """The application's writer, made on first use."""
    writer: Writer | None = getattr(state, "chat_writer", None)
    if writer is None:
        writer = state.chat_writer = Writer(state.store)
    return writer


async def close_writer(state: Any) -> None:
    """Called when the application stops: nothing queued is left behind."""
    writer: Writer | None = getattr(state, "chat_writer", None)
    if writer is not None:
        await writer.close()
    state.chat_writer = None
