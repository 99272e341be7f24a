"""The collector's storage: shops and keys, the event log, profiles, projections, privacy.

Sync SQLAlchemy Core; async callers go through ``run_in_threadpool``. Every method takes the
shop id and every statement filters on it: no query crosses shops.
"""

from __future__ import annotations

import hashlib
import secrets as secrets_module
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)

from ..events.fields import timestamp_to_wire
from ..privacy import hash_email
from . import db, follower, parts, projections
from .bulk import BulkInsert, PointRead, insert_for
from .clock import naive_utc, utcnow
from .expiring import Expiring
from .handoff import Handoff
from .ingest_rules import Prepared, prepare
from .tables import (
    api_keys,
    counters,
    events,
    identities,
    integration_state,
    metadata,
    order_timeline,
    orders,
    privacy_requests,
    profiles,
    projection_backlog,
    shipments,
    shops,
    webhook_deliveries,
)

PLATFORMS = ("custom", "shopify", "woocommerce")


def hash_key(key: str) -> str:
    """Keys are random and long, so one SHA-256 is the right cost at rest (no KDF needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(kind: str) -> str:
    return f"{'wk' if kind == 'write' else 'adm'}_{secrets_module.token_urlsafe(24)}"


@dataclass(frozen=True)
class Shop:
    id: str
    name: str
    platform: str
    domain: str | None
    default_locale: str
    store_pii: bool
    secrets: dict[str, Any] = field(repr=False)
    created_at: datetime


@dataclass(frozen=True)
class CreatedShop:
    shop: Shop
    write_key: str = field(repr=False)
    admin_token: str = field(repr=False)


@dataclass
class IngestResult:
    """What happened to each message of a call, for per-event answers."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    no_consent: list[str] = field(default_factory=list)

    def as_response(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "success": not self.rejected,
            "accepted": len(self.accepted),
            "duplicates": len(self.duplicates),
            "dropped_no_consent": len(self.no_consent),
        }
        if self.rejected:
            body["rejected"] = self.rejected
        return body


@dataclass(frozen=True)
class ShipmentView:
    shipment_id: str
    status: str
    raw_status: str | None
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    promised_delivery_date: str | None
    estimated_delivery_date: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    status_at: datetime
    events: list[dict[str, Any]]


class OrderHead(NamedTuple):
    """Read on every tracking render: a tuple is built from the row at C speed."""

    order_id: str
    user_id: str | None
    email_hash: str | None
    revision: str | None


def _order_by_ref(*columns: Any, refs: int = 1) -> Any:
    """``columns`` of the order a shopper's reference names: its id first, else its number;
    with more ``refs`` (bound as ``ref``, ``ref1``, …), the first of them that names one.

    The order's id as the COALESCE of index lookups, which stops at the first that finds
    one: with ``order_id = ref OR order_number = ref`` SQLite walks all of the shop's orders
    (85 µs per lookup on the bench shop, growing with it), and index lookups joined by
    UNION ALL and sorted cost twice this.
    """
    shop: Any = bindparam("shop")
    lookups = []
    for index in range(refs):
        ref: Any = bindparam("ref" if index == 0 else f"ref{index}")
        for column in (orders.c.order_id, orders.c.order_number):
            lookups.append(
                select(orders.c.order_id)
                .where(orders.c.shop_id == shop, column == ref)
                .limit(1)
                .scalar_subquery()
            )
    return select(*columns).where(
        orders.c.shop_id == shop, orders.c.order_id == func.coalesce(*lookups)
    )


# Built once: building a statement costs more than running it against SQLite.
_SHOP = select(shops).where(shops.c.id == bindparam("shop"))
_BACKLOG = projection_backlog.insert()
# Every this many batches, ingest deletes the backlog rows the follower has passed (SQLite).
PRUNE_EVERY = 100
_ORDER = _order_by_ref(*orders.c)
_HEAD_COLUMNS = (orders.c.order_id, orders.c.user_id, orders.c.email_hash, orders.c.revision)
# By how many references a shopper's input may name an order ("1001" or "#1001"): one read.
_ORDER_HEADS = {refs: _order_by_ref(*_HEAD_COLUMNS, refs=refs) for refs in (1, 2)}


@dataclass(frozen=True)
class OrderView:
    """The order projection widgets read: current state plus its timeline."""

    order_id: str
    order_number: str | None
    user_id: str | None
    email_hash: str | None
    status: str
    currency: str | None
    total: str | None
    refunded: str | None
    return_status: str | None
    placed_at: datetime | None
    paid_at: datetime | None
    cancelled_at: datetime | None
    shipments: list[ShipmentView]
    timeline: list[dict[str, Any]]


def _shop(row: Any) -> Shop:
    return Shop(
        id=row.id,
        name=row.name,
        platform=row.platform,
        domain=row.domain,
        default_locale=row.default_locale,
        store_pii=bool(row.store_pii),
        secrets=dict(row.secrets or {}),
        created_at=row.created_at,
    )


