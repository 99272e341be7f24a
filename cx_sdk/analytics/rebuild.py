"""Rebuild the analytics of a shop from its event log (backfills, older data, new KPIs).

The log is replayed in storage order through the same projector ingest uses, in chunks of
their own transactions. The follower's backlog is projected first; events stored while a
rebuild runs are left to the follower and not replayed: the rebuild stops at the last event id
it saw when it started.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select

from ..server import follower
from ..server.db import erasure_lock
from ..server.ingest_rules import Prepared
from ..server.store import Store
from ..server.tables import events
from . import aggregates
from .tables import TABLES

CHUNK = 20_000


def _stored(row: Any) -> Prepared:
    """The body is parsed only where the projector reads it."""
    return follower.stored(row, row.type == "alias" or row.event in aggregates.WITH_PROPERTIES)


def rebuild(
    store: Store,
    shop_id: str,
    progress: Callable[[int], None] | None = None,
    on: date | None = None,
) -> int:
    """Drop the shop's analytics and replay its log; returns the number of events replayed."""
    follower.settle(store, shop_id)
    with store.begin(projections=True) as conn:
        for table in TABLES:
            conn.execute(delete(table).where(table.c.shop_id == shop_id))
        last = conn.execute(
            select(func.max(events.c.id)).where(events.c.shop_id == shop_id)
        ).scalar_one()
    if last is None:
        return 0
    done, after = 0, 0
    while after < last:
        with store.begin(projections=True) as conn:
            erasure_lock(conn, shop_id, exclusive=False)
            rows = conn.execute(
                select(*follower.STORED)
                .where(events.c.shop_id == shop_id, events.c.id > after, events.c.id <= last)
                .order_by(events.c.id)
                .limit(CHUNK)
            ).all()
            if not rows:
                break
            aggregates.project(
                conn, shop_id, [_stored(row) for row in rows], store.upsert, moves=False, on=on
            )
        after = rows[-1].id
        done += len(rows)
        if progress is not None:
            progress(done)
    return done
