"""Rebuild the analytics of a shop from its event log (backfills, older data, new KPIs).

The log is replayed in storage order through the same projector ingest uses, in chunks of
their own transactions. Events stored while a rebuild runs are projected by ingest and not
replayed: the rebuild stops at the last event id it saw when it started.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import orjson
from sqlalchemy import delete, func, select

from ..server.ingest_rules import Prepared
from ..server.store import Store
from ..server.tables import events
from . import aggregates
from .tables import TABLES

CHUNK = 5000


def _prepared(row: Any) -> Prepared:
    wire = orjson.loads(row.body)
    return Prepared(
        message_id=row.message_id,
        type=row.type,
        event=row.event,
        stage=row.stage,
        channel=row.channel,
        user_id=row.user_id,
        anonymous_id=row.anonymous_id,
        timestamp=row.timestamp,
        original_timestamp=row.original_timestamp,
        sent_at=row.sent_at,
        received_at=row.received_at,
        wire=wire,
        traits=dict(wire.get("traits") or {}),
        consent=None,
    )


def rebuild(
    store: Store,
    shop_id: str,
    progress: Callable[[int], None] | None = None,
    on: date | None = None,
) -> int:
    """Drop the shop's analytics and replay its log; returns the number of events replayed."""
    with store._begin() as conn:
        for table in TABLES:
            conn.execute(delete(table).where(table.c.shop_id == shop_id))
        last = conn.execute(
            select(func.max(events.c.id)).where(events.c.shop_id == shop_id)
        ).scalar_one()
    if last is None:
        return 0
    done, after = 0, 0
    while after < last:
        with store._begin() as conn:
            rows = conn.execute(
                select(events)
                .where(events.c.shop_id == shop_id, events.c.id > after, events.c.id <= last)
                .order_by(events.c.id)
                .limit(CHUNK)
            ).all()
            if not rows:
                break
            aggregates.project(
                conn, shop_id, [_prepared(row) for row in rows], store._upsert, moves=False, on=on
            )
        after = rows[-1].id
        done += len(rows)
        if progress is not None:
            progress(done)
    return done
