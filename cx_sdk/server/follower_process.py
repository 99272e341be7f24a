"""The follower as a child process of a ``cx serve`` worker on SQLite.

In the worker, the follower shares one interpreter lock with ingest and takes turns with it;
as a process of its own it projects on another core while ingest goes on. It writes only the
projection file (``db.py``), so neither waits for the other's commits. The worker restarts it
when it dies, and at shutdown stops it and projects what is left itself.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

from .db import projection_file
from .follower import drain_at_stop
from .store import Store

log = logging.getLogger("cx.follower")


def separate(store: Store) -> bool:
    """Whether this store's follower can run as a process: a SQLite file (an in-memory
    database exists in one process only; PostgreSQL's workers each run one thread)."""
    return projection_file(store.engine.url) is not None


class FollowerProcess:
    """``cx db follow`` for this worker's database, supervised."""

    def __init__(self, store: Store, restart_seconds: float = 1.0) -> None:
        self.store = store
        self.restart_seconds = restart_seconds
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # no child is started once stop() has begun
        self._monitor: threading.Thread | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        url = self.store.engine.url.render_as_string(hide_password=False)
        # The URL through the environment: a command line is visible to every user.
        env = {**os.environ, "CX_DATABASE_URL": url}
        # A session of its own: Ctrl-C in the terminal reaches the server, which stops the
        # child itself (the child also ends when it finds its parent gone).
        return subprocess.Popen(
            [sys.executable, "-m", "cx_sdk.cli", "db", "follow"], env=env, start_new_session=True
        )

    def start(self) -> None:
        # Events handed over in this process would wait for a follower that never takes them.
        self.store.hand_over = False
        self._process = self._spawn()
        self._monitor = threading.Thread(target=self._watch, name="cx-follower-watch", daemon=True)
        self._monitor.start()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            assert self._process is not None
            code = self._process.wait()
            if self._stopping.is_set():
                return
            log.error("the follower process exited (%s); starting it again", code)
            if self._stopping.wait(self.restart_seconds):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._process = self._spawn()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the child after its claim in hand, then project what is left (best effort:
        it stays queued)."""
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._monitor is not None:
            self._monitor.join(timeout)
        drain_at_stop(self.store)
