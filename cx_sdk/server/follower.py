"""The parts' projectors (analytics, recommendations) follow ingest instead of running in it.

Ingest stores the events, the core projections (profiles, identities, orders — the tracking
widget reads them on the next request) and one backlog row naming the batch's event ids, and
answers. A follower then claims backlog rows and replays those events through every part
projector, in one transaction with the claim: exactly once, in id order, across any number of
workers. Claiming several batches at once also lets the projectors work on larger batches than
a single request carries.

- PostgreSQL: a daemon thread per worker deletes the rows it claims; ``SKIP LOCKED`` hands each
  row to one claimer.
- SQLite: the follower moves ``follower_cursor`` past the rows it projected. Cursor and
  projections live in the projection file (``db.py``), so a follower never writes the core file
  and runs beside ingest instead of after it: ``cx serve`` starts it as a process of its own
  (``cx db follow``). Ingest deletes the rows behind the cursor later (:func:`prune`). Writers
  commit one at a time there, in id order, so a cursor never passes a row still to commit.

Readers that promise the merchant what was acknowledged (the KPI API, the dashboard, the
rebuild commands) call :func:`settle` first.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Select, bindparam, delete, func, select, update
from sqlalchemy.exc import OperationalError

from . import parts
from .clock import utcnow
from .db import among, erasure_lock, lock_projections
from .ingest_rules import Prepared
from .tables import events, follower_cursor, projection_backlog, projection_failures

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger("cx.follower")

# Backlog rows (ingest batches) projected per transaction. The projectors cost much less per
# event on large batches (a key looked up once for many events): 300 bench batches took 8.7 s
# claimed one by one, 5.1 s twenty at a time, 2.5 s a hundred at a time.
CLAIM_ROWS = 100
# A batch whose projection failed this often on its own is set aside (kept, not claimed) so that
# the batches after it are projected; ``cx db backlog --retry`` queues it again.
MAX_ATTEMPTS = 5
POSITION = select(follower_cursor.c.position).scalar_subquery()
_NEWEST = select(func.coalesce(func.max(projection_backlog.c.id), 0))
SET_ASIDE = select(projection_failures.c.backlog_id).where(
    projection_failures.c.attempts >= MAX_ATTEMPTS
)
# A claim's ids come in runs (a batch's events are inserted together): each run is read as one
# id range and foreign ids inside it (another shop's, an erased event's neighbour) are dropped.
# Ranges cost one index seek; an IN list of thousands of ids cost SQLAlchemy more than the read.
RUN_GAP = 64

STORED = (
    events.c.id,
    events.c.message_id,
    events.c.type,
    events.c.event,
    events.c.stage,
    events.c.channel,
    events.c.user_id,
    events.c.anonymous_id,
    events.c.timestamp,
    events.c.original_timestamp,
    events.c.sent_at,
    events.c.received_at,
    events.c.body,
)

_BY_RANGE = (
    select(*STORED)
    .where(
        events.c.id >= bindparam("low"),
        events.c.id <= bindparam("high"),
        events.c.shop_id == bindparam("shop_id"),
    )
    .order_by(events.c.id)
)


# Whether the events handed over are still stored, and unchanged: their bodies are not needed.
_IDS_BY_RANGE = (
    select(events.c.id, events.c.message_id)
    .where(
        events.c.id >= bindparam("low"),
        events.c.id <= bindparam("high"),
        events.c.shop_id == bindparam("shop_id"),
    )
    .order_by(events.c.id)
)


def _when(value: Any) -> Any:
    """A stored timestamp as SQLAlchemy reads it: the driver gives SQLite's as text."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def stored(row: Any, with_body: bool = True) -> Prepared:
    """A stored event (a row of :data:`STORED`, through SQLAlchemy or the driver) as the
    projectors see it. Traits and consent are left out: they feed the core projections, which
    ran at ingest."""
    _, message_id, kind, event, stage, channel, user_id, anonymous_id, *times, body = row
    timestamp, original, sent_at, received_at = times
    return Prepared(
        message_id,
        kind,
        event,
        stage,
        channel,
        user_id,
        anonymous_id,
        _when(timestamp),
        _when(original),
        _when(sent_at),
        _when(received_at),
        orjson.loads(body) if with_body else {},
        {},
        None,
    )


