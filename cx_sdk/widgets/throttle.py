"""Failed tracking lookups per client: order numbers are sequential and emails guessable, so
whoever keeps guessing pairs is slowed down. In-process (each worker counts on its own)."""

from __future__ import annotations

import threading
import time
from collections import deque


class FailureThrottle:
    def __init__(self, limit: int = 10, window_seconds: float = 600.0, max_clients: int = 50_000):
        self.limit = limit
        self.window = window_seconds
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        stamps = self._failures.get(client)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        return stamps

    def blocked(self, client: str) -> bool:
        """An unknown client (empty address) is never throttled: it would share one bucket
        with every other unknown client."""
        if not client or client not in self._failures:
            return False  # a client that never failed: no lock (a dict lookup is atomic)
        with self._lock:
            return len(self._recent(client, time.monotonic())) >= self.limit

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()

    def failed(self, client: str) -> None:
        if not client:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._failures) >= self.max_clients:
                self._failures.clear()  # bounded memory beats perfect memory
            stamps = self._recent(client, now)
            stamps.append(now)
            self._failures[client] = stamps


TRACKING_LOOKUPS = FailureThrottle()
