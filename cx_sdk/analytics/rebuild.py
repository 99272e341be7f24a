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

CHUNK = 20_000


COLUMNS = (
    events.c.id,
    events.c.message_id,
    events.c.type,
    events.c.event,
    events.c.stage,
    events.c.channel,
    events.c.user_id,
    events.c.anonymous_id,
    events.c.timestamp,
    events.c.body,
)


def _prepared(row: Any) -> Prepared:
    """A stored event as the projector sees it; the body is parsed only where it is read."""
    _, message_id, kind, event, stage, channel, user_id, anonymous_id, timestamp, body = row
    wanted = kind == "alias" or event in aggregates.WITH_PROPERTIES
    wire = orjson.loads(body) if wanted else {}
    return Prepared(
        message_id,
        kind,
        event,
        stage,
        channel,
        user_id,
        anonymous_id,
        timestamp,
        timestamp,
        None,
        timestamp,
        wire,
        {},
        None,
    )


def rebuild(
    store: Store,
    shop_id: str,
    progress: Callable[[int], None] | None = None,
    on: date | None = None,
) -> int:
    """Drop the shop's analytics and replay its log; returns the number of events replayed."""
    with store.begin() as conn:
        for table in TABLES:
            conn.execute(delete(table).where(table.c.shop_id == shop_id))
        last = conn.execute(
            select(func.max(events.c.id)).where(events.c.shop_id == shop_id)
        ).scalar_one()
    if last is None:
        return 0
    done, after = 0, 0
    while after < last:
        with store.begin() as conn:
            rows = conn.execute(
                select(*COLUMNS)
                .where(events.c.shop_id == shop_id, events.c.id > after, events.c.id <= last)
                .order_by(events.c.id)
                .limit(CHUNK)
            ).all()
            if not rows:
                break
            aggregates.project(
                conn, shop_id, [_prepared(row) for row in rows], store.upsert, moves=False, on=on
            )
        after = rows[-1].id
        done += len(rows)
        if progress is not None:
            progress(done)
    return done
