"""Events this process just stored, held for its own follower (``server/follower.py``).

The follower reads a claimed batch back from the events table, and parsing it there (the
JSON body, four timestamps, the event object) cost a quarter of all its work. Ingest here hands
the events it committed straight over; the follower still reads which of them are stored (an
erase may have removed some) and parses only those nobody handed over: another worker's, or
a batch older than the ``limit`` held.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from .ingest_rules import Prepared

# Events held at most (about 1 KB each): a follower claims up to 100 batches of usually 100
# events at once.
HANDOFF_EVENTS = 20_000


class Handoff:
    def __init__(self, limit: int = HANDOFF_EVENTS) -> None:
        self.limit = limit
        self._held: dict[int, Prepared] = {}
        self._lock = threading.Lock()

    def put(self, events: Iterable[tuple[int, Prepared]]) -> None:
        """Hold committed events by id; beyond the limit the oldest go first."""
        with self._lock:
            self._held.update(events)
            while len(self._held) > self.limit:
                del self._held[next(iter(self._held))]

    def take(self, ids: Sequence[int]) -> dict[int, Prepared]:
        """The events held of ``ids``, no longer held (taken or not, every id is let go).

        Claims go oldest first, so what is held from before ``ids`` went to another worker's
        follower (or was set aside): it is let go too, instead of filling the limit."""
        if not ids:
            return {}
        oldest = min(ids)
        with self._lock:
            taken = {event_id: self._held.pop(event_id, None) for event_id in ids}
            # Held in the order stored, which is the ids' order but for commits overtaking
            # each other on PostgreSQL: what such an overtaking leaves goes by the limit.
            while self._held and next(iter(self._held)) < oldest:
                del self._held[next(iter(self._held))]
        return {event_id: item for event_id, item in taken.items() if item is not None}

    def clear(self) -> None:
        """Let go of everything: an erase leaves nothing of the customer in memory either."""
        with self._lock:
            self._held.clear()

    def __len__(self) -> int:
        return len(self._held)
