"""Engines and migrations. SQLite gets WAL and a busy timeout; PostgreSQL is used as is."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    String,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


# JSON columns through orjson: the stdlib encoder was a visible share of ingest time. Errors
# name the statement but not its parameters: those are shoppers' events, and errors get logged.
ENGINE_OPTIONS: dict[str, Any] = {
    "json_serializer": _json_text,
    "json_deserializer": orjson.loads,
    "hide_parameters": True,
}


# Above this many values a membership test binds one parameter (a JSON array on SQLite, an
# array on PostgreSQL): SQLAlchemy renders an IN list value by value on every execution,
# which cost the projectors more than the reads themselves on batches of thousands of keys.
SHORT_IN = 32


def among(conn: Connection, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values`` that costs the same to build for five values or five thousand."""
    values = list(values)
    if len(values) <= SHORT_IN:
        return column.in_(values)  # type: ignore[no-any-return]
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    each = func.json_each(bindparam(None, _json_text(values), type_=String)).table_valued("value")
    return column.in_(select(each.c.value))  # type: ignore[no-any-return]


def _redacted(message: Any) -> Any:
    if not isinstance(message, str):
        return message
    return "\n".join(
        "DETAIL:  (values withheld: shoppers' data)" if line.startswith("DETAIL:") else line
        for line in message.split("\n")
    )


def _without_values(context: Any) -> None:
    """PostgreSQL's DETAIL quotes the values of a failing row or key ("Failing row contains
    (…)"), which ``hide_parameters`` does not reach: shoppers' data in every log line of the
    error and of its cause. Code that needs them still has ``error.orig.diag``."""
    for error in (context.original_exception, context.sqlalchemy_exception):
        if error is not None and error.args:
            error.args = (_redacted(error.args[0]), *error.args[1:])


def erasure_lock(conn: Connection, shop_id: str, *, exclusive: bool) -> None:
    """On PostgreSQL, a lock on the shop until the transaction ends that erasing takes alone
    and projecting (the follower, the rebuilds) shares: a projection that read a customer's
    events before an erase committed would otherwise write back, after it, what the erase
    removed. SQLite runs one write transaction at a time and needs none."""
    if conn.dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    conn.execute(select(getattr(func, function)(func.hashtextextended(f"cx erasure {shop_id}", 0))))


# sqlite3 (3.11) binds None through its adapter protocol: two failed attribute lookups, each
# formatting an AttributeError, about 3,000 instructions per NULL and 3% of ingest. A
# registered adapter is found by one dict lookup instead; ``{}.get`` answers None, which the
# driver binds as NULL as before.
_NULL: Callable[[None], None] = cast("Callable[[None], None]", {}.get)
sqlite3.register_adapter(type(None), _NULL)


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created on first use."""
    parsed = make_url(url)
    options = {**ENGINE_OPTIONS, **options}
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **options)
        event.listen(engine, "handle_error", _without_values)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **options)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL + NORMAL: a committed transaction survives the process being killed.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (idempotent; run on every start)."""
    with engine.begin() as connection:
        config = _config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a migration from the tables (developers only)."""
    with engine.begin() as connection:
        config = _config(engine)
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
