"""``cx recs rebuild``: recomputes the counts from the event log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from cx_sdk import cli
from cx_sdk.recommend import cli as recommend_cli
from cx_sdk.recommend.cli import warn_stale_counts
from cx_sdk.recommend.projector import clear, stale_shops
from cx_sdk.recommend.tables import rec_history, rec_pairs
from cx_sdk.server import CreatedShop, Settings, Store, db

from ..server.helpers import ErasureRace
from .test_engine import order


def _together(store: Store, shop_id: str) -> dict[tuple[str, str], float]:
    with store.engine.connect() as conn:
        return {
            (row.product_id, row.other_id): row.together
            for row in conn.execute(select(rec_pairs).where(rec_pairs.c.shop_id == shop_id))
        }


def test_rebuild_restores_the_counts_of_one_shop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    store = Store.open(url)
    shop_id = store.create_shop("Laden").shop.id
    store.ingest(shop_id, [order("1", "u1", ["a", "b"]), order("2", "u2", ["a", "b", "c"])])
    before = _together(store, shop_id)
    with store.engine.begin() as conn:
        clear(conn, shop_id)
    assert _together(store, shop_id) == {}
    assert cli.main(["recs", "rebuild", "--shop", shop_id, "--db", url]) == 0
    assert _together(store, shop_id) == before
    assert "2 events replayed" in capsys.readouterr().out
    assert cli.main(["recs", "rebuild", "--shop", "nope", "--db", url]) == 2
    store.close()


def test_counts_stored_before_weighting_are_flagged_until_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine, "0010")
    with engine.begin() as conn:
        conn.execute(
            rec_pairs.insert(),
            [{"shop_id": "shop_alt", "kind": "b", "product_id": "a", "other_id": "b",
              "together": 3.0}],
        )  # fmt: skip
    db.upgrade(engine)
    engine.dispose()
    store = Store.open(url)
    store.create_shop("Alt", shop_id="shop_alt")
    new = store.create_shop("Neu").shop.id
    with store.reading() as conn:
        assert stale_shops(conn) == ["shop_alt"]

    with caplog.at_level(logging.WARNING, logger="cx.recommend"):
        warn_stale_counts(store, Settings())
    assert "shop_alt" in caplog.text and "cx recs rebuild" in caplog.text
    assert new not in caplog.text

    assert cli.main(["recs", "rebuild", "--shop", "shop_alt", "--db", url]) == 0
    with store.reading() as conn:
        assert stale_shops(conn) == []
    caplog.clear()
    warn_stale_counts(store, Settings())
    assert caplog.text == ""
    store.close()


def test_an_erase_during_a_rebuild_leaves_nothing_the_rebuild_wrote(
    store: Store, shop: CreatedShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop_id = shop.shop.id
    store.ingest(shop_id, [order("1", "u-gone", ["a", "b"]), order("2", "u-kept", ["c"])])
    with store.engine.begin() as conn:
        clear(conn, shop_id)  # no counts for the erase to wait on: only the rebuild's
    race = ErasureRace()
    monkeypatch.setattr(recommend_cli, "project", race.hold(recommend_cli.project))
    race.run(store, shop_id, "u-gone", lambda: recommend_cli.rebuild(store, shop_id))
    with store.engine.connect() as conn:
        visitors = {
            row.visitor
            for row in conn.execute(select(rec_history).where(rec_history.c.shop_id == shop_id))
        }
    assert visitors == {"u:u-kept"}
