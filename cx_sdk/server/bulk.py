"""Multi-row INSERTs compiled once by SQLAlchemy and run with plain driver parameters.

SQLAlchemy's per-parameter processing (type processors, parameter dictionaries, the
``insertmanyvalues`` rewrite) was the largest single cost of ingest: more than the SQLite
write itself. Here SQLAlchemy still writes the SQL — the dialect's INSERT, its ON CONFLICT
clause and RETURNING — once per row count; each call then only flattens the rows into a
tuple, converting the two types the drivers don't take as they come (DateTime on SQLite,
JSON everywhere) the way SQLAlchemy would have stored them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Date, DateTime, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from .clock import naive_utc

# Rows per statement: far below SQLite's 32,766 and PostgreSQL's 65,535 parameters for any
# of our tables, and large enough that a 500 KB batch is one or two statements.
CHUNK = 250
# Statements hold a multiple of STEP rows, or fewer than STEP: the follower's claims bring a
# new row count almost every time, and each count is a statement of its own to keep and for
# the driver to prepare; this way a table and shape have at most CHUNK // STEP + STEP of them.
STEP = 16


def _pieces(count: int) -> list[int]:
    """``count`` rows as statement sizes: full chunks, a multiple of STEP, the rest."""
    full, rest = divmod(count, CHUNK)
    sizes = [CHUNK] * full
    sizes += [size for size in (rest - rest % STEP, rest % STEP) if size]
    return sizes


Convert = Callable[[Any], Any]
# A statement around its VALUES group: head, group, tail, constants bound before and after.
_Template = tuple[str, str, str, list[Any], list[Any]]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_datetime(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite storage format (always with microseconds, naive UTC)."""
    if value is None:
        return None
    return naive_utc(value).isoformat(" ", "microseconds")


def _sqlite_date(value: date | str | None) -> str | None:
    """SQLAlchemy's SQLite storage format for a Date, also of a datetime given for one
    (sqlite3's own adapter is deprecated, and keeps a datetime's time)."""
    if value is None or isinstance(value, str):
        return value
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _converter(column_type: Any, dialect: str) -> Convert | None:
    if isinstance(column_type, JSON):
        return _json
    if isinstance(column_type, DateTime) and dialect == "sqlite":
        return _sqlite_datetime
    if isinstance(column_type, Date) and dialect == "sqlite":
        return _sqlite_date
    return None


def _memoised(convert: Convert) -> Convert:
    """A batch shares its receivedAt and sentAt and often its timestamps: convert each once."""
    seen: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        found = seen.get(value, _MISSING)
        if found is _MISSING:
            found = seen[value] = convert(value)
        return found

    return cached


_MISSING = object()


def positional(dialect: Dialect) -> Dialect:
    """``dialect`` with positional parameters on both drivers: a flat tuple is the cheapest
    thing to build per call."""
    dialect_class: Any = type(dialect)
    made: Dialect = dialect_class(paramstyle="qmark" if dialect.name == "sqlite" else "format")
    return made