SQLITE_AUTOCHECKPOINT = 1000  # SQLite's default threshold, in pages


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # SQLite has one writer; queueing in-process beats spinning on its busy lock.
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        self._key_cache: Expiring[str | None] = Expiring(lambda: self.key_cache_seconds)
        self._shop_cache: Expiring[Shop | None] = Expiring(lambda: self.key_cache_seconds)
        self._statements: dict[Any, Any] = {}
        # What the optional parts build once per store and use on every request.
        self.parts: dict[str, Any] = {}
        self._write_connection: Connection | None = None
        # The writer's checkpoint threshold in pages: None is SQLite's own (1,000); the
        # collector raises it while its checkpoint thread runs (``server/checkpoint.py``).
        self.autocheckpoint_pages: int | None = None
        self._writer_pages: int | None = None
        self._readers = threading.local()
        self._readers_lock = threading.Lock()
        self._reader_connections: list[Connection] = []
        self.key_cache_seconds = 5.0
        # The collector defers the parts' projectors to its follower (server/follower.py);
        # used as a library (CLI, demo seeding, tests) the store runs them inline.
        self.defer_projectors = False
        self.backlog_signal = threading.Event()
        self.backlog_batches = 0  # batches this process deferred (the follower's pacing)
        self.handoff = Handoff()
        # False while the follower runs in a process of its own (``cx serve`` on SQLite).
        self.hand_over = True

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        engine = db.make_engine(url)
        if migrate:
            db.upgrade(engine)
        return cls(engine)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for short reads on hot paths. On SQLite each thread keeps its own open:
        a pool checkout and return cost more than the indexed read itself. Nothing stays
        open between reads (SQLite starts no transaction for a SELECT; the rollback ends
        SQLAlchemy's)."""
        if self._write_lock is None:
            with self.engine.connect() as conn:
                yield conn
            return
        kept: Connection | None = getattr(self._readers, "conn", None)
        if kept is None or kept.closed:
            kept = self._readers.conn = self.engine.connect()
            self._readers.driver = kept.connection.driver_connection
            with self._readers_lock:
                self._reader_connections.append(kept)
        try:
            yield kept
        finally:
            kept.rollback()

    def driver_read(self, statement: Any) -> PointRead:
        """A prebuilt SELECT compiled once for this database's driver (``bulk.PointRead``)."""
        read: PointRead | None = self._statements.get(statement)
        if read is None:
            read = self._statements[statement] = PointRead(statement, self.engine.dialect)
        return read

    def point_read(self, statement: Any, params: dict[str, Any]) -> Any:
        """One row of a prebuilt SELECT through the driver (``bulk.PointRead``)."""
        read = self.driver_read(statement)
        kept: Connection | None = getattr(self._readers, "conn", None)
        if kept is not None and not kept.closed:
            # SQLite, this thread's connection already open: straight to its driver (a SELECT
            # begins no transaction there, so nothing needs ``reading``'s rollback).
            return read.first(self._readers.driver, params)
        with self.reading() as conn:
            return read.run(conn, params)

    def close(self) -> None:
        with self._readers_lock:
            for reader in self._reader_connections:
                reader.close()
            self._reader_connections.clear()
        if self._write_connection is not None:
            self._write_connection.close()
            self._write_connection = None
        self.engine.dispose()

    def _writer_connection(self) -> Connection:
        """The connection SQLite writes go through (held under ``_write_lock``)."""
        if self._write_connection is None or self._write_connection.closed:
            self._write_connection = self.engine.connect()
            self._writer_pages = None
        if self._writer_pages != self.autocheckpoint_pages:
            # Through the driver: SQLAlchemy would begin a transaction around the PRAGMA.
            pages = self.autocheckpoint_pages or SQLITE_AUTOCHECKPOINT
            driver: Any = self._write_connection.connection.driver_connection
            driver.execute(f"PRAGMA wal_autocheckpoint={int(pages)}").close()
            self._writer_pages = self.autocheckpoint_pages
        return self._write_connection

    # --- plumbing ------------------------------------------------------------------------

    def begin(self, projections: bool = False) -> Any:
        """A write transaction (one at a time per process on SQLite), for parts that keep their
        own aggregates outside ingest: rebuilds and periodic jobs. ``projections``: it writes
        projection tables, whose file's lock it takes first (``db.lock_projections``)."""
        return _Writer(self, projections)

    def _bulk(
        self, shape: str, table: Table, finish: Callable[[Any], Any] = lambda base: base
    ) -> BulkInsert:
        """The multi-row INSERT into ``table`` completed by ``finish`` (its ON CONFLICT and
        RETURNING), kept per ``shape``: its SQL is compiled once per row count."""
        return insert_for(self.engine.dialect, f"store {shape}", table, finish)

    def upsert(
        self,
        conn: Connection,
        table: Table,
        rows: Sequence[dict[str, Any]],
        keys: Sequence[str],
        update_columns: Sequence[str] = (),
    ) -> None:
        """INSERT … ON CONFLICT (keys) DO UPDATE/NOTHING on either engine."""
        if not rows:
            return
        if update_columns:
            # One statement may not update a row twice (PostgreSQL): the last row wins, as it
            # would have row by row.
            rows = list({tuple(row[key] for key in keys): row for row in rows}.values())

        def finish(base: Any) -> Any:
            if not update_columns:
                return base.on_conflict_do_nothing(index_elements=list(keys))
            return base.on_conflict_do_update(
                index_elements=list(keys),
                set_={name: base.excluded[name] for name in update_columns},
            )

        self._bulk(f"upsert {table.name} {keys} {update_columns}", table, finish).run(conn, rows)

    def _insert_new(
        self, conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
    ) -> dict[str, int]:
        """Insert rows whose key is new; return ``message_id → id`` of those inserted."""
        statement = self._bulk(
            f"insert-new {table.name} {keys}",
            table,
            lambda base: base.on_conflict_do_nothing(index_elements=list(keys)).returning(
                table.c.message_id, table.c.id
            ),
        )
        return {row[0]: row[1] for row in statement.run(conn, rows)}

    # --- shops and keys ------------------------------------------------------------------

    def create_shop(
        self,
        name: str,
        platform: str = "custom",
        domain: str | None = None,
        secrets: dict[str, Any] | None = None,
        default_locale: str = "de",
        shop_id: str | None = None,
    ) -> CreatedShop:
        if platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}, got {platform!r}")
        if not name.strip():
            raise ValueError("shop name must not be empty")
        if domain is not None and self.shop_by_domain(domain) is not None:
            raise ValueError(f"a shop with domain {domain!r} exists already")
        shop_id = shop_id or f"shop_{secrets_module.token_hex(6)}"
        now = utcnow()
        write_key, admin_token = new_key("write"), new_key("admin")
        with self.begin() as conn:
            conn.execute(
                shops.insert().values(
                    id=shop_id,
                    name=name.strip(),
                    platform=platform,
                    domain=domain.lower() if domain else None,
                    default_locale=default_locale,
                    store_pii=False,
                    secrets=dict(secrets or {}),
                    created_at=now,
                )
            )
            for kind, key in (("write", write_key), ("admin", admin_token)):
                conn.execute(api_keys.insert().values(**_key_row(shop_id, kind, key, now)))
        shop = self.get_shop(shop_id)
        assert shop is not None
        return CreatedShop(shop, write_key, admin_token)

    def get_shop(self, shop_id: str) -> Shop | None:
        with self.reading() as conn:
            row = conn.execute(_SHOP, {"shop": shop_id}).first()
        return None if row is None else _shop(row)

    def cached_shop(self, shop_id: str) -> Shop | None:
        """``get_shop`` for hot paths (ingest, widgets), cached like keys (same expiry) and
        forgotten on any change made through this store."""
        return self._shop_cache.get(shop_id, self.get_shop, shop_id)

    def shop_by_domain(self, domain: str) -> Shop | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(shops).where(shops.c.domain == domain.lower())).first()
        return None if row is None else _shop(row)

    def list_shops(self) -> list[Shop]:
        with self.engine.connect() as conn:
            return [_shop(row) for row in conn.execute(select(shops).order_by(shops.c.created_at))]

    def update_shop(self, shop_id: str, **values: Any) -> None:
        allowed = {"name", "domain", "default_locale", "store_pii"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
        with self.begin() as conn:
            conn.execute(update(shops).where(shops.c.id == shop_id).values(**values))
        self._shop_cache.clear()

    def update_shop_secrets(self, shop_id: str, **values: Any) -> None:
        """Merge platform secrets (None removes one)."""
        self._merge_secrets(shop_id, values, keep_existing=False)

    def shop_secret_default(self, shop_id: str, name: str, value: str) -> str:
        """The shop's secret ``name``, stored as ``value`` first if it has none. Atomic: renders
        racing to create a signing key all get the one that was stored."""
        return str(self._merge_secrets(shop_id, {name: value}, keep_existing=True)[name])

    def _merge_secrets(
        self, shop_id: str, values: dict[str, Any], keep_existing: bool
    ) -> dict[str, Any]:
        with self.begin() as conn:
            # Locked until commit (PostgreSQL; SQLite writers are serialised): a concurrent
            # merge reads what this one wrote instead of overwriting it.
            row = conn.execute(
                select(shops.c.secrets).where(shops.c.id == shop_id).with_for_update()
            ).first()
            if row is None:
                raise KeyError(shop_id)
            merged = dict(row.secrets or {})
            for key, value in values.items():
                if value is None:
                    merged.pop(key, None)
                elif not (keep_existing and merged.get(key)):
                    merged[key] = value
            if merged != (row.secrets or {}):
                conn.execute(update(shops).where(shops.c.id == shop_id).values(secrets=merged))
        self._shop_cache.clear()
        return merged

    def rotate_key(self, shop_id: str, kind: str) -> str:
        """Revoke the shop's current key of ``kind`` (write or admin) and issue a new one."""
        if kind not in ("write", "admin"):
            raise ValueError("kind must be write or admin")
        if self.get_shop(shop_id) is None:
            raise KeyError(shop_id)
        key, now = new_key(kind), utcnow()
        with self.begin() as conn:
            conn.execute(
                update(api_keys)
                .where(
                    api_keys.c.shop_id == shop_id,
                    api_keys.c.kind == kind,
                    api_keys.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            conn.execute(api_keys.insert().values(**_key_row(shop_id, kind, key, now)))
        self._key_cache.clear()
        return key

    def live_key_hashes(self, shop_id: str, kind: str) -> list[str]:
        """Hashes of the shop's unrevoked keys of ``kind`` (read on every use, never cached:
        a console session ends the moment its admin token is rotated)."""
        with self.reading() as conn:
            return [
                str(row[0])
                for row in conn.execute(
                    select(api_keys.c.key_hash).where(
                        api_keys.c.shop_id == shop_id,
                        api_keys.c.kind == kind,
                        api_keys.c.revoked_at.is_(None),
                    )
                )
            ]

    def shop_for_key(self, key: str, kind: str) -> str | None:
        """The shop id a live key of ``kind`` belongs to (cached briefly per worker)."""
        digest = hash_key(key)
        return self._key_cache.get(f"{kind}:{digest}", self._shop_for_digest, digest, kind)

    def _shop_for_digest(self, digest: str, kind: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_keys.c.shop_id).where(
                    api_keys.c.key_hash == digest,
                    api_keys.c.kind == kind,
                    api_keys.c.revoked_at.is_(None),
                )
            ).first()
        return None if row is None else str(row.shop_id)

    # --- ingest --------------------------------------------------------------------------

    def ingest(
        self,
        shop_id: str,
        messages: Sequence[Any],
        received_at: datetime | None = None,
        max_event_bytes: int = 32 * 1024,
        *,
        check: Callable[[Connection], None] | None = None,
    ) -> IngestResult:
        """Validate, dedupe and store messages; update profiles and projections.

        The same path serves ``/v1/batch`` and every integration: a fact stored once is
        stored once, whoever delivers it. ``check`` runs first inside the write transaction,
        for a caller whose events depend on stored state no erase may remove meanwhile:
        what it raises leaves nothing stored, what it writes is stored with the events.
        """
        job = self._prepare(shop_id, messages, received_at, max_event_bytes)
        self._store_alone(job, check)
        return job.result

    def ingest_many(
        self, calls: Sequence[tuple[str, Sequence[Any], datetime | None]], max_event_bytes: int
    ) -> list[IngestResult | Exception]:
        """Several ingest calls ``(shop_id, messages, received_at)`` in one transaction
        (group commit); per call its result, or what it raised. A commit writes each page it
        changed once, so batches that share index and profile pages cost less together than
        one after the other. If the transaction fails, each call is stored alone, so one
        call's fault is answered to that call only."""
        prepared: list[_Batch | Exception] = []
        for shop_id, messages, received_at in calls:
            try:
                prepared.append(self._prepare(shop_id, messages, received_at, max_event_bytes))
            except Exception as error:
                prepared.append(error)
        jobs = [job for job in prepared if isinstance(job, _Batch)]
        try:
            with self.begin(projections=not self.defer_projectors) as conn:
                written = self._store_batches(conn, jobs)
        except Exception as error:
            if len(jobs) == 1:
                jobs[0].error = error
            else:
                for job in jobs:
                    try:
                        self._store_alone(job)
                    except Exception as alone:
                        job.error = alone
        else:
            self._written(written)
        return [job if isinstance(job, Exception) else job.error or job.result for job in prepared]

    def _store_alone(self, job: _Batch, check: Callable[[Connection], None] | None = None) -> None:
        with self.begin(projections=not self.defer_projectors) as conn:
            if check is not None:
                check(conn)
            written = self._store_batches(conn, [job])
        self._written(written)

    def _prepare(
        self,
        shop_id: str,
        messages: Sequence[Any],
        received_at: datetime | None,
        max_event_bytes: int,
    ) -> _Batch:
        shop = self.cached_shop(shop_id)
        if shop is None:
            raise KeyError(shop_id)
        received = naive_utc(received_at) if received_at else utcnow()
        job = _Batch(shop_id)
        for raw in messages:
            outcome = prepare(raw, received, store_pii=shop.store_pii, max_bytes=max_event_bytes)
            if isinstance(outcome, dict):
                job.result.rejected.append(outcome)
            elif outcome.no_consent:
                job.result.no_consent.append(outcome.message_id)
            elif outcome.message_id in job.ready:
                job.result.duplicates.append(outcome.message_id)
            else:
                job.ready[outcome.message_id] = outcome
        return job

    def _written(self, written: list[_Written]) -> None:
        """After the commit: answer each batch, hand its events to the follower."""
        for job, accepted, duplicates, handed in written:
            job.result.accepted = accepted
            job.result.duplicates += duplicates
            if handed:
                # Committed: from here on the follower may claim them.
                self.handoff.put(handed)

    def _store_batches(self, conn: Connection, jobs: list[_Batch]) -> list[_Written]:
        """Store the batches' events with their identities, profiles and projections, one
        shop at a time; per batch, what was accepted, what was a duplicate and the
        ``(id, event)`` pairs the follower is handed."""
        written: list[_Written] = []
        by_shop: dict[str, list[_Batch]] = {}
        for job in jobs:
            by_shop.setdefault(job.shop_id, []).append(job)
        for shop_id, batches in by_shop.items():
            # A messageId in two batches of a group is the first one's, as it would be if
            # they were committed one after the other.
            ready: dict[str, Prepared] = {}
            for job in batches:
                for message_id, item in job.ready.items():
                    ready.setdefault(message_id, item)
            inserted = self._insert_new(
                conn,
                events,
                [item.row(shop_id) for item in ready.values()],
                ("shop_id", "message_id"),
            )
            fresh = [item for item in ready.values() if item.message_id in inserted]
            accepted = [
                [mid for mid, item in job.ready.items() if mid in inserted and ready[mid] is item]
                for job in batches
            ]
            deferred = False
            if fresh:
                self._link_identities(conn, shop_id, fresh)
                self._update_profiles(conn, shop_id, fresh)
                projections.project(conn, shop_id, fresh, self.upsert)
                deferred = self._hand_to_parts(
                    conn, shop_id, fresh, [[inserted[mid] for mid in mine] for mine in accepted]
                )
            dropped = sum(len(job.result.no_consent) for job in batches)
            if dropped:
                self._bump(conn, shop_id, "dropped_no_consent", dropped)
            for job, mine in zip(batches, accepted, strict=True):
                handed = (
                    [(inserted[mid], job.ready[mid]) for mid in mine]
                    if deferred and self.hand_over
                    else []
                )
                kept = set(mine)
                duplicates = [mid for mid in job.ready if mid not in kept]
                written.append((job, mine, duplicates, handed))
        return written

    def _hand_to_parts(
        self, conn: Connection, shop_id: str, fresh: list[Prepared], batches: list[list[int]]
    ) -> bool:
        """Run the parts' projectors now, or leave the batches (their event ids, one list per
        ingest call) to the follower (True).

        Deferred, the ids go to the backlog in this transaction, so an acknowledged event is
        projected even if the process dies before the follower ran. One backlog row per call,
        grouped or not: the follower's pacing and claims count calls."""
        projectors = parts.collect("projectors")
        if not projectors:
            return False
        if not self.defer_projectors:
            for projector in projectors:
                projector(conn, shop_id, fresh, self.upsert)
            return False
        created = utcnow()
        rows = [
            {"shop_id": shop_id, "event_ids": orjson.dumps(ids).decode(), "created_at": created}
            for ids in batches
            if ids
        ]
        conn.execute(_BACKLOG, rows)
        before, self.backlog_batches = self.backlog_batches, self.backlog_batches + len(rows)
        if (
            self.dialect == "sqlite"
            and before // PRUNE_EVERY != self.backlog_batches // PRUNE_EVERY
        ):
            follower.prune_rows(conn)
        self.backlog_signal.set()
        return True

    def _link_identities(self, conn: Connection, shop_id: str, fresh: list[Prepared]) -> None:
        links: dict[str, dict[str, Any]] = {}
        for item in fresh:
            if item.type == "alias":
                previous = item.wire.get("previousId")
                if previous and previous != item.user_id:
                    links[previous] = {"anonymous_id": previous, "user_id": item.user_id}
            elif item.user_id and item.anonymous_id:
                links[item.anonymous_id] = {
                    "anonymous_id": item.anonymous_id,
                    "user_id": item.user_id,
                }
        rows = [{"shop_id": shop_id, "linked_at": utcnow(), **link} for link in links.values()]
        self.upsert(conn, identities, rows, ("shop_id", "anonymous_id"), ("user_id", "linked_at"))

    def _update_profiles(self, conn: Connection, shop_id: str, fresh: list[Prepared]) -> None:
        changes: dict[str, dict[str, Any]] = {}
        for item in fresh:
            if not item.user_id:
                continue
            change = changes.setdefault(
                item.user_id,
                {"first": item.timestamp, "last": item.timestamp, "traits": {}, "consent": None},
            )
            change["first"] = min(change["first"], item.timestamp)
            change["last"] = max(change["last"], item.timestamp)
            change["traits"].update(item.traits)
            if item.consent is not None:
                change["consent"] = item.consent
        if not changes:
            return
        # Seen-only users (no traits, no consent): one statement, no read.
        seen_only = [
            {
                "shop_id": shop_id,
                "user_id": user_id,
                "email_hash": None,
                "traits": {},
                "consent": None,
                "first_seen": change["first"],
                "last_seen": change["last"],
            }
            for user_id, change in changes.items()
            if not change["traits"] and change["consent"] is None
        ]
        if seen_only:
            self._touch_profiles().run(conn, seen_only)
        changed = [user_id for user_id, c in changes.items() if c["traits"] or c["consent"]]
        if not changed:
            return
        existing = {
            row.user_id: row
            for row in conn.execute(
                select(profiles).where(
                    profiles.c.shop_id == shop_id, profiles.c.user_id.in_(changed)
                )
            )
        }
        rows = []
        for user_id in changed:
            change, old = changes[user_id], existing.get(user_id)
            traits = {**(old.traits if old else {}), **change["traits"]}
            rows.append(
                {
                    "shop_id": shop_id,
                    "user_id": user_id,
                    "email_hash": traits.get("email_hash") or (old.email_hash if old else None),
                    "traits": traits,
                    "consent": change["consent"] or (old.consent if old else None),
                    "first_seen": min(change["first"], old.first_seen) if old else change["first"],
                    "last_seen": max(change["last"], old.last_seen) if old else change["last"],
                }
            )
        self.upsert(
            conn,
            profiles,
            rows,
            ("shop_id", "user_id"),
            ("email_hash", "traits", "consent", "first_seen", "last_seen"),
        )

    def _touch_profiles(self) -> BulkInsert:
        """Insert a profile or widen its first/last seen, in SQL both engines share."""

        def finish(base: Any) -> Any:
            excluded = base.excluded
            return base.on_conflict_do_update(
                index_elements=["shop_id", "user_id"],
                set_={
                    "first_seen": case(
                        (excluded.first_seen < profiles.c.first_seen, excluded.first_seen),
                        else_=profiles.c.first_seen,
                    ),
                    "last_seen": case(
                        (excluded.last_seen > profiles.c.last_seen, excluded.last_seen),
                        else_=profiles.c.last_seen,
                    ),
                },
            )

        return self._bulk("touch profiles", profiles, finish)

    def _bump(self, conn: Connection, shop_id: str, name: str, amount: int) -> None:
        updated = conn.execute(
            update(counters)
            .where(counters.c.shop_id == shop_id, counters.c.name == name)
            .values(value=counters.c.value + amount)
        )
        if updated.rowcount == 0:
            self.upsert(
                conn,
                counters,
                [{"shop_id": shop_id, "name": name, "value": amount}],
                ("shop_id", "name"),
            )

    def counter(self, shop_id: str, name: str) -> int:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(counters.c.value).where(
                    counters.c.shop_id == shop_id, counters.c.name == name
                )
            ).first()
        return 0 if row is None else int(row.value)

    # --- integrations --------------------------------------------------------------------

    def record_webhook(
        self,
        shop_id: str,
        platform: str,
        delivery_id: str,
        topic: str,
        headers: dict[str, str],
        body: bytes,
        user_id: str | None = None,
    ) -> bool:
        """Persist a raw delivery before it is mapped; False when it was seen before."""
        with self.begin() as conn:
            statement = self._bulk(
                "record webhook",
                webhook_deliveries,
                lambda base: base.on_conflict_do_nothing(
                    index_elements=["shop_id", "platform", "delivery_id"]
                ).returning(webhook_deliveries.c.id),
            )
            inserted = statement.run(
                conn,
                [
                    {
                        "shop_id": shop_id,
                        "platform": platform,
                        "delivery_id": delivery_id,
                        "topic": topic,
                        "user_id": user_id,
                        "headers": headers,
                        "body": body,
                        "received_at": utcnow(),
                    }
                ],
            )
        return bool(inserted)

    def finish_webhook(
        self,
        shop_id: str,
        platform: str,
        delivery_id: str,
        error: str | None = None,
        user_id: str | None = None,
    ) -> None:
        """Mark a delivery processed. A processed body is dropped: it holds customer data the
        events now carry in their own, minimised form. A failed one is kept for replay."""
        values: dict[str, Any] = {"processed_at": utcnow(), "error": error}
        if user_id is not None:
            values["user_id"] = user_id
        if error is None:
            values["body"] = b""
        with self.begin() as conn:
            conn.execute(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.shop_id == shop_id,
                    webhook_deliveries.c.platform == platform,
                    webhook_deliveries.c.delivery_id == delivery_id,
                )
                .values(**values)
            )

    def get_state(self, shop_id: str, kind: str, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(integration_state.c.value).where(
                    integration_state.c.shop_id == shop_id,
                    integration_state.c.kind == kind,
                    integration_state.c.key == key,
                )
            ).first()
        return None if row is None else dict(row.value)

    def put_state(self, shop_id: str, kind: str, key: str, value: dict[str, Any]) -> None:
        with self.begin() as conn:
            self.upsert(
                conn,
                integration_state,
                [
                    {
                        "shop_id": shop_id,
                        "kind": kind,
                        "key": key,
                        "value": value,
                        "updated_at": utcnow(),
                    }
                ],
                ("shop_id", "kind", "key"),
                ("value", "updated_at"),
            )

    def record_privacy_request(
        self, shop_id: str, kind: str, user_id: str | None, payload: dict[str, Any]
    ) -> int:
        with self.begin() as conn:
            result = conn.execute(
                privacy_requests.insert().values(
                    shop_id=shop_id,
                    user_id=user_id,
                    kind=kind,
                    created_at=utcnow(),
                    payload=payload,
                )
            )
        return int(result.inserted_primary_key[0])

    def privacy_requests(self, shop_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(privacy_requests)
                .where(privacy_requests.c.shop_id == shop_id)
                .order_by(privacy_requests.c.id)
            )
            return [_jsonable(dict(row._mapping)) for row in rows]

    # --- reading -------------------------------------------------------------------------

    def _anonymous_ids(self, conn: Connection, shop_id: str, user_ids: Iterable[str]) -> list[str]:
        ids = list(user_ids)
        if not ids:
            return []
        rows = conn.execute(
            select(identities.c.anonymous_id).where(
                identities.c.shop_id == shop_id, identities.c.user_id.in_(ids)
            )
        )
        return [row.anonymous_id for row in rows]

    def iter_events(
        self,
        shop_id: str,
        *,
        event: str | None = None,
        user_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Events in storage order (id), each as wire dict plus ``receivedAt``."""
        with self.engine.connect() as conn:
            query = select(events).where(events.c.shop_id == shop_id, events.c.id > after)
            if event is not None:
                query = query.where(events.c.event == event)
            if user_id is not None:
                anonymous = self._anonymous_ids(conn, shop_id, [user_id])
                query = query.where(
                    or_(events.c.user_id == user_id, events.c.anonymous_id.in_(anonymous))
                )
            if since is not None:
                query = query.where(events.c.timestamp >= naive_utc(since))
            if until is not None:
                query = query.where(events.c.timestamp < naive_utc(until))
            rows = conn.execute(query.order_by(events.c.id).limit(limit)).all()
        for row in rows:
            yield row.id, event_out(row)

    def journey(self, shop_id: str, user_id: str) -> dict[str, Any]:
        """A customer's events across ids and channels, in time order, grouped by stage."""
        with self.engine.connect() as conn:
            anonymous = self._anonymous_ids(conn, shop_id, [user_id])
            rows = conn.execute(
                select(events)
                .where(
                    events.c.shop_id == shop_id,
                    or_(events.c.user_id == user_id, events.c.anonymous_id.in_(anonymous)),
                )
                .order_by(events.c.timestamp, events.c.id)
            ).all()
            profile = conn.execute(
                select(profiles).where(profiles.c.shop_id == shop_id, profiles.c.user_id == user_id)
            ).first()
        stages: dict[str, list[dict[str, Any]]] = {
            stage: []
            for stage in ("awareness", "consideration", "purchase", "retention", "advocacy")
        }
        timeline = []
        for row in rows:
            item = event_out(row)
            timeline.append(item)
            if row.stage in stages:
                stages[row.stage].append(item)
        return {
            "userId": user_id,
            "anonymousIds": anonymous,
            "traits": dict(profile.traits) if profile else {},
            "channels": sorted({row.channel for row in rows}),
            "stages": stages,
            "timeline": timeline,
        }

    def order_head(self, shop_id: str, order_ref: str, *more_refs: str) -> OrderHead | None:
        """Who an order (by platform id or number) belongs to, and its revision: enough to
        check a shopper's proof and a cached rendering without loading the order. With
        ``more_refs`` (at most one): the first reference that names an order, in one read."""
        params = {"shop": shop_id, "ref": order_ref}
        for index, ref in enumerate(more_refs, 1):
            params[f"ref{index}"] = ref
        row = self.point_read(_ORDER_HEADS[1 + len(more_refs)], params)
        return None if row is None else OrderHead._make(row)

    def get_order(self, shop_id: str, order_ref: str) -> OrderView | None:
        """The order by platform id or by the number the shopper knows."""
        with self.engine.connect() as conn:
            row = conn.execute(_ORDER, {"shop": shop_id, "ref": order_ref}).first()
            if row is None:
                return None
            shipment_rows = conn.execute(
                select(shipments)
                .where(shipments.c.shop_id == shop_id, shipments.c.order_id == row.order_id)
                .order_by(shipments.c.shipped_at, shipments.c.shipment_id)
            ).all()
            timeline_rows = conn.execute(
                select(order_timeline)
                .where(
                    order_timeline.c.shop_id == shop_id, order_timeline.c.order_id == row.order_id
                )
                .order_by(order_timeline.c.at, order_timeline.c.id)
            ).all()
        timeline = [
            {
                "event": t.event,
                "status": t.status,
                "shipment_id": t.shipment_id,
                "at": t.at.replace(tzinfo=UTC),
                **dict(t.data or {}),
            }
            for t in timeline_rows
        ]
        return OrderView(
            order_id=row.order_id,
            order_number=row.order_number,
            user_id=row.user_id,
            email_hash=row.email_hash,
            status=row.status,
            currency=row.currency,
            total=row.total,
            refunded=row.refunded,
            return_status=row.return_status,
            placed_at=_aware(row.placed_at),
            paid_at=_aware(row.paid_at),
            cancelled_at=_aware(row.cancelled_at),
            shipments=[
                ShipmentView(
                    shipment_id=s.shipment_id,
                    status=s.status,
                    raw_status=s.raw_status,
                    carrier=s.carrier,
                    tracking_number=s.tracking_number,
                    tracking_url=s.tracking_url,
                    promised_delivery_date=s.promised_delivery_date,
                    estimated_delivery_date=s.estimated_delivery_date,
                    shipped_at=_aware(s.shipped_at),
                    delivered_at=_aware(s.delivered_at),
                    status_at=s.status_at.replace(tzinfo=UTC),
                    events=[t for t in timeline if t["shipment_id"] == s.shipment_id],
                )
                for s in shipment_rows
            ],
            timeline=timeline,
        )

    # --- privacy -------------------------------------------------------------------------

    def _subject(
        self, conn: Connection, shop_id: str, user_id: str | None, email: str | None
    ) -> tuple[list[str], list[str], list[str]]:
        """Every id that belongs to the customer: user ids, anonymous ids, order ids."""
        user_ids = {user_id} if user_id else set()
        digest = hash_email(email) if email else None
        if digest:
            for table in (profiles, orders):
                user_ids |= {
                    row.user_id
                    for row in conn.execute(
                        select(table.c.user_id).where(
                            table.c.shop_id == shop_id,
                            table.c.email_hash == digest,
                            table.c.user_id.is_not(None),
                        )
                    )
                }
        anonymous = set(self._anonymous_ids(conn, shop_id, user_ids))
        if digest:
            # A guest known only by email elsewhere (a chat that gave one): that table's
            # anonymous id is theirs.
            for table in metadata.sorted_tables:
                if table in (profiles, orders) or not {
                    "shop_id",
                    "email_hash",
                    "anonymous_id",
                } <= set(table.c.keys()):
                    continue
                anonymous |= {
                    row.anonymous_id
                    for row in conn.execute(
                        select(table.c.anonymous_id).where(
                            table.c.shop_id == shop_id,
                            table.c.email_hash == digest,
                            table.c.anonymous_id.is_not(None),
                        )
                    )
                }
        email_filter = [orders.c.email_hash == digest] if digest else []
        order_rows = conn.execute(
            select(orders.c.order_id, orders.c.anonymous_id).where(
                orders.c.shop_id == shop_id,
                or_(
                    orders.c.user_id.in_(list(user_ids)),
                    orders.c.anonymous_id.in_(list(anonymous)),
                    *email_filter,  # a guest order is found by its email
                ),
            )
        ).all()
        order_ids = [row.order_id for row in order_rows]
        # A guest's anonymous id is theirs too: its events go with the order.
        anonymous |= {row.anonymous_id for row in order_rows if row.anonymous_id}
        return sorted(user_ids), sorted(anonymous), order_ids

    def _integration_state_filter(
        self,
        conn: Connection,
        shop_id: str,
        user_ids: list[str],
        anonymous: list[str],
        email: str | None,
    ) -> ColumnElement[bool] | None:
        """Where ``integration_state`` holds rows the parts say name the customer
        (``customer_states`` hook: the table has no customer columns of its own); None when
        it holds none."""
        email_hash = hash_email(email) if email else None
        keys: set[tuple[str, str]] = set()
        for find in parts.collect("customer_states"):
            keys |= find(conn, shop_id, user_ids, anonymous, email_hash)
        if not keys:
            return None
        return and_(
            integration_state.c.shop_id == shop_id,
            tuple_(integration_state.c.kind, integration_state.c.key).in_(sorted(keys)),
        )

    def _customer_filters(
        self, table: Table, user_ids: list[str], anonymous: list[str], order_ids: list[str]
    ) -> list[Any]:
        filters: list[Any] = []
        if "user_id" in table.c and user_ids:
            filters.append(table.c.user_id.in_(user_ids))
        if "anonymous_id" in table.c and anonymous:
            filters.append(table.c.anonymous_id.in_(anonymous))
        if "order_id" in table.c and order_ids:
            filters.append(table.c.order_id.in_(order_ids))
        return filters

    def _customer_tables(self) -> list[Table]:
        return [
            table
            for table in metadata.sorted_tables
            if "shop_id" in table.c
            and any(name in table.c for name in ("user_id", "anonymous_id", "order_id"))
        ]

    def export_customer(
        self, shop_id: str, user_id: str | None = None, email: str | None = None
    ) -> dict[str, Any]:
        """Everything stored about one customer, table by table."""
        if not user_id and not email:
            raise ValueError("user_id or email is required")
        with self.engine.connect() as conn:
            user_ids, anonymous, order_ids = self._subject(conn, shop_id, user_id, email)
            tables: dict[str, list[dict[str, Any]]] = {}
            for table in self._customer_tables():
                filters = self._customer_filters(table, user_ids, anonymous, order_ids)
                if not filters:
                    tables[str(table.name)] = []
                    continue
                rows = conn.execute(select(table).where(table.c.shop_id == shop_id, or_(*filters)))
                tables[str(table.name)] = [_jsonable(dict(row._mapping)) for row in rows]
            states = self._integration_state_filter(conn, shop_id, user_ids, anonymous, email)
            tables["integration_state"] = []
            if states is not None:
                rows = conn.execute(
                    select(integration_state)
                    .where(states)
                    .order_by(integration_state.c.kind, integration_state.c.key)
                )
                tables["integration_state"] = [_jsonable(dict(row._mapping)) for row in rows]
        return {
            "shop_id": shop_id,
            "user_ids": user_ids,
            "anonymous_ids": anonymous,
            "order_ids": order_ids,
            "tables": tables,
        }

    def erase_customer(
        self, shop_id: str, user_id: str | None = None, email: str | None = None
    ) -> dict[str, int]:
        """Delete the customer from every table that holds customer data."""
        if not user_id and not email:
            raise ValueError("user_id or email is required")
        counts: dict[str, int] = {}
        with self.begin(projections=True) as conn:
            db.erasure_lock(conn, shop_id, exclusive=True)
            user_ids, anonymous, order_ids = self._subject(conn, shop_id, user_id, email)
            for table in reversed(self._customer_tables()):
                filters = self._customer_filters(table, user_ids, anonymous, order_ids)
                if filters:
                    deleted = conn.execute(
                        delete(table).where(table.c.shop_id == shop_id, or_(*filters))
                    )
                    counts[str(table.name)] = deleted.rowcount
            if anonymous:
                deleted = conn.execute(
                    delete(identities).where(
                        identities.c.shop_id == shop_id, identities.c.anonymous_id.in_(anonymous)
                    )
                )
                counts["identities"] = counts.get("identities", 0) + deleted.rowcount
            states = self._integration_state_filter(conn, shop_id, user_ids, anonymous, email)
            counts["integration_state"] = 0
            if states is not None:
                deleted = conn.execute(delete(integration_state).where(states))
                counts["integration_state"] = deleted.rowcount
            self._bump(conn, shop_id, "customers_erased", 1)
        self.handoff.clear()
        return counts

    def erase_shop(self, shop_id: str) -> dict[str, int]:
        """Delete the shop and everything it owns (Shopify's shop/redact)."""
        counts: dict[str, int] = {}
        with self.begin(projections=True) as conn:
            db.erasure_lock(conn, shop_id, exclusive=True)
            for table in reversed(metadata.sorted_tables):
                if "shop_id" in table.c:
                    counts[str(table.name)] = conn.execute(
                        delete(table).where(table.c.shop_id == shop_id)
                    ).rowcount
            counts["shops"] = conn.execute(delete(shops).where(shops.c.id == shop_id)).rowcount
        self.handoff.clear()
        self._key_cache.clear()
        self._shop_cache.clear()
        return counts

    def count_events(self, shop_id: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(events).where(events.c.shop_id == shop_id)
                ).scalar_one()
            )

    def has_customer_data(self, shop_id: str, user_id: str) -> bool:
        """True while any table still holds a row of this user id (used by tests and audits)."""
        with self.engine.connect() as conn:
            for table in self._customer_tables():
                if "user_id" in table.c:
                    row = conn.execute(
                        select(table.c.user_id)
                        .where(and_(table.c.shop_id == shop_id, table.c.user_id == user_id))
                        .limit(1)
                    ).first()
                    if row is not None:
                        return True
        return False


