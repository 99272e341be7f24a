"""Business hours in the shop's time zone, and when the out-of-office answer is due.

A week is seven days, Monday first; each is open all day, closed all day, or open between two
local times. Everything is computed in the shop's zone, so a visitor abroad is told the
shop's hours and daylight-saving changes are handled by ``zoneinfo``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date

from ..widgets import i18n
from ..widgets.config import N_, ConfigError

MODES = ("hours", "open", "closed")
# No second out-of-office answer this soon after an agent wrote: the agent is around.
AGENT_GRACE = timedelta(minutes=5)
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Day:
    mode: str = "hours"
    start: time = time(9, 0)
    end: time = time(17, 0)

    def as_json(self) -> dict[str, str]:
        return {"mode": self.mode, "from": self.start.strftime("%H:%M"), "to": _end(self.end)}


def _end(value: time) -> str:
    return "24:00" if value == time.max else value.strftime("%H:%M")


WORKWEEK = (Day(),) * 5 + (Day("closed"),) * 2


@dataclass(frozen=True)
class Hours:
    timezone: str = "Europe/Berlin"
    days: tuple[Day, ...] = WORKWEEK
    ask_email: bool = True

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, now: datetime) -> datetime:
        return now.astimezone(self.zone)

    def is_open(self, now: datetime) -> bool:
        local = self.local(now)
        day = self.days[local.weekday()]
        if day.mode != "hours":
            return day.mode == "open"
        return day.start <= local.time() < day.end

    def next_open(self, now: datetime) -> datetime | None:
        """When the shop opens next (shop-local, aware); None when it never does."""
        local = self.local(now)
        for offset in range(8):
            day_date = local.date() + timedelta(days=offset)
            day = self.days[day_date.weekday()]
            if day.mode == "closed":
                continue
            start = time(0, 0) if day.mode == "open" else day.start
            opens = datetime.combine(day_date, start, tzinfo=self.zone)
            if opens > local:
                return opens
        return None

    def as_json(self) -> list[dict[str, str]]:
        return [day.as_json() for day in self.days]


def parse_clock(value: str, *, end: bool = False) -> time:
    if end and value == "24:00":
        return time.max
    match = _CLOCK.match(value.strip())
    if not match:
        raise ConfigError(N_("times look like 09:00, got %(value)s"), value=value)
    return time(int(match.group(1)), int(match.group(2)))


def day_from(data: dict[str, Any]) -> Day:
    mode = str(data.get("mode", "hours"))
    if mode not in MODES:
        raise ConfigError(N_("a day is one of %(allowed)s"), allowed=", ".join(MODES))
    if mode != "hours":
        return Day(mode)
    start = parse_clock(str(data.get("from", "")))
    stop = parse_clock(str(data.get("to", "")), end=True)
    if stop <= start:
        raise ConfigError(
            N_("closing time %(to)s must be after opening time %(from)s"),
            **{"from": str(data.get("from")), "to": str(data.get("to"))},
        )
    return Day(mode, start, stop)


def hours_from(timezone: str, days: list[dict[str, Any]], ask_email: bool) -> Hours:
    """Validated hours, as the console and the tables hand them over."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(N_("unknown time zone %(value)s"), value=timezone) from None
    if len(days) != 7:
        raise ConfigError(N_("business hours need all seven weekdays"))
    return Hours(timezone, tuple(day_from(day) for day in days), ask_email)


def back_phrase(hours: Hours, now: datetime, locale: str) -> str:
    """ "We are back in 20 minutes / at 09:00 / tomorrow at 09:00 / on Monday at 09:00"."""
    _ = i18n.translations(locale).gettext
    opens = hours.next_open(now)
    if opens is None:
        return _("We will answer as soon as we can.")
    local = hours.local(now)
    minutes = math.ceil((opens - local).total_seconds() / 60)
    clock = opens.strftime("%H:%M")
    if minutes <= 60:
        return _("We are back in %(minutes)s minutes.") % {"minutes": max(minutes, 1)}
    if opens.date() == local.date():
        return _("We are back at %(time)s.") % {"time": clock}
    if opens.date() == local.date() + timedelta(days=1):
        return _("We are back tomorrow at %(time)s.") % {"time": clock}
    weekday = format_date(opens.date(), "EEEE", locale=locale)
    return _("We are back on %(weekday)s at %(time)s.") % {"weekday": weekday, "time": clock}


def away_message(hours: Hours, now: datetime, locale: str, *, has_email: bool) -> str:
    _ = i18n.translations(locale).gettext
    text = _("Thank you for your message! Nobody is online right now.")
    text += " " + back_phrase(hours, now, locale)
    if not has_email:
        text += " " + _("Leave your email address and our answer will follow by mail.")
    return text


def local_day(hours: Hours, now: datetime) -> str:
    return hours.local(now).date().isoformat()


def away_due(
    hours: Hours,
    now: datetime,
    *,
    away_day: str | None,
    last_agent_at: datetime | None,
) -> bool:
    """Outside hours, once per conversation per shop-local day, never right after an agent."""
    if hours.is_open(now):
        return False
    if away_day == local_day(hours, now):
        return False
    return last_agent_at is None or now - last_agent_at >= AGENT_GRACE


def utc(value: datetime | None) -> datetime | None:
    """Naive UTC from the tables as an aware datetime."""
    return value.replace(tzinfo=UTC) if value is not None else None


__all__ = [
    "AGENT_GRACE",
    "Day",
    "Hours",
    "away_due",
    "away_message",
    "back_phrase",
    "hours_from",
    "local_day",
]
