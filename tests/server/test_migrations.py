from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, select, text

from cx_sdk.server import Store, db, follower
from cx_sdk.server.app import plugin_routes
from cx_sdk.server.tables import metadata

from ..recommend.test_engine import order


def _only_projections(name: Any, kind: str, parents: Any) -> bool:
    return kind != "schema" or name == db.PROJECTIONS


def test_migrations_create_exactly_the_declared_tables(store: Store) -> None:
    plugin_routes()  # plugins register their tables on import
    with store.engine.connect() as conn:
        if not db.split(conn):
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        else:
            # SQLite: the core tables in the core file, the projections in theirs.
            core, projections = MetaData(), MetaData()
            for table in metadata.tables.values():
                if table.name in db.projection_tables():
                    table.to_metadata(projections, schema=db.PROJECTIONS)
                else:
                    table.to_metadata(core)
            diff = compare_metadata(MigrationContext.configure(conn), core)
            options = {"include_schemas": True, "include_name": _only_projections}
            diff += compare_metadata(MigrationContext.configure(conn, opts=options), projections)
    assert diff == [], "tables.py and the migrations disagree; add a migration"


def test_upgrade_is_idempotent_and_reaches_head(store: Store) -> None:
    db.upgrade(store.engine)
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    assert (
        db.current_revision(store.engine) == ScriptDirectory.from_config(config).get_current_head()
    )


def _tables(conn: Any, schema: str) -> set[str]:
    rows = conn.exec_driver_sql(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'")
    return {row[0] for row in rows}


def test_a_sqlite_database_keeps_its_projections_in_a_file_beside_it(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'cx.db'}")
    assert (tmp_path / "cx.projections.db").exists()
    with store.engine.connect() as conn:
        core, projections = _tables(conn, "main"), _tables(conn, db.PROJECTIONS)
    store.close()
    assert set(db.projection_tables()) <= projections
    assert {"analytics_daily", "rec_pairs", "rec_totals", "follower_cursor"} <= projections
    assert not core & projections
    assert {"events", "profiles", "orders", "projection_backlog", "counters"} <= core


def test_upgrading_moves_the_projections_their_rows_and_the_backlogs_failures(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    # An older release: one file, no projection file attached.
    engine = create_engine(url)
    db.upgrade(engine, "0011")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO rec_pairs (shop_id, kind, product_id, other_id, together) "
                "VALUES ('s', 'b', 'a', 'b', 2.0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO counters (shop_id, name, value) VALUES ('s', 'rec_baskets', 7), "
                "('s', 'customers_erased', 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO projection_backlog (id, shop_id, event_ids, created_at, attempts, "
                "last_error) VALUES (3, 's', '[1]', '2026-12-01 10:00:00', 5, 'ValueError: x'), "
                "(4, 's', '[2]', '2026-12-01 10:00:00', 0, NULL)"
            )
        )
    with engine.connect() as conn:
        assert "rec_pairs" in _tables(conn, "main")
    engine.dispose()
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()

    store = Store.open(url)
    with store.engine.connect() as conn:
        assert "rec_pairs" in _tables(conn, db.PROJECTIONS)
        assert "rec_pairs" not in _tables(conn, "main")
        assert conn.execute(text("SELECT together FROM rec_pairs")).scalar_one() == 2.0
        totals = conn.execute(text("SELECT name, value FROM rec_totals")).all()
        counters = conn.execute(text("SELECT name FROM counters")).scalars().all()
        position = conn.execute(select(follower.POSITION)).scalar_one()
    assert totals == [("rec_baskets", 7)] and counters == ["customers_erased"]
    assert position == 0
    waiting, aside = follower.backlog(store)
    assert waiting == 1
    assert [(row.id, row.attempts, row.last_error) for row in aside] == [(3, 5, "ValueError: x")]
    store.close()


def _shop_with_projections(url: str) -> tuple[Store, str]:
    store = Store.open(url)
    shop = store.create_shop("Laden").shop.id
    store.defer_projectors = True
    store.ingest(shop, [order("1", "u1", ["a", "b"])])
    follower.drain(store)
    return store, shop


def _pairs(store: Store) -> int:
    with store.reading() as conn:
        return int(conn.execute(text("SELECT count(*) FROM rec_pairs")).scalar_one())


def _reopened(url: str, caplog: pytest.LogCaptureFixture, gone: Path | None = None) -> Store:
    """The database opened again, its file ``gone`` (with its log) deleted first."""
    if gone is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{gone}{suffix}").unlink(missing_ok=True)
    with caplog.at_level(logging.WARNING, logger="cx.db"):
        return Store.open(url)


def _projects_a_new_batch(store: Store, shop: str) -> None:
    store.defer_projectors = True
    store.ingest(shop, [order("2", "u2", ["c", "d"])])
    assert follower.drain(store) == 1
    assert _pairs(store) > 0
    store.close()


def test_a_projection_file_left_from_a_deleted_database_is_emptied(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    store, _ = _shop_with_projections(url)
    assert _pairs(store) > 0
    store.close()
    store = _reopened(url, caplog, tmp_path / "cx.db")
    assert "emptied" in caplog.text
    assert _pairs(store) == 0
    store.close()


def test_a_lost_projection_file_is_made_again_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    store, shop = _shop_with_projections(url)
    store.close()
    store = _reopened(url, caplog, tmp_path / "cx.projections.db")
    assert "rec_pairs" in caplog.text and "rebuild" in caplog.text
    assert _pairs(store) == 0
    _projects_a_new_batch(store, shop)


def test_a_cursor_ahead_of_the_core_database_is_set_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    store, shop = _shop_with_projections(url)
    with store.begin(projections=True) as conn:
        conn.execute(text("UPDATE follower_cursor SET position = 1000"))
    store.close()
    store = _reopened(url, caplog)
    assert "ahead of the core database" in caplog.text
    _projects_a_new_batch(store, shop)
