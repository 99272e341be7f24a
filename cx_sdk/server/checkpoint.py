"""SQLite's WAL checkpoints in a thread of their own instead of inside an ingest commit.

With its defaults SQLite copies the write-ahead log back into the database (and syncs both)
in whichever commit finds the log over 1,000 pages: every few batches one acknowledgement
waits for that copy while holding the single writer. The collector turns that off on its
writer connection and checkpoints from this thread every ``interval`` seconds, in PASSIVE mode:
it never waits for, nor blocks, a writer or a reader. Should the thread fall behind, the writer
still checkpoints itself once the log reaches ``FALLBACK_PAGES``, so the log stays bounded.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import Store

from .db import PROJECTIONS

log = logging.getLogger("cx.checkpoint")

# The writer's own checkpoint threshold while this thread runs (SQLite's default is 1,000
# pages, about 4 MB): only reached when the thread cannot keep up.
FALLBACK_PAGES = 10_000


class Checkpointer:
    """The daemon thread that checkpoints a SQLite store's write-ahead log."""

    def __init__(self, store: Store, interval: float = 0.25) -> None:
        self.store = store
        self.interval = interval
        self.last = (0, 0)  # the latest checkpoint's (pages in the log, pages checkpointed)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: Any = None
        self._projections = False  # whether its connection has the projection file attached

    def start(self) -> None:
        self.store.autocheckpoint_pages = FALLBACK_PAGES
        self._thread = threading.Thread(target=self._run, name="cx-checkpoint", daemon=True)
        self._thread.start()

    def run_once(self) -> tuple[int, int]:
        """One PASSIVE checkpoint: ``(pages in the log, pages now in the database)``."""
        if self._connection is None:
            self._connection = self.store.engine.raw_connection()
            listed = self._connection.driver_connection.execute("PRAGMA database_list")
            self._projections = PROJECTIONS in {row[1] for row in listed}
        driver = self._connection.driver_connection
        # Each file by name: for "all attached", SQLite leaves the page counts undefined.
        cursor = driver.execute("PRAGMA main.wal_checkpoint(PASSIVE)")
        _, in_log, done = cursor.fetchone()
        cursor.close()
        if self._projections:
            driver.execute(f"PRAGMA {PROJECTIONS}.wal_checkpoint(PASSIVE)").close()
        self.last = (int(in_log), int(done))
        return self.last

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.run_once()
            except sqlite3.OperationalError as error:  # another process's checkpoint, say
                log.debug("checkpoint skipped: %s", error)
            except Exception:
                log.exception("checkpointing the SQLite log failed; the writer takes over")
                self._stopping.wait(10 * self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after one last checkpoint, and give the writer its default back."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self.run_once()
        except Exception:
            log.debug("final checkpoint skipped", exc_info=True)
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.store.autocheckpoint_pages = None
