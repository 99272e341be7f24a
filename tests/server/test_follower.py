"""The parts' projectors follow ingest through the backlog: exactly once, after the
acknowledgement, to the same numbers as projecting inside the ingest transaction."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from cx_sdk.analytics.tables import analytics_customer_days, analytics_daily
from cx_sdk.recommend.tables import rec_history, rec_pairs
from cx_sdk.server import CreatedShop, Store, cli, follower, parts
from cx_sdk.server.clock import utcnow
from cx_sdk.server.handoff import Handoff
from cx_sdk.server.ingest_rules import prepare

from ..analytics.dataset import week
from ..recommend.test_engine import order
from .helpers import ErasureRace, basic, bearer

PROJECTED: tuple[Table, ...] = (analytics_daily, analytics_customer_days, rec_pairs, rec_history)


def _messages() -> list[dict[str, Any]]:
    return [*week(), *(order(str(i), f"u{i % 3}", ["a", "b", "c"][: 1 + i % 3]) for i in range(9))]


def _rows(store: Store, table: Table, shop_id: str) -> list[tuple[Any, ...]]:
    columns = [column for column in table.c if column.name != "shop_id"]
    query = select(*columns).where(table.c.shop_id == shop_id)
    if table is analytics_daily:
        # Segment movements are counted per projected batch (a customer who went new → loyal
        # within one batch moved once): the follower's batches are larger than a request's.
        query = query.where(table.c.metric != "segment_move")
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return sorted((tuple(row) for row in rows), key=repr)


def _prepared() -> Any:
    return prepare(order("1", "u-1", ["a"]), utcnow(), store_pii=False, max_bytes=1 << 20)


def _backlog(store: Store) -> int:
    """Batches still to project (on SQLite, rows behind the cursor wait for ingest to prune)."""
    return follower.backlog(store)[0]


def _ingest_in_batches(store: Store, shop_id: str, messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), 5):
        result = store.ingest(shop_id, messages[start : start + 5])
        assert not result.rejected, result.rejected


@pytest.mark.parametrize("handed_over", ["all", "none", "some"])
def test_deferred_batches_reach_the_same_numbers_as_inline_projection(
    store: Store, handed_over: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    inline, deferred = store.create_shop("Inline"), store.create_shop("Deferred")
    _ingest_in_batches(store, inline.shop.id, _messages())
    store.defer_projectors = True
    _ingest_in_batches(store, deferred.shop.id, _messages())
    read_back: list[Any] = []
    original = follower.stored
    monkeypatch.setattr(follower, "stored", lambda row: read_back.append(row) or original(row))
    held = sorted(store.handoff._held)
    let_go = held if handed_over == "none" else held[::3] if handed_over == "some" else []
    for event_id in let_go:  # as if another worker had stored them
        del store.handoff._held[event_id]

    assert _backlog(store) > 1
    assert all(_rows(store, table, deferred.shop.id) == [] for table in PROJECTED)
    assert follower.drain(store) == (len(_messages()) + 4) // 5
    assert _backlog(store) == 0
    for table in PROJECTED:
        assert _rows(store, table, deferred.shop.id) == _rows(store, table, inline.shop.id), table
    assert follower.drain(store) == 0  # nothing is projected twice
    # This process's own batches are not read back and parsed again; nothing stays held.
    assert len(read_back) == len(let_go)
    assert len(store.handoff) == 0


def test_a_held_event_is_used_only_for_the_stored_event_it_was_handed_over_as(
    store: Store, shop: CreatedShop
) -> None:
    store.defer_projectors = True
    store.ingest(shop.shop.id, [order("1", "u-1", ["a", "b"])])
    (event_id,) = store.handoff._held
    # A rolled-back insert's id reused by another worker's event: same id, another message.
    held = vars(store.handoff._held[event_id])
    store.handoff._held[event_id] = follower.Prepared(
        **{**held, "message_id": "someone-else", "user_id": "u-other"}
    )
    follower.drain(store)
    visitors = {row[0] for row in _rows(store, rec_history, shop.shop.id)}
    assert any("u-1" in visitor for visitor in visitors)
    assert not any("u-other" in visitor for visitor in visitors)


def test_the_handoff_holds_at_most_its_limit_and_lets_the_oldest_go() -> None:
    handoff = Handoff(limit=3)
    item = follower.Prepared(**{**vars(_prepared()), "message_id": "m"})
    handoff.put((event_id, item) for event_id in range(5))
    assert list(handoff.take(range(10))) == [2, 3, 4]
    assert len(handoff) == 0


def test_a_claim_lets_go_of_the_held_events_other_workers_claimed_before_it() -> None:
    handoff = Handoff()
    item = follower.Prepared(**{**vars(_prepared()), "message_id": "m"})
    handoff.put((event_id, item) for event_id in range(1, 11))
    assert list(handoff.take([5, 6])) == [5, 6]
    assert len(handoff) == 4  # 1–4 went to another worker: not held any longer
    assert list(handoff.take(range(7, 20))) == [7, 8, 9, 10]
    assert len(handoff) == 0


def test_a_batch_no_projector_can_take_is_set_aside_and_the_rest_projected(
    store: Store, shop: CreatedShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.defer_projectors = True
    store.ingest(shop.shop.id, [order("1", "u1", ["a", "b"])])
    store.ingest(shop.shop.id, [order("2", "u2", ["c", "d"])])
    real = follower.parts.collect("projectors")

    def poisoned(conn: Any, shop_id: str, fresh: list[Any], upsert: Any) -> None:
        if any(item.wire["properties"]["order_id"] == "1" for item in fresh):
            raise RuntimeError("projector bug")
        for projector in real:
            projector(conn, shop_id, fresh, upsert)

    monkeypatch.setattr(follower.parts, "collect", lambda name: (poisoned,))
    assert follower.drain(store) == 2
    pairs = {(row[1], row[2]) for row in _rows(store, rec_pairs, shop.shop.id)}
    assert ("c", "d") in pairs and ("a", "b") not in pairs
    waiting, aside = follower.backlog(store)
    assert waiting == 0 and len(aside) == 1
    assert aside[0].attempts == follower.MAX_ATTEMPTS
    assert aside[0].last_error == "RuntimeError: projector bug"
    # Readers are not held up by it: settling has nothing left to wait for.
    follower.settle(store, shop.shop.id)
    assert not follower.pending(store, shop.shop.id)

    monkeypatch.undo()
    assert follower.retry(store) == 1
    assert follower.drain(store) == 1
    pairs = {(row[1], row[2]) for row in _rows(store, rec_pairs, shop.shop.id)}
    assert ("a", "b") in pairs
    assert follower.backlog(store) == (0, [])


def test_a_database_error_leaves_the_batch_queued_without_counting_an_attempt(
    store: Store, shop: CreatedShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.defer_projectors = True
    store.ingest(shop.shop.id, [order("1", "u1", ["a", "b"])])

    def locked(*_: Any) -> None:
        raise OperationalError("UPDATE …", {}, Exception("database is locked"))

    monkeypatch.setattr(follower.parts, "collect", lambda name: (locked,))
    with pytest.raises(OperationalError):
        follower.drain(store)
    assert follower.backlog(store) == (1, [])
    monkeypatch.undo()
    assert follower.drain(store) == 1


def test_an_erased_customers_waiting_events_are_never_projected(
    store: Store, shop: CreatedShop
) -> None:
    store.defer_projectors = True
    store.ingest(shop.shop.id, [order("1", "u-gone", ["a", "b"]), order("2", "u-kept", ["c"])])
    store.erase_customer(shop.shop.id, user_id="u-gone")
    assert len(store.handoff) == 0  # nothing of the customer stays in memory either
    follower.drain(store)
    visitors = {row[0] for row in _rows(store, rec_history, shop.shop.id)}
    assert visitors and not any("u-gone" in visitor for visitor in visitors)
    assert not any(
        "u-gone" in repr(row) for row in _rows(store, analytics_customer_days, shop.shop.id)
    )


def test_an_erase_during_a_projection_leaves_nothing_the_projection_wrote(
    store: Store, shop: CreatedShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.defer_projectors = True
    store.ingest(shop.shop.id, [order("1", "u-gone", ["a", "b"]), order("2", "u-kept", ["c"])])
    race = ErasureRace()
    collect, held = parts.collect, (race.hold(), *parts.collect("projectors"))
    monkeypatch.setattr(
        follower.parts, "collect", lambda name: held if name == "projectors" else collect(name)
    )
    race.run(store, shop.shop.id, "u-gone", lambda: follower.drain(store))
    export = store.export_customer(shop.shop.id, user_id="u-gone")
    assert {name: rows for name, rows in export["tables"].items() if rows} == {}
    assert any("u-kept" in repr(row) for row in _rows(store, rec_history, shop.shop.id))


def test_concurrent_followers_project_each_batch_once(store: Store) -> None:
    inline, deferred = store.create_shop("Inline"), store.create_shop("Deferred")
    _ingest_in_batches(store, inline.shop.id, _messages())
    store.defer_projectors = True
    _ingest_in_batches(store, deferred.shop.id, _messages())
    done: list[int] = []
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            done.append(follower.drain(store))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=follow) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(done) == (len(_messages()) + 4) // 5
    for table in PROJECTED:
        assert _rows(store, table, deferred.shop.id) == _rows(store, table, inline.shop.id), table


def test_the_kpi_api_answers_with_every_acknowledged_event(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    assert store.defer_projectors  # the collector's default
    response = client.post("/v1/batch", json={"batch": week()}, headers=basic(shop.write_key))
    assert response.status_code == 200, response.text
    kpis = client.get(
        "/api/v1/kpis",
        params={"from": "2026-10-01", "to": "2026-10-07"},
        headers=bearer(shop.admin_token),
    ).json()["kpis"]
    assert kpis["orders"] == 4 and kpis["nps"] == 40.0


def test_the_served_collector_projects_in_the_background(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    response = client.post(
        "/v1/batch", json={"batch": [order("1", "u1", ["a", "b"])]}, headers=basic(shop.write_key)
    )
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 30
    while _backlog(store) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _backlog(store) == 0
    assert _rows(store, rec_pairs, shop.shop.id) != []


def _view(user: str, product: str) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Product Viewed",
        "userId": user,
        "timestamp": "2026-11-20T10:00:00Z",
        "properties": {"product_id": product, "name": product},
    }


def _viewed(store: Store, shop_id: str) -> set[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(rec_history.c.visitor, rec_history.c.product_id).where(
                rec_history.c.shop_id == shop_id
            )
        )
        return {(row.visitor, row.product_id) for row in rows}


def test_a_claim_projects_its_shops_batches_and_not_the_events_between_them(store: Store) -> None:
    first, second = store.create_shop("Erster"), store.create_shop("Zweiter")
    store.defer_projectors = True
    for shop, user, product in ((first, "u1", "p1"), (second, "u2", "p2"), (first, "u3", "p3")):
        assert not store.ingest(shop.shop.id, [_view(user, product)]).rejected

    # The first shop's two batches lie around the second shop's in the event ids.
    if store.dialect == "sqlite":
        # The cursor passes batches in id order, whoever asks: one claim takes all three, and
        # the first shop's id range around the second shop's event reads only its own.
        assert follower.project_backlog(store, first.shop.id, limit=3) == 3
        assert _viewed(store, first.shop.id) == {("u:u1", "p1"), ("u:u3", "p3")}
        assert _viewed(store, second.shop.id) == {("u:u2", "p2")}
    else:
        assert follower.project_backlog(store, first.shop.id, limit=2) == 2
        assert _viewed(store, first.shop.id) == {("u:u1", "p1"), ("u:u3", "p3")}
        assert _viewed(store, second.shop.id) == set()

    follower.drain(store)
    assert _viewed(store, first.shop.id) == {("u:u1", "p1"), ("u:u3", "p3")}
    assert _viewed(store, second.shop.id) == {("u:u2", "p2")}


def test_cx_db_backlog_reports_and_requeues_batches_set_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    store = Store.open(url)
    shop = store.create_shop("Laden")
    store.defer_projectors = True
    store.ingest(shop.shop.id, [order("1", "u1", ["a", "b"])])

    def broken(*_: Any) -> None:
        raise ValueError("kaputt")

    monkeypatch.setattr(follower.parts, "collect", lambda name: (broken,))
    follower.drain(store)
    store.close()

    assert cli.main(["db", "backlog", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "0 batch(es) waiting for the projectors, 1 set aside" in out
    assert f"shop {shop.shop.id}, {follower.MAX_ATTEMPTS} attempts: ValueError: kaputt" in out
    assert "cx db backlog --retry" in out

    assert cli.main(["db", "backlog", "--retry", "--json", "--db", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "1 batch(es) set aside are queued again"
    assert json.loads(lines[1]) == {"waiting": 1, "set_aside": []}


def test_an_idle_follower_projects_batches_another_worker_left(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    other = Store.open(url)
    shop = other.create_shop("Laden")
    other.defer_projectors = True
    other.ingest(shop.shop.id, [order("1", "u1", ["a", "b"])])
    other.close()

    store = Store.open(url, migrate=False)
    idle = follower.Follower(store, idle_seconds=0.05)
    idle.start()
    try:
        deadline = time.monotonic() + 10
        while _backlog(store) and time.monotonic() < deadline:
            time.sleep(0.02)
        # Before stop(), which would project what is left anyway.
        assert _backlog(store) == 0
        assert _rows(store, rec_pairs, shop.shop.id) != []
    finally:
        idle.stop()
    store.close()
