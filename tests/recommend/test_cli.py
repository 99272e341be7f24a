"""``cx recs rebuild``: recomputes the counts from the event log."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from cx_sdk import cli
from cx_sdk.recommend.projector import clear
from cx_sdk.recommend.tables import rec_pairs
from cx_sdk.server import Store

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