def json_value(value: Any) -> Any:
    """A JSON column as ``PointRead`` gives it: text on SQLite, already parsed on PostgreSQL."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


class PointRead:
    """A SELECT compiled once and run on the driver's cursor: for reads on every widget render
    (one row) and the follower's reads of many, where SQLAlchemy's execution and result
    machinery cost more than the indexed read. Rows come back as the driver gives them (JSON
    and timestamps as text on SQLite)."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=positional(dialect))
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        # Values the statement binds itself (a LIMIT), used where the caller gives none.
        self.constants: dict[str, Any] = dict(compiled.params)
        names = self.names
        self._values: Callable[[Mapping[str, Any]], tuple[Any, ...]] = (
            itemgetter(*names) if len(names) > 1 else lambda params: tuple(params[n] for n in names)
        )

    def run(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """The first row, or None."""
        cursor = self._execute(conn, params)
        try:
            return cursor.fetchone()
        finally:
            cursor.close()

    def first(self, driver: Any, params: Mapping[str, Any]) -> Any:
        """``run`` on the driver's own connection (sqlite3's, which executes without a
        cursor object of ours)."""
        return driver.execute(self.sql, self._bound(params)).fetchone()

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        cursor = self._execute(conn, params)
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _bound(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The statement's parameters in placeholder order (its own constants where the caller
        gives none)."""
        return self._values({**self.constants, **params})

    def _execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        cursor = conn.connection.cursor()
        cursor.execute(self.sql, self._bound(params))
        return cursor


class BulkInsert:
    """``INSERT … VALUES (…), (…) [ON CONFLICT …] [RETURNING …]`` for one table and shape."""

    def __init__(
        self, dialect: Dialect, table: Table, finish: Callable[[Any], Any] = lambda base: base
    ) -> None:
        self.table = table
        self.finish = finish
        self.name = dialect.name
        self.dialect = positional(dialect)
        self._compiled: dict[tuple[tuple[str, ...], int], tuple[str, list[Any] | None]] = {}
        self._templates: dict[tuple[str, ...], _Template | None] = {}

    def _compile(self, keys: tuple[str, ...], count: int) -> tuple[str, list[Any] | None]:
        """The SQL for ``count`` rows of ``keys`` and, per placeholder, the index into the
        flattened row values (or a constant the statement itself binds); None for the
        order the rows come in."""
        found = self._compiled.get((keys, count))
        if found is not None:
            return found
        if keys not in self._templates:
            self._templates[keys] = self._template(keys)
        template = self._templates[keys]
        if template is None:
            sql, order = self._compile_rows(keys, count)
            # Row-major with nothing else bound (the usual case): the flattened rows as they are.
            found = (sql, None if order == list(range(len(keys) * count)) else order)
        else:
            head, group, tail, before, after = template
            sql = head + ", ".join([group] * count) + tail
            rows = range(len(keys) * count)
            found = (sql, [*before, *rows, *after] if before or after else None)
        self._compiled[(keys, count)] = found
        return found

    def _template(self, keys: tuple[str, ...]) -> _Template | None:
        """The one-row statement split around its VALUES group, which repeats once per row:
        SQLAlchemy takes milliseconds per statement of a few hundred rows (24 ms each, 8 % of a
        fresh collector's CPU over 30,000 events), the repetition microseconds. Checked against
        SQLAlchemy's own two-row statement; None (compile every count) if the shape differs."""
        one, one_order = self._compile_rows(keys, 1)
        two, two_order = self._compile_rows(keys, 2)
        start = one.find(" VALUES (")
        if start < 0:
            return None
        start += len(" VALUES ")
        depth, end = 0, start
        while end < len(one):
            depth += {"(": 1, ")": -1}.get(one[end], 0)
            end += 1
            if depth == 0:
                break
        group, width = one[start:end], len(keys)
        rows_at = [index for index, item in enumerate(one_order) if isinstance(item, int)]
        first = rows_at[0] if rows_at else 0
        if rows_at != list(range(first, first + width)) or [
            one_order[index] for index in rows_at
        ] != list(range(width)):
            return None
        before, after = one_order[:first], one_order[first + width :]
        expected = [*before, *range(2 * width), *after]
        if two != one[:end] + ", " + group + one[end:] or [
            item if isinstance(item, int) else item.value for item in two_order
        ] != [item if isinstance(item, int) else item.value for item in expected]:
            return None
        return one[:start], group, one[end:], before, after

    def _compile_rows(self, keys: tuple[str, ...], count: int) -> tuple[str, list[Any]]:
        """SQLAlchemy's statement for ``count`` rows and its placeholder order."""
        width = len(keys)
        base = (postgresql.insert if self.name == "postgresql" else sqlite.insert)(self.table)
        # Each row value's placeholder name → its index in the flattened rows.
        flat_index = {
            f"r{row}c{col}": row * width + col for row in range(count) for col in range(width)
        }
        values = [
            {
                key: bindparam(f"r{row}c{col}", type_=self.table.c[key].type)
                for col, key in enumerate(keys)
            }
            for row in range(count)
        ]
        compiled = self.finish(base.values(values)).compile(dialect=self.dialect)
        order: list[int | Any] = [
            flat_index[name] if name in flat_index else _Constant(compiled.params[name])
            for name in compiled.positiontup or ()
        ]
        return compiled.string, order

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Insert ``rows`` (all with the same keys); the rows RETURNING gave, if any."""
        if not rows:
            return []
        keys = tuple(rows[0])
        values_of = itemgetter(*keys) if len(keys) > 1 else lambda row: (row[keys[0]],)
        converters = [
            (index, _memoised(convert) if convert in (_sqlite_datetime, _sqlite_date) else convert)
            for index, key in enumerate(keys)
            if (convert := _converter(self.table.c[key].type, self.name)) is not None
        ]
        returned: list[Any] = []
        start = 0
        for size in _pieces(len(rows)):
            chunk = rows[start : start + size]
            start += size
            flat: list[Any] = []
            for row in chunk:
                values = list(values_of(row))
                for index, convert in converters:
                    values[index] = convert(values[index])
                flat += values
            sql, order = self._compile(keys, len(chunk))
            params = (
                flat
                if order is None
                else [flat[index] if isinstance(index, int) else index.value for index in order]
            )
            result = conn.exec_driver_sql(sql, tuple(params))
            if result.returns_rows:
                returned.extend(result.fetchall())
        return returned


_INSERTS: dict[tuple[str, str], BulkInsert] = {}


def insert_for(
    dialect: Dialect, shape: str, table: Table, finish: Callable[[Any], Any] = lambda base: base
) -> BulkInsert:
    """The ``BulkInsert`` of ``shape`` (a name for ``table`` plus ``finish``) on this kind of
    database, made once per process: its SQL is then compiled once per row count."""
    key = (dialect.name, shape)
    found = _INSERTS.get(key)
    if found is None:
        found = _INSERTS[key] = BulkInsert(dialect, table, finish)
    return found


class _Constant:
    """A value the statement binds itself (not taken from the rows)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value
