"""Helpers for testing code that emits cx events, without a collector or a thread.

``RecordingClient`` has the ``Client`` API; every call is validated, passed through
``before_send`` and encoded exactly as it would be sent, then kept in ``events`` (wire
dicts). Its clock and message ids are deterministic. With pytest, the ``cx_events``
fixture (registered by the ``cx_sdk`` pytest plugin) gives a fresh one per test.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import count
from typing import Any

from ._base import BaseClient
from ._core import Entry
from .events import Message

FIXED_START = datetime(2026, 1, 1, tzinfo=UTC)


class FrozenClock:
    """Epoch seconds that move only when told to: ``clock.advance(1.5)``."""

    def __init__(self, start: datetime = FIXED_START) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SequentialIds:
    """``00000000-0000-4000-8000-000000000001``, ``…0002``: ids a test can write down."""

    def __init__(self) -> None:
        self._counter = count(1)

    def __call__(self) -> str:
        return f"00000000-0000-4000-8000-{next(self._counter):012d}"


class RecordingClient(BaseClient):
    """In-memory client for tests. ``strict`` defaults to True so bad events fail the test."""

    def __init__(
        self,
        *,
        clock: FrozenClock | None = None,
        ids: SequentialIds | None = None,
        strict: bool = True,
        **options: Any,
    ) -> None:
        options.setdefault("validate_in", "caller")
        super().__init__("test-write-key", "http://cx.invalid", strict=strict, **options)
        self.clock = clock or FrozenClock()
        self.ids = ids or SequentialIds()
        self._clock = self.clock
        self._new_id = self.ids
        self.events: list[dict[str, Any]] = []

    def _put(self, item: Any) -> bool:
        if self._closed:
            return self._refuse(item, "shutdown")
        entry = self._encode((item, self._clock()))
        if entry is None:
            return False
        return self._put_entry(entry)

    def _put_entry(self, entry: Entry) -> bool:
        self._stats.taken += 1
        self._stats.sent += 1
        self.events.append(json.loads(entry.data))
        return True

    def _wake(self) -> None:
        pass

    def _ensure_worker(self) -> None:
        pass

    def _send_sync_now(self, entry: Entry) -> None:
        self._put_entry(entry)

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self, timeout: float | None = None) -> int:
        self._closed = True
        return 0

    def __enter__(self) -> RecordingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- queries and assertions -------------------------------------------------------------

    def reset(self) -> None:
        self.events.clear()

    def tracked(self, event: str | type[Message] | None = None) -> list[dict[str, Any]]:
        """Track calls, optionally of one event name or catalog model."""
        if isinstance(event, type):
            event = str(event.model_fields["event"].default)
        return [
            e
            for e in self.events
            if e["type"] == "track" and (event is None or e["event"] == event)
        ]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    def assert_tracked(
        self,
        event: str | type[Message],
        *,
        times: int | None = None,
        user_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Matching events (properties compared as a subset of the wire properties)."""
        found = [
            e
            for e in self.tracked(event)
            if (user_id is None or e.get("userId") == user_id)
            and all(e.get("properties", {}).get(k) == v for k, v in (properties or {}).items())
        ]
        if times is None and not found:
            raise AssertionError(f"no {event!r} event matched; recorded: {self._summary()}")
        if times is not None and len(found) != times:
            raise AssertionError(
                f"expected {times} {event!r} events, matched {len(found)}; "
                f"recorded: {self._summary()}"
            )
        return found

    def assert_not_tracked(self, event: str | type[Message] | None = None) -> None:
        found = self.tracked(event)
        if found:
            raise AssertionError(f"expected no {event or 'track'} events; got {self._summary()}")

    def _summary(self) -> str:
        names = [e.get("event") or e["type"] for e in self.events]
        return ", ".join(names) if names else "nothing"
