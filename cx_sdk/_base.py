"""The part of both clients that does not care about threads or asyncio.

Hot path: ``track`` / ``identify`` / ``page`` / ``alias`` validate, append to a deque and
return. The worker (a thread or a task, see ``client.py`` / ``aio.py``) calls ``_collect``
to encode and pack batches and ``_settle`` to apply the collector's answer.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from . import _core
from ._core import Batch, Entry, Options, Stats, Verdict, safe_call
from .events import EventError, Message, Problem
from .spool import Spool

log = logging.getLogger("cx_sdk")

_LIVE: weakref.WeakSet[BaseClient] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    _core.IDS.reseed()
    for client in list(_LIVE):
        client._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class BaseClient:
    """Shared state and the non-blocking hot path."""

    def __init__(self, write_key: str, endpoint: str = "http://127.0.0.1:8000", **kwargs: Any):
        self.options = Options(write_key=write_key, endpoint=endpoint.rstrip("/"), **kwargs)
        self._url = self.options.endpoint + "/v1/batch"
        self._context = _core.base_context(self.options.context)
        if self.options.validate_in not in ("caller", "worker"):
            raise ValueError("validate_in must be 'caller' or 'worker'")
        # strict callers want the exception, so they validate in the call.
        self._validate_now = self.options.validate and (
            self.options.strict or self.options.validate_in == "caller"
        )
        self._validate_later = self.options.validate and not self._validate_now
        self._queue: deque[Any] = deque()
        self._pending: list[Batch] = []
        self._plock = threading.RLock()  # _pending and settlement; senders may run in parallel
        self._stats = Stats()
        self._spool: Spool | None = None
        self._orphan_cursor = 0
        self._orphans_left = False
        self._closed = False
        self._new_id: Callable[[], str] = _core.IDS.next
        self._clock: Callable[[], float] = time.time
        if self.options.spool_path:
            self._spool = Spool(self.options.spool_path, self.options.spool_max_bytes)
            self._orphans_left = self._spool.claim_orphans() > 0
        _LIVE.add(self)

    # --- hot path ---------------------------------------------------------------------------

    def track(
        self,
        event: str | Message,
        *,
        user_id: str | int | None = None,
        anonymous_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Any = None,
        message_id: str | None = None,
        integrations: Mapping[str, Any] | None = None,
    ) -> bool:
        """Queue an event; True when queued. A catalog model is queued as it is."""
        if isinstance(event, Message):
            return self._put(event)
        try:
            msg = _core.build(
                "track",
                validate=self._validate_now,
                new_id=self._new_id,
                event=event,
                user_id=user_id,
                anonymous_id=anonymous_id,
                properties=properties,
                context=context,
                timestamp=timestamp,
                message_id=message_id,
                integrations=integrations,
            )
        except Exception as error:
            return self._invalid(error, {"type": "track", "event": event, "userId": user_id})
        return self._put(msg)

    def identify(
        self,
        user_id: str | int | None = None,
        traits: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Any = None,
        message_id: str | None = None,
        integrations: Mapping[str, Any] | None = None,
    ) -> bool:
        try:
            msg = _core.build(
                "identify",
                validate=self._validate_now,
                new_id=self._new_id,
                user_id=user_id,
                anonymous_id=anonymous_id,
                traits=traits,
                context=context,
                timestamp=timestamp,
                message_id=message_id,
                integrations=integrations,
            )
        except Exception as error:
            return self._invalid(error, {"type": "identify", "userId": user_id})
        return self._put(msg)

    def page(
        self,
        name: str | None = None,
        *,
        category: str | None = None,
        user_id: str | int | None = None,
        anonymous_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Any = None,
        message_id: str | None = None,
        integrations: Mapping[str, Any] | None = None,
    ) -> bool:
        try:
            msg = _core.build(
                "page",
                validate=self._validate_now,
                new_id=self._new_id,
                name=name,
                category=category,
                user_id=user_id,
                anonymous_id=anonymous_id,
                properties=properties,
                context=context,
                timestamp=timestamp,
                message_id=message_id,
                integrations=integrations,
            )
        except Exception as error:
            return self._invalid(error, {"type": "page", "name": name, "userId": user_id})
        return self._put(msg)

    def alias(
        self,
        previous_id: str,
        user_id: str,
        *,
        context: Mapping[str, Any] | None = None,
        timestamp: Any = None,
        message_id: str | None = None,
        integrations: Mapping[str, Any] | None = None,
    ) -> bool:
        try:
            msg = _core.build(
                "alias",
                validate=self._validate_now,
                new_id=self._new_id,
                previous_id=previous_id,
                user_id=user_id,
                context=context,
                timestamp=timestamp,
                message_id=message_id,
                integrations=integrations,
            )
        except Exception as error:
            return self._invalid(error, {"type": "alias", "userId": user_id})
        return self._put(msg)

    def _invalid(self, error: Exception, summary: dict[str, Any]) -> bool:
        if self.options.strict:
            raise error
        self._stats.drop(_core.INVALID)
        safe_call(self.options.on_error, error, summary)
        return False

    def _put(self, item: Any) -> bool:
        if self._closed:
            return self._refuse(item, _core.SHUTDOWN)
        if self._spool is not None or self.options.sync_mode:
            try:
                entry = self._encode((item, self._clock()))
            except Exception as error:  # a bug in before_send must not reach the caller
                return self._invalid(error, {"type": "unknown"})
            if entry is None:
                return False
            return self._put_entry(entry)
        queue = self._queue
        if len(queue) >= self.options.max_queue_size:
            return self._refuse(item, _core.QUEUE_FULL)
        queue.append((item, self._clock()))
        if len(queue) >= self.options.batch_size:
            self._wake()
        else:
            self._ensure_worker()
        return True

    def _put_entry(self, entry: Entry) -> bool:
        """An already encoded event: spool it first, then queue or send it."""
        if self._spool is not None:
            try:
                row = self._spool.add(entry.message_id, entry.data)
            except Exception as error:
                self._stats.drop(_core.SPOOL_FULL)
                safe_call(self.options.on_error, error, {"messageId": entry.message_id})
                return False
            if row is None:
                self._stats.drop(_core.SPOOL_FULL)
                safe_call(self.options.on_drop, _core.SPOOL_FULL, _core.decode_entries([entry]))
                return False
            entry.spool_id = row
        if self.options.sync_mode:
            self._stats.taken += 1
            self._send_sync_now(entry)
            return True
        if len(self._queue) >= self.options.max_queue_size:
            # Spooled: it stays on disk and the next process sends it.
            self._stats.drop(_core.QUEUE_FULL)
            safe_call(self.options.on_drop, _core.QUEUE_FULL, _core.decode_entries([entry]))
            return False
        self._queue.append(entry)
        if len(self._queue) >= self.options.batch_size:
            self._wake()
        else:
            self._ensure_worker()
        return True

    def _refuse(self, item: Any, reason: str) -> bool:
        self._stats.drop(reason)
        if self.options.on_drop is not None:
            data = item.to_wire() if isinstance(item, Message) else dict(item)
            safe_call(self.options.on_drop, reason, [data])
        return False

    # --- hooks for the worker flavours -----------------------------------------------------

    def _wake(self) -> None:
        raise NotImplementedError

    def _ensure_worker(self) -> None:
        raise NotImplementedError

    def _send_sync_now(self, entry: Entry) -> None:
        raise NotImplementedError

    def _after_fork(self) -> None:
        """A forked child starts empty: the parent still owns (and sends) what it queued."""
        self._queue = deque()
        self._pending = []
        self._plock = threading.RLock()
        self._stats = Stats()
        if self._spool is not None:
            self._spool.reopen_after_fork()
            self._orphans_left = False
            self._orphan_cursor = 0

    # --- worker side -----------------------------------------------------------------------

    def _encode(self, queued: Any) -> Entry | None:
        if isinstance(queued, Entry):
            return queued
        item, enqueued_at = queued
        if self._validate_later and not isinstance(item, Message):
            try:
                _core.validate_catalog(item)
            except EventError as error:
                self._stats.drop(_core.INVALID)
                safe_call(self.options.on_error, error, item)
                return None
        try:
            data = _core.wire(item, enqueued_at, self._context)
        except Exception as error:
            self._stats.drop(_core.INVALID)
            safe_call(self.options.on_error, error, None)
            return None
        if self.options.before_send is not None:
            try:
                changed = self.options.before_send(data)
            except Exception as error:
                self._stats.drop(_core.INVALID)
                safe_call(self.options.on_error, error, data)
                return None
            if changed is None:
                self._stats.drop(_core.BEFORE_SEND)
                return None
            data = changed
        try:
            encoded = _core.encode(data)
        except (TypeError, ValueError) as error:
            self._stats.drop(_core.INVALID)
            safe_call(self.options.on_error, error, data)
            return None
        if len(encoded) > self.options.max_event_bytes:
            self._stats.drop(_core.TOO_LARGE)
            safe_call(
                self.options.on_error,
                ValueError(
                    f"event is {len(encoded)} bytes; the limit is {self.options.max_event_bytes}"
                ),
                data,
            )
            safe_call(self.options.on_drop, _core.TOO_LARGE, [data])
            return None
        return Entry(str(data.get("messageId", "")), encoded)

    def _collect(self, limit: int) -> list[Batch]:
        """Encode up to ``limit`` queued events (plus orphaned spool rows) into batches."""
        entries: list[Entry] = []
        queue = self._queue
        if self._orphans_left and self._spool is not None:
            rows = self._spool.claimed_rows(self._orphan_cursor, limit)
            if not rows:
                self._orphans_left = False
            for row_id, message_id, data in rows:
                self._orphan_cursor = row_id
                entries.append(Entry(message_id, data, row_id))
        while queue and len(entries) < limit:
            queued = queue.popleft()
            self._stats.taken += 1
            entry = self._encode(queued)
            if entry is not None:
                entries.append(entry)
        return self._pack(entries)

    def _pack(self, entries: list[Entry]) -> list[Batch]:
        batches: list[Batch] = []
        current: list[Entry] = []
        size = 64
        limit = self.options.max_batch_bytes
        for entry in entries:
            if current and (
                len(current) >= self.options.batch_size or size + len(entry.data) + 1 > limit
            ):
                batches.append(Batch(current))
                current, size = [], 64
            current.append(entry)
            size += len(entry.data) + 1
        if current:
            batches.append(Batch(current))
        return batches

    def _due(self, now: float) -> list[Batch]:
        with self._plock:
            due = [b for b in self._pending if b.due <= now]
            if due:
                self._pending = [b for b in self._pending if b.due > now]
            return due

    def _next_due(self) -> float | None:
        with self._plock:
            return min((b.due for b in self._pending), default=None)

    def _settle(self, batch: Batch, verdict: Verdict, now: float) -> None:
        with self._plock:
            self._settle_locked(batch, verdict, now)

    def _settle_locked(self, batch: Batch, verdict: Verdict, now: float) -> None:
        """Apply one answer: count, forget spooled rows, reschedule what is retryable."""
        options = self.options
        self._stats.batches += 1
        self._stats.sent += len(verdict.done)
        finished = verdict.done + verdict.failed
        if self._spool is not None:
            ids = [e.spool_id for e in finished if e.spool_id is not None]
            if ids:
                try:
                    self._spool.remove(ids)
                except Exception:
                    log.exception("cx_sdk: could not delete sent rows from the spool")
        if verdict.failed:
            reason = verdict.reason or _core.NOT_RETRYABLE
            self._stats.drop(reason, len(verdict.failed))
            events = _core.decode_entries(verdict.failed)
            for data in events:
                problems = verdict.problems.get(str(data.get("messageId"))) or verdict.problems.get(
                    "", []
                )
                error = EventError(
                    [Problem(str(p.get("field", "")), str(p.get("rule", ""))) for p in problems]
                    or [Problem("", reason)],
                    data.get("event"),
                )
                safe_call(options.on_error, error, data)
            safe_call(options.on_drop, reason, events)
        if not verdict.retry:
            return
        first_try = batch.first_try or now
        if verdict.split:
            half = len(verdict.retry) // 2
            for part in (verdict.retry[:half], verdict.retry[half:]):
                self._pending.append(Batch(part, first_try, batch.attempts, now))
            return
        attempts = batch.attempts + 1
        delay = verdict.wait if verdict.wait is not None else _core.backoff(options, attempts)
        if self._spool is None and now + delay - first_try > options.max_retry_time:
            self._stats.drop(_core.RETRY_EXHAUSTED, len(verdict.retry))
            log.warning(
                "cx_sdk: giving up on %d events after %.0fs (%s)",
                len(verdict.retry),
                now - first_try,
                verdict.reason,
            )
            safe_call(options.on_drop, _core.RETRY_EXHAUSTED, _core.decode_entries(verdict.retry))
            return
        self._stats.retried += len(verdict.retry)
        self._pending.append(Batch(verdict.retry, first_try, attempts, now + delay))

    def _leftovers(self) -> int:
        """At shutdown: report what could not be sent (spooled rows stay for the next run)."""
        with self._plock:
            entries: list[Entry] = [e for b in self._pending for e in b.entries]
            self._pending = []
        while self._queue:
            self._stats.taken += 1
            entry = self._encode(self._queue.popleft())
            if entry is not None:
                entries.append(entry)
        if not entries:
            return 0
        kept = [e for e in entries if e.spool_id is not None]
        lost = [e for e in entries if e.spool_id is None]
        if kept:
            log.warning("cx_sdk: %d events left in the spool for the next run", len(kept))
        if lost:
            self._stats.drop(_core.SHUTDOWN, len(lost))
            log.warning("cx_sdk: %d events could not be sent before shutdown", len(lost))
            safe_call(self.options.on_drop, _core.SHUTDOWN, _core.decode_entries(lost))
        return len(entries)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "cx-sdk/0.1.0"}
        if self.options.gzip:
            headers["Content-Encoding"] = "gzip"
        return headers

    def _auth(self) -> tuple[str, str]:
        return (self.options.write_key, "")

    def _idle(self) -> bool:
        return not self._queue and not self._pending and not self._orphans_left

    def stats(self) -> dict[str, Any]:
        """Counters: enqueued, sent, retried, dropped by reason, queue depth, pending retries."""
        extra: dict[str, Any] = {"pending_retry": sum(len(b.entries) for b in self._pending)}
        if self._spool is not None:
            extra["spool_bytes"] = self._spool.bytes
        return self._stats.snapshot(len(self._queue), extra)


def parse_json(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


def payload_of(status: int, content: bytes) -> Mapping[str, Any] | None:
    if status >= 300:
        return None
    data = parse_json(content)
    return data if isinstance(data, dict) else None
