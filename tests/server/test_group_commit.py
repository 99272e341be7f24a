from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from cx_sdk.server import Store, projections
from cx_sdk.server.group_commit import GroupCommit
from cx_sdk.server.store import IngestResult
from cx_sdk.server.tables import projection_backlog

from .helpers import track

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def viewed() -> dict[str, Any]:
    return track("Product Viewed", {"product_id": "p1"})


def test_calls_stored_together_are_answered_each_on_their_own(store: Store) -> None:
    shop = store.create_shop("Shop").shop.id
    first, second = viewed(), viewed()
    shared = viewed()
    outcomes = store.ingest_many(
        [
            (shop, [first, shared], NOW),
            (shop, [second, shared, {"type": "track"}], NOW),
            ("no-such-shop", [viewed()], NOW),
        ],
        32 * 1024,
    )
    one, two, missing = outcomes
    assert isinstance(one, IngestResult) and isinstance(two, IngestResult)
    assert one.accepted == [first["messageId"], shared["messageId"]]
    # A messageId two calls of a group carry is the first call's, as if committed in turn.
    assert two.accepted == [second["messageId"]]
    assert two.duplicates == [shared["messageId"]]
    assert len(two.rejected) == 1
    assert isinstance(missing, KeyError)
    assert store.count_events(shop) == 3


def test_a_call_that_breaks_the_group_fails_alone(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = store.create_shop("Shop").shop.id
    original = projections.project

    def project(conn: Any, shop_id: str, fresh: Any, upsert: Any) -> None:
        if any(item.event == "Poisoned" for item in fresh):
            raise RuntimeError("this projection cannot take the batch")
        original(conn, shop_id, fresh, upsert)

    monkeypatch.setattr(projections, "project", project)
    good, bad, later = viewed(), track("Poisoned"), viewed()
    outcomes = store.ingest_many(
        [(shop, [good], NOW), (shop, [bad], NOW), (shop, [later], NOW)], 32 * 1024
    )
    assert isinstance(outcomes[1], RuntimeError)
    assert [o.accepted for o in outcomes if isinstance(o, IngestResult)] == [
        [good["messageId"]],
        [later["messageId"]],
    ]
    assert store.count_events(shop) == 2


async def test_requests_arriving_meanwhile_share_one_transaction(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = sqlite_store.create_shop("Shop").shop.id
    groups: list[int] = []
    ingest_many = sqlite_store.ingest_many

    def counted(calls: Any, max_bytes: int) -> Any:
        groups.append(len(calls))
        return ingest_many(calls, max_bytes)

    monkeypatch.setattr(sqlite_store, "ingest_many", counted)
    group = GroupCommit(sqlite_store, 32 * 1024, max_batches=4)
    batches = [[viewed() for _ in range(3)] for _ in range(10)]
    results = await asyncio.gather(*(group.ingest(shop, batch, NOW) for batch in batches))
    assert [r.accepted for r in results] == [[m["messageId"] for m in b] for b in batches]
    assert sum(groups) == 10 and max(groups) == 4 and len(groups) < 10
    assert sqlite_store.count_events(shop) == 30


async def test_a_request_that_went_away_still_has_its_batch_stored(sqlite_store: Store) -> None:
    shop = sqlite_store.create_shop("Shop").shop.id
    group = GroupCommit(sqlite_store, 32 * 1024)
    gone = asyncio.create_task(group.ingest(shop, [viewed()], NOW))
    await asyncio.sleep(0)
    gone.cancel()
    stays = await group.ingest(shop, [viewed()], NOW)
    assert len(stays.accepted) == 1
    assert sqlite_store.count_events(shop) == 2


def test_each_call_of_a_group_is_its_own_backlog_batch(store: Store) -> None:
    """The follower paces and claims by calls, grouped or not."""
    store.defer_projectors = True
    shop = store.create_shop("Shop").shop.id
    calls = [[viewed(), viewed()], [viewed()], [viewed(), viewed(), viewed()]]
    store.ingest_many([(shop, batch, NOW) for batch in calls], 32 * 1024)
    with store.reading() as conn:
        rows = conn.execute(
            select(projection_backlog.c.event_ids).order_by(projection_backlog.c.id)
        ).scalars()
        assert [len(orjson.loads(ids)) for ids in rows] == [2, 1, 3]
    assert store.backlog_batches == 3
