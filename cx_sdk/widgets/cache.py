"""Rendered fragments kept by everything they were rendered from, as the pieces between
their element ids (a hit joins them around ids of its own).

A key names the inputs completely (the order's revision, the widget's settings, locale, day,
what the shopper typed), so a hit is exactly what a fresh render would give: a change to the
order or to the merchant's settings makes a new key, and the next render shows it. Entries
also expire, which bounds the age of the signed tokens inside a cached fragment.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable


class RenderCache:
    def __init__(self, size: int = 4096, seconds: float = 600.0) -> None:
        self.size = size
        self.seconds = seconds
        self._entries: OrderedDict[Hashable, tuple[float, tuple[str, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[str, ...] | None:
        """Without the lock: a lookup and a move are single operations of the dict, and a
        key another thread removed meanwhile is simply a miss."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._entries.pop(key, None)
            return None
        try:
            self._entries.move_to_end(key)
        except KeyError:
            return None
        return entry[1]

    def put(self, key: Hashable, pieces: tuple[str, ...]) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + self.seconds, pieces)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def prune(self) -> None:
        """Drop the expired entries (a key nobody asks for again is otherwise only dropped
        when the cache is full)."""
        now = time.monotonic()
        with self._lock:
            for key, (expires, _) in list(self._entries.items()):
                if expires <= now:
                    self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
