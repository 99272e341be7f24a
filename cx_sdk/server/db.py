"""Engines and migrations. SQLite gets WAL and a busy timeout; PostgreSQL is used as is.

A SQLite file database is two files: the core (events, profiles, orders, the backlog …) and
the projection file beside it (``cx.projections.db``), attached to every connection under
the name ``projections``, holding the tables marked ``tables.PROJECTION``. SQLite has one
writer per file: the follower (``follower.py``) writes projections while ingest writes
events. Table names stay unique across both files, so plain names resolve on either.
"""

from __future__ import annotations

import logging
import re
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
    MetaData,
    String,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url

from .tables import follower_cursor, metadata

log = logging.getLogger("cx.db")
MIGRATIONS = Path(__file__).parent / "migrations"
PROJECTIONS = "projections"


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


def projection_tables() -> list[str]:
    """The tables kept in the projection file on SQLite."""
    return [name for name, table in metadata.tables.items() if table.info.get("projection")]


def projection_file(url: str | URL) -> Path | None:
    """Where a SQLite file database keeps its projections (``cx.db`` → ``cx.projections.db``);
    None for an in-memory database or another engine, which keep them with the rest."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return path.with_name(f"{path.stem}.{PROJECTIONS}{path.suffix or '.db'}")


def split(conn: Connection) -> bool:
    """Whether this SQLite connection has the projection file attached."""
    if conn.dialect.name != "sqlite":
        return False
    names = {row[1] for row in conn.exec_driver_sql("PRAGMA database_list")}
    return PROJECTIONS in names


def lock_projections(conn: Connection) -> None:
    """Take the projection file's write lock first, on SQLite: a transaction that writes both
    files takes them in one order (projections, then core), so it can never wait in a cycle
    with another; the follower takes only this one. A no-op elsewhere."""
    if conn.dialect.name == "sqlite":
        conn.execute(update(follower_cursor).values(position=follower_cursor.c.position))


_CREATE = re.compile(r'^(CREATE (?:UNIQUE )?(?:TABLE|INDEX))\s+("?)(\w+)\2', re.IGNORECASE)


def place_projections(conn: Connection) -> list[str]:
    """Move every projection table still in the core file (made there by a migration) into
    the projection file, with its rows and indexes; returns the tables moved. Idempotent."""
    moved = []
    for name in projection_tables():
        found = conn.exec_driver_sql(
            "SELECT type, sql FROM main.sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
            "ORDER BY type = 'index'",
            (name,),
        ).all()
        if not found:
            continue
        there = conn.exec_driver_sql(
            f"SELECT 1 FROM {PROJECTIONS}.sqlite_master WHERE type = 'table' AND name = ?",  # noqa: S608
            (name,),
        ).first()
        for kind, sql in found:
            if there is None:
                conn.exec_driver_sql(_CREATE.sub(rf'\1 {PROJECTIONS}."\3"', sql, count=1))
            if kind == "table":
                columns = ", ".join(
                    f'"{row[1]}"'
                    for row in conn.exec_driver_sql(f'PRAGMA main.table_info("{name}")')
                )
                # Names from the metadata and the file's own schema, not from input.
                conn.exec_driver_sql(
                    f'INSERT OR IGNORE INTO {PROJECTIONS}."{name}" ({columns}) '  # noqa: S608
                    f'SELECT {columns} FROM main."{name}"'
                )
        conn.exec_driver_sql(f'DROP TABLE main."{name}"')
        moved.append(name)
    return moved


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
    projections = projection_file(parsed)
    if projections is not None:
        projections.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **options)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        schemas = ["main"]
        if projections is not None:
            cursor.execute(f"ATTACH DATABASE ? AS {PROJECTIONS}", (str(projections),))
            schemas.append(PROJECTIONS)
        for schema in schemas:
            # WAL + NORMAL: a committed transaction survives the process being killed.
            cursor.execute(f"PRAGMA {schema}.journal_mode=WAL")
            cursor.execute(f"PRAGMA {schema}.synchronous=NORMAL")
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
        attached = split(connection)
        if attached and not inspect(connection).has_table("alembic_version"):
            _discard_projections(connection)
        config = _config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        if attached:
            # Migrations create and rebuild tables in the core file, whatever they hold.
            place_projections(connection)
            if revision == "head":
                _missing_projections(connection)
                _check_cursor(connection)


def _projection_file_tables(conn: Connection) -> set[str]:
    query = f"SELECT name FROM {PROJECTIONS}.sqlite_master WHERE type = 'table'"  # noqa: S608
    return {row[0] for row in conn.exec_driver_sql(query)}


def _discard_projections(conn: Connection) -> None:
    """A new core file beside an old projection file (the core deleted to start over): the
    old projections describe events this database never had."""
    stale = _projection_file_tables(conn)
    if stale:
        log.warning("a projection file without its core database was emptied: %s", PROJECTIONS)
    for name in stale:
        conn.exec_driver_sql(f'DROP TABLE {PROJECTIONS}."{name}"')


def _check_cursor(conn: Connection) -> None:
    """A cursor past every backlog id the core ever handed out means the two files do not
    belong together (one restored from an older backup): the cursor is set back, so that new
    batches are projected, and the merchant is told to rebuild."""
    issued = conn.exec_driver_sql(
        "SELECT seq FROM main.sqlite_sequence WHERE name = 'projection_backlog'"
    ).scalar()
    position = conn.execute(select(follower_cursor.c.position)).scalar()
    if position is not None and position > (issued or 0):
        log.warning(
            "the projection file is ahead of the core database (restored separately?): "
            "`cx analytics rebuild` and `cx recs rebuild` make them agree again"
        )
        conn.execute(update(follower_cursor).values(position=issued or 0))


def _missing_projections(conn: Connection) -> None:
    """A core file whose projection file was lost (not copied with it, say): its projections
    start again empty, to be rebuilt (``cx analytics rebuild``, ``cx recs rebuild``)."""
    there = _projection_file_tables(conn)
    lost = [name for name in projection_tables() if name not in there]
    if not lost:
        return
    log.warning(
        "the projection file %s lacked %s: created empty; `cx analytics rebuild` and "
        "`cx recs rebuild` fill them from the events",
        PROJECTIONS,
        ", ".join(lost),
    )
    copy = MetaData()
    for name in lost:
        metadata.tables[name].to_metadata(copy, schema=PROJECTIONS)
    copy.create_all(conn)
    conn.execute(sqlite_insert(follower_cursor).values(id=1, position=0).on_conflict_do_nothing())


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
