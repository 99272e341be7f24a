"""Shared fixtures: a Store on SQLite and on PostgreSQL, the collector app, a shop.

PostgreSQL tests get a schema of their own, so parallel runs never see each other's rows.
Without a reachable server they skip, unless CX_REQUIRE_SERVICES=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from cx_sdk.server import CreatedShop, Settings, Store, create_app
from cx_sdk.server import db as server_db

POSTGRES_URL = os.environ.get(
    "CX_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_SERVICES = os.environ.get("CX_REQUIRE_SERVICES") == "1"


def service_missing(reason: str) -> None:
    """Skip locally, fail in CI: a service-backed test must never pass by not running."""
    if REQUIRE_SERVICES:
        pytest.fail(f"CX_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:
        return False
    return True


def _postgres_store(available: bool) -> Iterator[Store]:
    if not available:
        service_missing(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    schema = f"cx_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = server_db.make_engine(
        POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"}
    )
    server_db.upgrade(engine)
    store = Store(engine)
    try:
        yield store
    finally:
        store.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database (both files) migrated once: copying it costs a fifth of
    migrating each test's database afresh. Closed, so its logs are checkpointed away."""
    folder = tmp_path_factory.mktemp("migrated")
    Store.open(f"sqlite:///{folder / 'cx.db'}").close()
    return folder


def _sqlite_store(template: Path, folder: Path) -> Store:
    for name in ("cx.db", "cx.projections.db"):
        shutil.copyfile(template / name, folder / name)
    return Store.open(f"sqlite:///{folder / 'cx.db'}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on each engine."""
    if request.param == "postgres":
        yield from _postgres_store(request.getfixturevalue("postgres_available"))
        return
    store = _sqlite_store(request.getfixturevalue("migrated_sqlite"), tmp_path)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(migrated_sqlite: Path, tmp_path: Path) -> Iterator[Store]:
    """SQLite only, for tests about the embedded default itself."""
    store = _sqlite_store(migrated_sqlite, tmp_path)
    yield store
    store.close()


@pytest.fixture
def settings() -> Settings:
    return Settings(
        database_url="sqlite://",
        migrate_on_start=False,
        key_cache_seconds=0,
        secret_key="test-secret-key",
        public_url="http://testserver",
        # The follower as a thread: tests that start an application by the hundred would
        # otherwise start a process each (tests/server/test_follower_process.py covers it).
        follower_process=False,
    )


@pytest.fixture
def app(store: Store, settings: Settings) -> Starlette:
    return create_app(settings, store)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def shop(store: Store) -> CreatedShop:
    return store.create_shop("Testladen", "custom", domain="testladen.example")