def _claim(
    conn: Connection, shop_id: str | None, limit: int, row_id: int | None = None
) -> list[Any]:
    """Take up to ``limit`` of the oldest backlog rows. On PostgreSQL they leave the backlog
    (undone with the transaction if projecting them fails); a shop's reader waits for rows
    another worker holds (it must see them projected), the follower skips them. On SQLite the
    claim first takes the projection file's lock: whoever holds it moves the cursor."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        lock_projections(conn)
    oldest = _oldest(shop_id, limit)
    if row_id is not None:
        oldest = oldest.where(projection_backlog.c.id == row_id)
    columns = (
        projection_backlog.c.id,
        projection_backlog.c.shop_id,
        projection_backlog.c.event_ids,
    )
    if sqlite:
        return list(
            conn.execute(
                select(*columns)
                .where(projection_backlog.c.id.in_(oldest.scalar_subquery()))
                .order_by(projection_backlog.c.id)
            )
        )
    oldest = oldest.with_for_update(skip_locked=shop_id is None)
    claimed = conn.execute(
        delete(projection_backlog)
        .where(projection_backlog.c.id.in_(oldest.scalar_subquery()))
        .returning(*columns)
    ).all()
    return sorted(claimed, key=lambda row: row[0])


def _claimed(conn: Connection, ids: list[int]) -> None:
    """Mark a claim projected: the cursor moves past it (SQLite) and the attempts that failed
    on its rows before are forgotten."""
    if conn.dialect.name == "sqlite":
        conn.execute(
            update(follower_cursor).values(position=func.max(follower_cursor.c.position, max(ids)))
        )
    conn.execute(
        delete(projection_failures).where(among(conn, projection_failures.c.backlog_id, ids))
    )


def runs(ids: Sequence[int], gap: int = RUN_GAP) -> list[tuple[int, int]]:
    """Sorted ids as inclusive ranges, joining neighbours at most ``gap`` apart."""
    ranges: list[tuple[int, int]] = []
    for event_id in ids:
        if ranges and event_id - ranges[-1][1] <= gap:
            ranges[-1] = (ranges[-1][0], event_id)
        else:
            ranges.append((event_id, event_id))
    return ranges


def _load(store: Store, conn: Connection, shop_id: str, ids: Sequence[int]) -> list[Prepared]:
    """The events still stored (an erased customer's are gone, and stay unprojected): as this
    process's ingest handed them over (``server/handoff.py``), or read back. Read through the
    driver: SQLAlchemy's result rows cost more than the rest of loading."""
    held = store.handoff.take(ids)
    found: dict[int, Prepared | None] = {}
    # With events handed over, a first read only says which are still there; bodies are
    # read for the rest. The id alone could be another worker's event that reused a
    # rolled-back id: the messageId must match too.
    _read(store, conn, shop_id, ids, found, held)
    missing = [event_id for event_id, item in found.items() if item is None]
    if missing:
        _read(store, conn, shop_id, missing, found, {})
    return [item for item in found.values() if item is not None]


def _read(
    store: Store,
    conn: Connection,
    shop_id: str,
    ids: Sequence[int],
    found: dict[int, Prepared | None],
    held: dict[int, Prepared],
) -> None:
    read = store.driver_read(_IDS_BY_RANGE if held else _BY_RANGE)
    wanted = set(ids)
    for low, high in runs(ids):
        for row in read.rows(conn, {"shop_id": shop_id, "low": low, "high": high}):
            if row[0] in wanted:
                item = held.get(row[0])
                if item is not None and item.message_id == row[1]:
                    found[row[0]] = item
                else:
                    found[row[0]] = None if held else stored(row)


def project_backlog(
    store: Store, shop_id: str | None = None, limit: int = CLAIM_ROWS, row_id: int | None = None
) -> int:
    """Project one claim of backlog rows (of one shop, or of any, or the row ``row_id``);
    returns how many rows. Raises what a projector raised, with nothing claimed."""
    projectors = parts.collect("projectors")
    with store.begin() as conn:
        claimed = _claim(conn, _scope(store, shop_id), limit, row_id)
        by_shop: dict[str, list[int]] = {}
        for _, shop, event_ids in claimed:
            by_shop.setdefault(shop, []).extend(orjson.loads(event_ids))
        for shop, ids in by_shop.items():
            erasure_lock(conn, shop, exclusive=False)
            fresh = _load(store, conn, shop, sorted(ids))
            if fresh:
                for projector in projectors:
                    projector(conn, shop, fresh, store.upsert)
        if claimed:
            _claimed(conn, [row[0] for row in claimed])
    return len(claimed)


def advance(store: Store, shop_id: str | None = None) -> int:
    """Project one claim; if that fails, its rows one by one, so that a batch no projector can
    take is set aside after ``MAX_ATTEMPTS`` instead of holding up every batch behind it.
    Database errors (locked, gone) are raised: they say nothing about the batches."""
    shop_id = _scope(store, shop_id)
    try:
        return project_backlog(store, shop_id)
    except OperationalError:
        raise
    except Exception:
        log.warning("projecting a claim of the backlog failed; trying its batches one by one")
    done = 0
    for row_id, shop in _waiting(store, shop_id, CLAIM_ROWS):
        while True:
            try:
                project_backlog(store, shop_id, limit=1, row_id=row_id)
                break
            except OperationalError:
                raise
            except Exception as error:
                if _failed(store, row_id, shop, error) >= MAX_ATTEMPTS:
                    break
        done += 1
    return done


def _oldest(shop_id: str | None, limit: int | None) -> Select[Any]:
    """The ids of the oldest batches waiting (past the cursor, not set aside), of one shop or
    of any."""
    query = (
        select(projection_backlog.c.id)
        .where(projection_backlog.c.id > POSITION, projection_backlog.c.id.not_in(SET_ASIDE))
        .order_by(projection_backlog.c.id)
        .limit(limit)
    )
    return query if shop_id is None else query.where(projection_backlog.c.shop_id == shop_id)


def _waiting(store: Store, shop_id: str | None, limit: int) -> list[Any]:
    """The oldest batches waiting: (id, shop)."""
    query = (
        select(projection_backlog.c.id, projection_backlog.c.shop_id)
        .where(projection_backlog.c.id.in_(_oldest(shop_id, limit).scalar_subquery()))
        .order_by(projection_backlog.c.id)
    )
    with store.reading() as conn:
        return list(conn.execute(query))


def _scope(store: Store, shop_id: str | None) -> str | None:
    """The shop a claim may keep to: none on SQLite, whose cursor passes rows in id order."""
    return None if store.dialect == "sqlite" else shop_id


def _failed(store: Store, row_id: int, shop_id: str, error: Exception) -> int:
    """Count a failed attempt at ``row_id``; returns its attempts so far."""
    # The first line only: SQLAlchemy appends the statement's parameters (event data) below it.
    lines = str(error).splitlines()
    reason = f"{type(error).__name__}: {lines[0] if lines else ''}"[:500]
    with store.begin(projections=True) as conn:
        attempts = conn.execute(
            select(projection_failures.c.attempts).where(projection_failures.c.backlog_id == row_id)
        ).scalar()
        count = (attempts or 0) + 1
        row = {"attempts": count, "last_error": reason, "failed_at": utcnow()}
        if attempts is None:
            conn.execute(
                projection_failures.insert().values(backlog_id=row_id, shop_id=shop_id, **row)
            )
        else:
            conn.execute(
                update(projection_failures)
                .where(projection_failures.c.backlog_id == row_id)
                .values(**row)
            )
    if count >= MAX_ATTEMPTS:
        log.error(
            "backlog batch %s of shop %s set aside after %d failed projections (%s); "
            "`cx db backlog --retry` queues it again",
            row_id,
            shop_id,
            count,
            reason,
            exc_info=error,
        )
    else:
        log.warning("projecting backlog batch %s failed (%s)", row_id, reason, exc_info=error)
    return count


def pending(store: Store, shop_id: str) -> bool:
    """Whether the shop has batches its parts have not seen yet (one indexed read)."""
    with store.reading() as conn:
        return conn.execute(_oldest(shop_id, 1)).first() is not None


def settle(store: Store, shop_id: str) -> None:
    """Project the shop's backlog now, so what follows reads everything acknowledged so far
    (except batches set aside, which the log and ``cx db backlog`` report). On SQLite that
    is every shop's backlog up to the shop's last batch: the cursor keeps id order."""
    while pending(store, shop_id):
        if not advance(store, shop_id):
            break


def prune(store: Store) -> int:
    """Delete the backlog rows behind the cursor (SQLite; PostgreSQL's claims delete theirs),
    keeping those set aside. Ingest calls it now and then: the follower never writes the core
    file."""
    if store.dialect != "sqlite":
        return 0
    with store.begin() as conn:
        return prune_rows(conn)


def prune_rows(conn: Connection) -> int:
    """:func:`prune` inside the caller's transaction."""
    result = conn.execute(
        delete(projection_backlog).where(
            projection_backlog.c.id <= POSITION, projection_backlog.c.id.not_in(SET_ASIDE)
        )
    )
    return int(result.rowcount)


def drain(store: Store) -> int:
    """Project the whole backlog; returns the number of batches projected or set aside."""
    done = 0
    while batch := advance(store):
        done += batch
    prune(store)
    return done


def drain_at_stop(store: Store) -> None:
    """What a stopping follower leaves is projected by the worker (best effort: what fails
    stays queued for the next start)."""
    try:
        drain(store)
    except Exception:
        log.exception("projecting the backlog at shutdown failed; it stays queued")


def backlog(store: Store) -> tuple[int, list[Any]]:
    """Batches waiting, and the rows set aside (id, shop, attempts, created, error)."""
    table, failures = projection_backlog, projection_failures
    with store.reading() as conn:
        waiting = conn.execute(
            select(func.count()).select_from(_oldest(None, None).subquery())
        ).scalar_one()
        aside = conn.execute(
            select(
                table.c.id,
                table.c.shop_id,
                failures.c.attempts,
                table.c.created_at,
                failures.c.last_error,
            )
            .join(failures, failures.c.backlog_id == table.c.id)
            .where(failures.c.attempts >= MAX_ATTEMPTS)
            .order_by(table.c.id)
        ).all()
    return int(waiting), list(aside)


def retry(store: Store) -> int:
    """Queue the batches set aside again (after the cause was fixed), as new batches behind
    the cursor's way; returns how many."""
    table = projection_backlog
    with store.begin(projections=True) as conn:
        aside = conn.execute(
            select(table.c.id, table.c.shop_id, table.c.event_ids, table.c.created_at)
            .where(table.c.id.in_(SET_ASIDE))
            .order_by(table.c.id)
        ).all()
        ids = [row.id for row in aside]
        if aside:
            conn.execute(
                table.insert(),
                [
                    {
                        "shop_id": row.shop_id,
                        "event_ids": row.event_ids,
                        "created_at": row.created_at,
                    }
                    for row in aside
                ],
            )
            conn.execute(delete(table).where(among(conn, table.c.id, ids)))
            conn.execute(
                delete(projection_failures).where(
                    among(conn, projection_failures.c.backlog_id, ids)
                )
            )
    store.backlog_signal.set()
    return len(ids)


class Follower:
    """Drains the backlog shortly after ingest (woken, then lingering so that batches arriving
    meanwhile are projected together) and every ``idle_seconds`` (batches left by another
    worker or a previous run).

    A daemon thread of the worker (:meth:`start`), woken by its store; or, ``polling``, the
    main loop of a process of its own (:meth:`run`, ``cx db follow``), which sees batches
    arrive by reading the backlog's newest id and ends when its parent does."""

    def __init__(
        self,
        store: Store,
        idle_seconds: float = 1.0,
        quiet_seconds: float = 0.1,
        max_delay_seconds: float = 2.0,
        polling: bool = False,
        poll_seconds: float = 0.05,
    ) -> None:
        self.store = store
        self.idle_seconds = idle_seconds
        # While ingest is busy, batches are gathered until it pauses for ``quiet_seconds``, a
        # claim's worth has arrived or ``max_delay_seconds`` have passed: projecting them
        # together costs far less than one by one, and ingest keeps the process meanwhile.
        self.quiet_seconds = quiet_seconds
        self.max_delay_seconds = max_delay_seconds
        self.polling = polling
        self.poll_seconds = poll_seconds
        self._parent = os.getppid()
        self._seen = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="cx-follower", daemon=True)
        self._thread.start()

    def _arrived(self) -> int:
        """Batches arrived so far: counted by this process's ingest, or the newest id."""
        if not self.polling:
            return self.store.backlog_batches
        with self.store.reading() as conn:
            return int(conn.execute(_NEWEST).scalar_one())

    def _wait(self, seconds: float) -> bool:
        """Whether batches arrive within ``seconds``."""
        if not self.polling:
            signal = self.store.backlog_signal
            woken = signal.wait(seconds)
            signal.clear()
            return woken
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            if os.getppid() != self._parent:
                self._stopping.set()
                break
            newest = self._arrived()
            if newest != self._seen:
                self._seen = newest
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._stopping.wait(min(self.poll_seconds, left))
        return False

    def _gather(self) -> None:
        first = self._arrived()
        deadline = time.monotonic() + self.max_delay_seconds
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or not self._wait(min(self.quiet_seconds, left)):
                return
            if self._arrived() - first >= CLAIM_ROWS:
                return

    def run(self) -> None:
        """Follow until :meth:`stop` (or, polling, until the parent process is gone)."""
        while not self._stopping.is_set():
            woken = self._wait(self.idle_seconds)
            if woken:
                self._gather()
            try:
                # Unwoken, a read first: a claim is a write transaction, every idle second.
                if not woken and not _waiting(self.store, None, 1):
                    continue
                while not self._stopping.is_set() and advance(self.store):
                    pass
            except Exception:
                log.exception("projecting the backlog failed; it stays queued and is retried")
                self._stopping.wait(self.idle_seconds)

    def halt(self) -> None:
        """Ask :meth:`run` to return after the claim in hand."""
        self._stopping.set()
        self.store.backlog_signal.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread, then project what is left (best effort: it stays queued)."""
        self.halt()
        if self._thread is not None:
            self._thread.join(timeout)
        drain_at_stop(self.store)
