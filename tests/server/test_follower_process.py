"""SQLite: the follower writes only the projection file, so it runs in a process of its own
beside ingest (``cx db follow``, started per worker by ``cx serve``)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from cx_sdk.recommend.tables import rec_history, rec_pairs
from cx_sdk.server import CreatedShop, Store, follower, parts
from cx_sdk.server.app import create_app
from cx_sdk.server.follower_process import FollowerProcess
from cx_sdk.server.settings import Settings
from cx_sdk.server.tables import projection_backlog

from ..recommend.test_engine import order
from .helpers import ErasureRace, basic


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cx.db'}"


@pytest.fixture
def deferring(url: str) -> Iterator[Store]:
    store = Store.open(url)
    store.defer_projectors = True
    yield store
    store.close()


def _pairs(store: Store, shop_id: str) -> set[tuple[str, str]]:
    query = select(rec_pairs.c.product_id, rec_pairs.c.other_id).where(
        rec_pairs.c.shop_id == shop_id, rec_pairs.c.kind == "b"
    )
    with store.reading() as conn:
        return {(row[0], row[1]) for row in conn.execute(query)}


def _backlog_ids(store: Store) -> list[int]:
    with store.reading() as conn:
        return list(conn.execute(select(projection_backlog.c.id)).scalars())


def _eventually(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_follower_projects_while_another_process_holds_the_core_files_lock(
    deferring: Store, url: str, tmp_path: Path
) -> None:
    shop = deferring.create_shop("Laden").shop.id
    deferring.ingest(shop, [order("1", "u1", ["a", "b"])])
    core = sqlite3.connect(tmp_path / "cx.db", timeout=0.1)
    core.execute("BEGIN IMMEDIATE")  # what ingest in another process holds while it writes
    try:
        other = Store.open(url, migrate=False)
        try:
            assert follower.advance(other) == 1
        finally:
            other.close()
    finally:
        core.rollback()
        core.close()
    assert ("a", "b") in _pairs(deferring, shop)
    assert follower.backlog(deferring)[0] == 0


def test_ingest_prunes_the_rows_behind_the_cursor_and_ids_are_never_reused(
    deferring: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = deferring.create_shop("Laden").shop.id
    monkeypatch.setattr("cx_sdk.server.store.PRUNE_EVERY", 2)
    deferring.ingest(shop, [order("1", "u1", ["a", "b"])])
    assert follower.advance(deferring) == 1
    first = _backlog_ids(deferring)
    assert len(first) == 1  # projected, and still there: the follower never deletes it
    deferring.ingest(shop, [order("2", "u2", ["c", "d"])])  # the second batch prunes
    second = _backlog_ids(deferring)
    assert len(second) == 1 and second[0] > first[0]
    assert follower.advance(deferring) == 1
    follower.prune(deferring)
    assert _backlog_ids(deferring) == []
    # An empty backlog hands out a new id, not one the cursor has passed.
    deferring.ingest(shop, [order("3", "u3", ["e", "f"])])
    assert _backlog_ids(deferring)[0] > second[0]
    assert follower.drain(deferring) == 1
    assert ("e", "f") in _pairs(deferring, shop)


def test_pruning_keeps_the_batches_set_aside(
    deferring: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = deferring.create_shop("Laden").shop.id
    deferring.ingest(shop, [order("1", "u1", ["a", "b"])])
    deferring.ingest(shop, [order("2", "u2", ["c", "d"])])

    def poisoned(conn: Any, shop_id: str, fresh: list[Any], upsert: Any) -> None:
        if any(item.wire["properties"]["order_id"] == "1" for item in fresh):
            raise RuntimeError("projector bug")

    monkeypatch.setattr(follower.parts, "collect", lambda name: (poisoned,))
    assert follower.drain(deferring) == 2
    waiting, aside = follower.backlog(deferring)
    assert waiting == 0 and len(aside) == 1
    assert _backlog_ids(deferring) == [aside[0].id]
    monkeypatch.undo()
    assert follower.retry(deferring) == 1
    assert follower.drain(deferring) == 1
    assert ("a", "b") in _pairs(deferring, shop)
    assert _backlog_ids(deferring) == []


def test_an_erase_waits_for_another_processs_follower_and_leaves_nothing_of_the_customer(
    deferring: Store, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = deferring.create_shop("Laden").shop.id
    deferring.ingest(shop, [order("1", "u-gone", ["a", "b"]), order("2", "u-kept", ["c"])])
    race = ErasureRace()
    collect, held = parts.collect, (race.hold(), *parts.collect("projectors"))
    monkeypatch.setattr(
        follower.parts, "collect", lambda name: held if name == "projectors" else collect(name)
    )
    other = Store.open(url, migrate=False)  # the follower's own connections and writer lock
    try:
        race.run(deferring, shop, "u-gone", lambda: follower.advance(other))
    finally:
        other.close()
    export = deferring.export_customer(shop, user_id="u-gone")
    assert {name: rows for name, rows in export["tables"].items() if rows} == {}
    with deferring.reading() as conn:
        visitors = set(
            conn.execute(select(rec_history.c.visitor).where(rec_history.c.shop_id == shop))
            .scalars()
            .all()
        )
    assert visitors == {"u:u-kept"}


def _settings(url: str) -> Settings:
    return Settings(
        database_url=url,
        migrate_on_start=False,
        key_cache_seconds=0,
        secret_key="test-secret-key",
        public_url="http://testserver",
        periodic_seconds=0,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not reaped yet is a zombie: gone for this purpose.
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"


def _post_and_see_projected(
    client: TestClient, store: Store, shop: CreatedShop, order_id: str, pair: tuple[str, str]
) -> None:
    batch = [order(order_id, f"u{order_id}", list(pair))]
    response = client.post("/v1/batch", json={"batch": batch}, headers=basic(shop.write_key))
    assert response.status_code == 200, response.text
    _eventually(lambda: pair in _pairs(store, shop.shop.id))


def test_the_served_collector_follows_in_a_process_of_its_own_and_restarts_it(
    deferring: Store, url: str
) -> None:
    shop = deferring.create_shop("Laden")
    app = create_app(_settings(url))
    with TestClient(app) as client:
        store = app.state.store
        assert store.hand_over is False
        process = app.state.follower
        assert isinstance(process, FollowerProcess)
        assert process.pid is not None and process.pid != os.getpid()
        first = process.pid
        _post_and_see_projected(client, deferring, shop, "1", ("a", "b"))
        assert len(store.handoff) == 0

        os.kill(first, signal.SIGKILL)
        _eventually(lambda: process.pid != first and _alive(process.pid))
        _post_and_see_projected(client, deferring, shop, "2", ("c", "d"))
        last = process.pid
    assert last is not None
    _eventually(lambda: not _alive(last), 10)
    assert follower.backlog(deferring) == (0, [])


def test_cx_db_follow_projects_and_ends_on_sigterm(deferring: Store, url: str) -> None:
    shop = deferring.create_shop("Laden").shop.id
    deferring.ingest(shop, [order("1", "u1", ["a", "b"])])
    child = subprocess.Popen(
        [sys.executable, "-m", "cx_sdk.cli", "db", "follow", "--db", url],
        stderr=subprocess.PIPE,
    )
    try:
        _eventually(lambda: ("a", "b") in _pairs(deferring, shop))
        child.send_signal(signal.SIGTERM)
        assert child.wait(30) == 0
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert child.stderr is not None and child.stderr.read() == b""
