from __future__ import annotations

import traceback
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from cx_sdk.server import Store
from cx_sdk.server.bulk import CHUNK, STEP, BulkInsert, _pieces
from cx_sdk.server.db import SHORT_IN, among
from cx_sdk.server.follower import runs
from cx_sdk.server.tables import counters


def test_long_membership_test_finds_what_a_short_one_finds(store: Store) -> None:
    names = [f"counter-{i}" for i in range(SHORT_IN * 3)]
    with store.begin() as conn:
        conn.execute(
            counters.insert(),
            [{"shop_id": "s", "name": name, "value": i} for i, name in enumerate(names)],
        )
        conn.execute(counters.insert(), [{"shop_id": "other", "name": names[0], "value": 7}])
    wanted = [*names[::2], "missing", 'it\'s "quoted"']
    with store.reading() as conn:
        found = conn.execute(
            select(counters.c.name).where(
                counters.c.shop_id == "s", among(conn, counters.c.name, wanted)
            )
        ).scalars()
        short = conn.execute(
            select(counters.c.name).where(
                counters.c.shop_id == "s", among(conn, counters.c.name, wanted[:3])
            )
        ).scalars()
        assert sorted(found) == sorted(names[::2])
        assert sorted(short) == sorted(names[:6:2])


def test_backlog_ids_are_read_as_ranges_joining_near_neighbours() -> None:
    assert runs([]) == []
    assert runs([1, 2, 3, 10, 11], gap=64) == [(1, 11)]
    assert runs([1, 2, 3, 100, 101], gap=64) == [(1, 3), (100, 101)]
    assert runs([5], gap=0) == [(5, 5)]


def test_database_errors_leave_the_statements_parameters_out(store: Store) -> None:
    row = {"shop_id": "s", "name": "kunde@example.de", "value": 1}
    with store.begin() as conn:
        conn.execute(counters.insert(), [row])
    with pytest.raises(IntegrityError) as raised, store.begin() as conn:
        conn.execute(counters.insert(), [row])
    message = str(raised.value)
    assert "INSERT INTO counters" in message
    assert "[parameters:" not in message and "parameters hidden" in message
    # Nor the values PostgreSQL's DETAIL quotes ("Key (shop_id, name)=(s, kunde@…) already
    # exists"), in the error or in its cause, as a logged traceback prints both.
    logged = "".join(traceback.format_exception(raised.value))
    assert "kunde@example.de" not in logged
    assert "UniqueViolation" in logged or "UNIQUE constraint failed" in logged


def test_rows_go_into_statements_of_few_sizes_so_each_sql_is_compiled_once() -> None:
    seen: set[int] = set()
    for count in range(1200):
        sizes = _pieces(count)
        assert sum(sizes) == count
        assert all(size == CHUNK or size % STEP == 0 or size < STEP for size in sizes)
        seen.update(sizes)
    assert len(seen) <= CHUNK // STEP + STEP


@pytest.mark.parametrize("count", [1, 15, 16, 100, 250, 251, 517])
def test_a_bulk_upsert_of_any_size_writes_and_returns_every_row(store: Store, count: int) -> None:
    def adding(base: Any) -> Any:
        return base.on_conflict_do_update(
            index_elements=[counters.c.shop_id, counters.c.name],
            set_={"value": counters.c.value + base.excluded.value},
        ).returning(counters.c.name)

    upsert = BulkInsert(store.engine.dialect, counters, adding)
    rows = [{"shop_id": "s", "name": f"c{i}", "value": i} for i in range(count)]
    with store.begin() as conn:
        first = upsert.run(conn, rows)
        again = upsert.run(conn, rows)
    assert sorted(row[0] for row in first) == sorted(row[0] for row in again)
    assert sorted(row[0] for row in first) == sorted(row["name"] for row in rows)
    with store.reading() as conn:
        stored = dict(conn.execute(select(counters.c.name, counters.c.value)).all())
    assert stored == {row["name"]: 2 * row["value"] for row in rows}


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.psycopg.dialect()], ids=str)
@pytest.mark.parametrize("count", [1, 2, 3, 16, 250])
def test_a_statement_of_many_rows_is_sqlalchemys_own_without_compiling_it(
    dialect: Any, count: int
) -> None:
    def bumping(base: Any) -> Any:
        # A constant bound after the rows: it must stay after them at every row count.
        return base.on_conflict_do_update(
            index_elements=[counters.c.shop_id, counters.c.name],
            set_={"value": counters.c.value + 7},
        )

    keys = ("shop_id", "name", "value")
    upsert = BulkInsert(dialect, counters, bumping)
    sql, order = upsert._compile(keys, count)
    own_sql, own_order = upsert._compile_rows(keys, count)
    assert upsert._templates[keys] is not None
    assert sql == own_sql

    def values(order: list[Any] | None) -> list[Any] | None:
        return None if order is None else [getattr(item, "value", item) for item in order]

    assert values(order) == (None if own_order == list(range(3 * count)) else values(own_order))
    assert values(order)[-1] == 7  # type: ignore[index]


def test_none_is_bound_as_null_through_the_registered_adapter(store: Store) -> None:
    with store.begin() as conn:
        typed = conn.exec_driver_sql(
            "SELECT ? IS NULL" if store.dialect == "sqlite" else "SELECT %s::text IS NULL",
            (None,),
        ).scalar_one()
    assert typed in (1, True)