@dataclass(eq=False)
class _Batch:
    """One ingest call's prepared events on their way to the writer."""

    shop_id: str
    ready: dict[str, Prepared] = field(default_factory=dict)
    result: IngestResult = field(default_factory=IngestResult)
    error: Exception | None = None


# A stored batch: it, its accepted and duplicate messageIds, the (id, event) pairs handed over.
_Written = tuple[_Batch, list[str], list[str], list[tuple[int, Prepared]]]


class _Writer:
    """A transaction, serialised per process on SQLite."""

    def __init__(self, store: Store, projections: bool) -> None:
        self.store = store
        self.projections = projections
        self._context: Any = None

    def __enter__(self) -> Connection:
        lock = self.store._write_lock
        if lock is None:
            self._context = self.store.engine.begin()
            connection: Connection = self._context.__enter__()
            return connection
        lock.acquire()
        try:
            # SQLite has one writer: it keeps one connection instead of a pool checkout (and
            # its reset) per transaction.
            connection = self.store._writer_connection()
            self._context = connection.begin()
            self._context.__enter__()
        except BaseException:
            lock.release()
            raise
        if self.projections:
            try:
                db.lock_projections(connection)
            except BaseException as error:
                self.__exit__(type(error), error, error.__traceback__)
                raise
        return connection

    def __exit__(self, *exc: Any) -> None:
        try:
            self._context.__exit__(*exc)
        finally:
            if self.store._write_lock is not None:
                self.store._write_lock.release()


def _key_row(shop_id: str, kind: str, key: str, now: datetime) -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "kind": kind,
        "key_hash": hash_key(key),
        "prefix": key[:8],
        "created_at": now,
    }


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    """A stored (naive UTC) time on the wire."""
    return timestamp_to_wire(value.replace(tzinfo=UTC))


def event_out(row: Any) -> dict[str, Any]:
    """A stored event as the read API shows it: the wire dict with corrected ``timestamp``,
    the client's ``originalTimestamp`` and ``receivedAt``."""
    body: dict[str, Any] = orjson.loads(row.body)
    body["timestamp"] = _iso(row.timestamp)
    body["originalTimestamp"] = _iso(row.original_timestamp)
    body["receivedAt"] = _iso(row.received_at)
    return body


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            out[str(key)] = _iso(value)
        elif isinstance(value, bytes):
            out[str(key)] = value.decode("utf-8", "replace")
        elif key == "body" and isinstance(value, str):
            try:
                out[str(key)] = orjson.loads(value)
            except orjson.JSONDecodeError:
                out[str(key)] = value
        else:
            out[str(key)] = value
    return out
