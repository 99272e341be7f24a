"""Reads a worker keeps for a few seconds: keys, shops, widget settings (``CX_KEY_CACHE_SECONDS``).

Asked for on every request, changed rarely; a change made through the same worker forgets its
entry at once, one made elsewhere shows once the entry expires.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from time import monotonic
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class Expiring(Generic[V]):
    """Values by key, each kept ``seconds()`` from when its read began; bounded by clearing."""

    def __init__(self, seconds: Callable[[], float], limit: int = 10_000) -> None:
        self.seconds = seconds
        self.limit = limit
        self._entries: dict[Hashable, tuple[float, V]] = {}

    def get(self, key: Hashable, load: Callable[..., V], *args: Any) -> V:
        """The kept value, or ``load(*args)`` kept from now on (None too: an unknown key or
        shop is asked for again and again)."""
        now = monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load(*args)
        if len(self._entries) >= self.limit:
            self._entries.clear()
        self._entries[key] = (now + self.seconds(), value)
        return value

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
