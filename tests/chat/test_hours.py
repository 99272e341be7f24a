"""Business hours, the "back at" phrase and when the out-of-office answer is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cx_sdk.chat.hours import Day, Hours, away_due, away_message, back_phrase, hours_from, local_day
from cx_sdk.widgets.config import ConfigError

# 2026-11-23 is a Monday; Berlin is UTC+1 in November.
MONDAY_0830_BERLIN = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
WEEK = Hours()  # Mon–Fri 09:00–17:00, weekend closed, Europe/Berlin


def at_berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """A November 2026 day/time in Berlin as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=1)


def test_open_between_the_hours_in_the_shops_time_zone() -> None:
    assert not WEEK.is_open(at_berlin(23, 8, 59))
    assert WEEK.is_open(at_berlin(23, 9, 0))
    assert WEEK.is_open(at_berlin(23, 16, 59))
    assert not WEEK.is_open(at_berlin(23, 17, 0))
    assert not WEEK.is_open(at_berlin(28, 12))  # Saturday


def test_open_all_day_and_closed_all_day_flags() -> None:
    hours = Hours(days=(Day("open"),) * 6 + (Day("closed"),))
    assert hours.is_open(at_berlin(23, 3))
    assert not hours.is_open(at_berlin(29, 12))  # Sunday
    assert hours.next_open(at_berlin(29, 12)) == datetime(2026, 11, 30, 0, 0, tzinfo=hours.zone)


def test_same_utc_moment_is_judged_in_the_shops_zone() -> None:
    moment = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # 09:30 Berlin, 03:30 New York
    assert WEEK.is_open(moment)
    assert not Hours(timezone="America/New_York").is_open(moment)


@pytest.mark.parametrize(
    ("now", "de", "en"),
    [
        (at_berlin(23, 8, 40), "in 20 Minuten", "in 20 minutes"),
        (at_berlin(23, 6, 0), "um 09:00 Uhr", "at 09:00."),
        (at_berlin(23, 18, 0), "morgen um 09:00 Uhr", "tomorrow at 09:00"),
        (at_berlin(27, 18, 0), "am Montag um 09:00 Uhr", "on Monday at 09:00"),
        (at_berlin(28, 10, 0), "am Montag um 09:00 Uhr", "on Monday at 09:00"),
    ],
)
def test_back_phrase_says_when_the_shop_is_back_in_german_and_english(
    now: datetime, de: str, en: str
) -> None:
    assert de in back_phrase(WEEK, now, "de")
    assert en in back_phrase(WEEK, now, "en")


def test_back_phrase_when_the_shop_never_opens() -> None:
    closed = Hours(days=(Day("closed"),) * 7)
    assert back_phrase(closed, MONDAY_0830_BERLIN, "en") == "We will answer as soon as we can."


def test_away_message_asks_for_email_only_when_missing() -> None:
    asking = away_message(WEEK, at_berlin(23, 18), "en", has_email=False)
    assert "email address" in asking and "tomorrow at 09:00" in asking
    assert "email" not in away_message(WEEK, at_berlin(23, 18), "en", has_email=True)


def test_away_answer_once_per_local_day_and_not_right_after_an_agent() -> None:
    evening = at_berlin(23, 18)
    assert away_due(WEEK, evening, away_day=None, last_agent_at=None)
    assert not away_due(WEEK, evening, away_day=local_day(WEEK, evening), last_agent_at=None)
    # The next shop-local day it may answer again (UTC date would still say the 23rd).
    next_morning = at_berlin(24, 0, 30)
    assert away_due(WEEK, next_morning, away_day=local_day(WEEK, evening), last_agent_at=None)
    assert not away_due(WEEK, evening, away_day=None, last_agent_at=evening - timedelta(minutes=4))
    assert away_due(WEEK, evening, away_day=None, last_agent_at=evening - timedelta(minutes=5))
    assert not away_due(WEEK, at_berlin(23, 10), away_day=None, last_agent_at=None)


def test_daylight_saving_change_keeps_local_opening_time() -> None:
    # Berlin leaves summer time on 2026-10-25: 09:00 local is 07:00 UTC before, 08:00 after.
    before = datetime(2026, 10, 23, 7, 0, tzinfo=UTC)
    after = datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    assert WEEK.is_open(before) and WEEK.is_open(after)
    assert not WEEK.is_open(after - timedelta(minutes=1))


def test_hours_validation_names_the_problem() -> None:
    day = {"mode": "hours", "from": "09:00", "to": "17:00"}
    assert hours_from("Europe/Vienna", [day] * 7, True).timezone == "Europe/Vienna"
    with pytest.raises(ConfigError, match="unknown time zone"):
        hours_from("Mars/Olympus", [day] * 7, True)
    with pytest.raises(ConfigError, match="seven"):
        hours_from("Europe/Berlin", [day] * 6, True)
    with pytest.raises(ConfigError, match="after opening"):
        hours_from("Europe/Berlin", [{"mode": "hours", "from": "18:00", "to": "09:00"}] * 7, True)
    with pytest.raises(ConfigError, match="09:00"):
        hours_from("Europe/Berlin", [{"mode": "hours", "from": "9", "to": "17:00"}] * 7, True)
    with pytest.raises(ConfigError, match="one of"):
        hours_from("Europe/Berlin", [{"mode": "sometimes"}] * 7, True)
    late = hours_from(
        "Europe/Berlin", [{"mode": "hours", "from": "20:00", "to": "24:00"}] * 7, True
    )
    assert late.is_open(at_berlin(23, 23, 59))
    assert late.as_json()[0] == {"mode": "hours", "from": "20:00", "to": "24:00"}
