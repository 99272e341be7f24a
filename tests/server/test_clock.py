from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from cx_sdk.server.clock import naive_utc, utcnow


def test_an_aware_time_becomes_naive_utc_whatever_its_offset() -> None:
    vienna = timezone(timedelta(hours=1))
    assert naive_utc(datetime(2026, 11, 23, 11, 0, 0, 123456, tzinfo=vienna)) == datetime(
        2026, 11, 23, 10, 0, 0, 123456
    )
    assert naive_utc(datetime(2026, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=-5)))) == (
        datetime(2026, 3, 1, 5, 30)
    )


def test_a_naive_time_is_taken_as_utc_already() -> None:
    moment = datetime(2026, 11, 23, 10, 0)
    assert naive_utc(moment) is moment


def test_now_is_naive_utc() -> None:
    before = datetime.now(UTC).replace(tzinfo=None)
    now = utcnow()
    assert now.tzinfo is None
    assert before <= now <= datetime.now(UTC).replace(tzinfo=None)
