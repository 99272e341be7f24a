from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from cx_sdk.server import Store, db
from cx_sdk.server.app import plugin_routes
from cx_sdk.server.tables import metadata


def test_migrations_create_exactly_the_declared_tables(store: Store) -> None:
    plugin_routes()  # plugins register their tables on import
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], "tables.py and the migrations disagree; add a migration"


def test_upgrade_is_idempotent_and_reaches_head(store: Store) -> None:
    db.upgrade(store.engine)
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    assert (
        db.current_revision(store.engine) == ScriptDirectory.from_config(config).get_current_head()
    )
