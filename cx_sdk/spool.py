"""A durable SQLite outbox: an event is on disk before ``track()`` returns.

WAL with ``synchronous=NORMAL``: a commit reaches the OS before returning, so a SIGKILLed
process loses nothing (a power cut may lose the last commits). Each row names the process
that wrote it; rows whose process is gone are claimed and sent by the next process, and a
row is deleted only after the collector acknowledged it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    def __init__(self, path: str, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._open()

    def _open(self) -> None:
        self.pid = os.getpid()
        self.token = uuid.uuid4().hex
        self.claimed = self.token + "-claimed"
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " message_id TEXT NOT NULL, body BLOB NOT NULL, pid INTEGER NOT NULL,"
            " token TEXT NOT NULL)"
        )
        row = self._db.execute("SELECT COALESCE(SUM(LENGTH(body)), 0) FROM outbox").fetchone()
        self.bytes = int(row[0])

    def reopen_after_fork(self) -> None:
        """The parent's connection must not be used in a child; open a fresh one."""
        self._lock = threading.Lock()
        self._open()

    def add(self, message_id: str, data: bytes) -> int | None:
        """Row id, or None when the cap is reached."""
        with self._lock:
            if self.bytes + len(data) > self.max_bytes:
                return None
            cursor = self._db.execute(
                "INSERT INTO outbox (message_id, body, pid, token) VALUES (?, ?, ?, ?)",
                (message_id, data, self.pid, self.token),
            )
            self.bytes += len(data)
            return cursor.lastrowid

    def remove(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        if not ids:
            return
        with self._lock:
            size = 0
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                row = self._db.execute(
                    f"SELECT COALESCE(SUM(LENGTH(body)), 0) FROM outbox WHERE id IN ({marks})",  # noqa: S608
                    chunk,
                ).fetchone()
                size += int(row[0])
                self._db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", chunk)  # noqa: S608
            self.bytes -= size

    def claim_orphans(self) -> int:
        """Take over rows of processes that are gone (or an earlier process with our pid)."""
        with self._lock:
            owners = self._db.execute("SELECT DISTINCT pid, token FROM outbox").fetchall()
            claimed = 0
            for pid, token in owners:
                if token == self.token:
                    continue
                if token == self.claimed:
                    continue
                if pid == self.pid or not _alive(pid):
                    cursor = self._db.execute(
                        "UPDATE outbox SET pid = ?, token = ? WHERE pid = ? AND token = ?",
                        (self.pid, self.claimed, pid, token),
                    )
                    claimed += cursor.rowcount
            return claimed

    def claimed_rows(self, after: int, limit: int) -> list[tuple[int, str, bytes]]:
        """Rows taken over from dead processes, oldest first, after row ``after``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, message_id, body FROM outbox WHERE token = ? AND id > ?"
                " ORDER BY id LIMIT ?",
                (self.claimed, after, limit),
            ).fetchall()
        return [(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
