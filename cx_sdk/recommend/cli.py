"""``cx recs rebuild [--shop ID] [--db URL]``: recompute every count from the event log.

The replay goes through the same projector that ingest runs, so a rebuilt shop and one
updated event by event hold the same numbers.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import orjson
from rich.progress import Progress
from sqlalchemy import func, select

from ..server import follower
from ..server.db import erasure_lock
from ..server.ingest_rules import Prepared, prepare
from ..server.settings import Settings
from ..server.store import Store
from ..server.tables import events
from .projector import EVENTS, clear, project, stale_shops

log = logging.getLogger("cx.recommend")

CHUNK = 2000


def rebuild(store: Store, shop_id: str, progress: Progress | None = None) -> int:
    """Replay the shop's product and order events in time order; returns how many."""
    shop = store.get_shop(shop_id)
    if shop is None:
        raise KeyError(shop_id)
    # Batches still waiting for the follower would otherwise be counted again after the replay.
    follower.settle(store, shop_id)
    where = (events.c.shop_id == shop_id, events.c.event.in_(sorted(EVENTS)))
    with store.engine.connect() as conn:
        total = int(
            conn.execute(select(func.count()).select_from(events).where(*where)).scalar_one()
        )
    task = progress.add_task(f"shop {shop_id}", total=total) if progress else None
    done = 0
    with store.begin(projections=True) as conn:
        erasure_lock(conn, shop_id, exclusive=False)
        clear(conn, shop_id)
        last = (None, 0)
        while True:
            query = select(
                events.c.id, events.c.timestamp, events.c.received_at, events.c.body
            ).where(*where)
            if last[0] is not None:
                query = query.where(
                    (events.c.timestamp > last[0])
                    | ((events.c.timestamp == last[0]) & (events.c.id > last[1]))
                )
            rows = conn.execute(query.order_by(events.c.timestamp, events.c.id).limit(CHUNK)).all()
            if not rows:
                break
            batch: list[Prepared] = []
            for row in rows:
                item = prepare(
                    orjson.loads(row.body), row.received_at, store_pii=True, max_bytes=1 << 30
                )
                if isinstance(item, Prepared):
                    batch.append(item)
            project(conn, shop_id, batch, store.upsert)
            done += len(rows)
            last = (rows[-1].timestamp, rows[-1].id)
            if progress is not None and task is not None:
                progress.update(task, advance=len(rows))
    return done


def warn_stale_counts(store: Store, settings: Settings) -> None:
    """Periodic job: say, until it is done, which shops need ``cx recs rebuild``."""
    with store.reading() as conn:
        shops = stale_shops(conn)
    if shops:
        log.warning(
            "recommendation counts of shop(s) %s follow an older rule (before weighted "
            "co-purchases); run `cx recs rebuild` to recompute them",
            ", ".join(shops),
        )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="cx recs", description="recommendations")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("rebuild", help="recompute the counts from the event log")
    command.add_argument("--shop", help="one shop (default: every shop)")
    command.add_argument("--db", help="database URL (default: CX_DATABASE_URL)")
    args = parser.parse_args(list(argv))
    settings = Settings.from_env(**({"database_url": args.db} if args.db else {}))
    store = Store.open(settings.database_url)
    try:
        shops = [args.shop] if args.shop else [shop.id for shop in store.list_shops()]
        with Progress() as progress:
            for shop_id in shops:
                try:
                    count = rebuild(store, shop_id, progress)
                except KeyError:
                    progress.console.print(f"unknown shop {shop_id!r}")
                    return 2
                progress.console.print(f"shop {shop_id}: {count} events replayed")
    finally:
        store.close()
    return 0
