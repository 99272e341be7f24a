"""The journey KPIs of a period and their trend, read from the analytics aggregates.

Definitions are in this package's README. A KPI without data is ``None`` (``null``), never 0:
"nobody answered" and "everyone was a detractor" must not look alike.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, String, func, select, type_coerce

from ..server.clock import utcnow
from .aggregates import CONVERSION_WINDOW, STEPS
from .personas import SEGMENTS
from .tables import (
    analytics_chats,
    analytics_customer_days,
    analytics_customers,
    analytics_daily,
    analytics_orders,
)

MAX_DAYS = 1100
DEFAULT_DAYS = 30
BUCKETS = ("day", "week", "month")
FUNNEL = tuple(STEPS)
STAGES = ("awareness", "consideration", "purchase", "retention", "advocacy")
# Summed over all time up to a period's end: CLV counts every order before it.
LIFETIME = ("revenue", "first_orders", "currency_orders", "currency_first_orders")
NO_CURRENCY = "XXX"  # ISO 4217's code for "no currency": orders that named none


class PeriodError(ValueError):
    """A period the caller has to fix (the message says how)."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def _read_day(name: str, raw: str | None) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        if "T" in raw or " " in raw:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return (moment.astimezone(UTC) if moment.tzinfo else moment).date()
        return date.fromisoformat(raw)
    except ValueError:
        raise PeriodError(f"{name}: must be a date like 2026-11-01, got {raw!r}") from None


def parse_period(raw_from: str | None, raw_to: str | None, today: date) -> Period:
    """``from``/``to`` are days, both included; the default is the last 30 days."""
    end = _read_day("to", raw_to) or today
    start = _read_day("from", raw_from) or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise PeriodError(f"from ({start}) must not be after to ({end})")
    if (end - start).days + 1 > MAX_DAYS:
        raise PeriodError(f"the period is longer than {MAX_DAYS} days")
    period = Period(start, end)
    try:
        period.previous()  # the churn and trend comparisons reach back one period
    except OverflowError:
        raise PeriodError(
            f"from ({start}) is too early to compare with a period before it"
        ) from None
    return period


def choose_bucket(period: Period, requested: str | None) -> str:
    if requested:
        if requested not in BUCKETS:
            raise PeriodError(f"bucket: must be one of {', '.join(BUCKETS)}, got {requested!r}")
        return requested
    return "day" if period.days <= 14 else "week" if period.days <= 120 else "month"


def buckets(period: Period, bucket: str) -> list[Period]:
    out: list[Period] = []
    start = period.start
    while start <= period.end:
        if bucket == "day":
            end = start
        elif bucket == "week":
            end = start + timedelta(days=6)
        else:
            following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
            end = following - timedelta(days=1)
        end = min(end, period.end)
        out.append(Period(start, end))
        start = end + timedelta(days=1)
    return out


@dataclass
class _Data:
    """Everything one report needs, read in a handful of indexed queries."""

    daily: dict[date, list[tuple[str, str, float]]]
    before: dict[str, dict[str, float]]  # metric → key → sum before the period (LIFETIME)
    customer_days: dict[date, list[tuple[str, int]]]
    orders: dict[date, list[str]]  # placed day → the customer of each order
    first_order: dict[str, date | None]  # of the customers with ≥ 2 orders in the period
    chats: dict[date, list[tuple[float | None, float | None]]]
    segments: dict[str, int]


def _raw(column: Any) -> Any:
    """A date or time column read as the driver gives it: SQLite's text is parsed once per
    distinct day by ``_Days`` instead of per row by the column type."""
    return type_coerce(column, String)


class _Days(dict[Any, date]):
    """Driver values (``'2026-10-01'``, ``'2026-10-01 10:30:00.000000'``, date, datetime) → day."""

    def __missing__(self, value: Any) -> date:
        if isinstance(value, str):
            day = self[value[:10]] if len(value) > 10 else date.fromisoformat(value)
        elif isinstance(value, datetime):
            day = value.date()
        else:
            day = value
        self[value] = day
        return day


def _load(conn: Connection, shop_id: str, period: Period, lookback: date) -> _Data:
    as_day = _Days()
    daily: dict[date, list[tuple[str, str, float]]] = defaultdict(list)
    for day, metric, key, value in conn.execute(
        select(
            _raw(analytics_daily.c.day),
            analytics_daily.c.metric,
            analytics_daily.c.key,
            analytics_daily.c.value,
        ).where(
            analytics_daily.c.shop_id == shop_id,
            analytics_daily.c.day >= period.start,
            analytics_daily.c.day <= period.end,
        )
    ):
        daily[as_day[day]].append((metric, key, value))
    before: dict[str, dict[str, float]] = defaultdict(dict)
    for summed in conn.execute(
        select(
            analytics_daily.c.metric,
            analytics_daily.c.key,
            func.sum(analytics_daily.c.value).label("total"),
        )
        .where(
            analytics_daily.c.shop_id == shop_id,
            analytics_daily.c.metric.in_(LIFETIME),
            analytics_daily.c.day < period.start,
        )
        .group_by(analytics_daily.c.metric, analytics_daily.c.key)
    ):
        before[summed.metric][summed.key] = float(summed.total or 0)
    customer_days: dict[date, list[tuple[str, int]]] = defaultdict(list)
    for day, customer, steps in conn.execute(
        select(
            _raw(analytics_customer_days.c.day),
            analytics_customer_days.c.customer,
            analytics_customer_days.c.steps,
        ).where(
            analytics_customer_days.c.shop_id == shop_id,
            analytics_customer_days.c.day >= period.start,
            analytics_customer_days.c.day <= period.end,
        )
    ):
        customer_days[as_day[day]].append((customer, steps))
    # The orders of the period and the one before it, whose they are: read through the
    # covering index alone. When each customer ordered first is needed only for those with two
    # orders in the period (see _orders), so it is looked up for them, not joined for all.
    order_rows = conn.execute(
        # The day, not the moment: a few dozen distinct values to parse instead of one per order.
        select(_raw(func.date(analytics_orders.c.placed_at)), analytics_orders.c.customer).where(
            analytics_orders.c.shop_id == shop_id,
            analytics_orders.c.placed_at >= datetime.combine(lookback, datetime.min.time()),
            analytics_orders.c.placed_at
            < datetime.combine(period.end + timedelta(days=1), datetime.min.time()),
            analytics_orders.c.customer.is_not(None),
        )
    ).all()
    chats: dict[date, list[tuple[float | None, float | None]]] = defaultdict(list)
    for chat in conn.execute(
        select(
            analytics_chats.c.day,
            analytics_chats.c.first_response_seconds,
            analytics_chats.c.resolution_seconds,
        ).where(
            analytics_chats.c.shop_id == shop_id,
            analytics_chats.c.day >= period.start,
            analytics_chats.c.day <= period.end,
        )
    ):
        chats[chat.day].append((chat.first_response_seconds, chat.resolution_seconds))
    segments = {
        row.segment: int(row.n)
        for row in conn.execute(
            select(analytics_customers.c.segment, func.count().label("n"))
            .where(
                analytics_customers.c.shop_id == shop_id,
                analytics_customers.c.segment.is_not(None),
            )
            .group_by(analytics_customers.c.segment)
        )
    }
    orders: dict[date, list[str]] = defaultdict(list)
    in_period: Counter[str] = Counter()
    for placed_at, customer in order_rows:
        day = as_day[placed_at]
        orders[day].append(customer)
        if day >= period.start:
            in_period[customer] += 1
    # A trend bucket lies inside the period: whoever ordered twice in a bucket did in the period.
    twice = [customer for customer, count in in_period.items() if count >= 2]
    first_order: dict[str, date | None] = dict.fromkeys(twice)
    for start in range(0, len(twice), 500):
        for customer, first_day in conn.execute(
            select(
                analytics_customers.c.customer, _raw(analytics_customers.c.first_order_day)
            ).where(
                analytics_customers.c.shop_id == shop_id,
                analytics_customers.c.customer.in_(twice[start : start + 500]),
            )
        ):
            first_order[customer] = None if first_day is None else as_day[first_day]
    return _Data(
        daily=daily,
        before=before,
        customer_days=customer_days,
        orders=orders,
        first_order=first_order,
        chats=chats,
        segments=segments,
    )


def _days(period: Period) -> Iterable[date]:
    for offset in range(period.days):
        yield period.start + timedelta(days=offset)


def _ratio(part: float, whole: float, digits: int = 4) -> float | None:
    return None if not whole else round(part / whole, digits)


def _share(part: float, whole: float) -> float | None:
    return None if not whole else round(100 * part / whole, 1)


def _money(amount: float, count: float) -> float | None:
    if not count:
        return None
    exact = Decimal(str(amount)) / Decimal(round(count))
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _sums(data: _Data, period: Period) -> dict[str, dict[str, float]]:
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for day in _days(period):
        for metric, key, value in data.daily.get(day, ()):
            sums[metric][key] += value
    return sums


def _surveys(sums: dict[str, dict[str, float]]) -> dict[str, Any]:
    scores: dict[str, Counter[int]] = {"nps": Counter(), "csat": Counter(), "ces": Counter()}
    for key, count in sums.get("survey", {}).items():
        kind, _, score = key.partition(":")
        if kind in scores and score.lstrip("-").isdigit():
            scores[kind][int(score)] += round(count)
    nps, csat, ces = scores["nps"], scores["csat"], scores["ces"]
    n_nps, n_csat, n_ces = sum(nps.values()), sum(csat.values()), sum(ces.values())
    promoters = sum(c for s, c in nps.items() if s >= 9)
    detractors = sum(c for s, c in nps.items() if s <= 6)
    return {
        "nps": None if not n_nps else round(100 * (promoters - detractors) / n_nps, 1),
        "nps_answers": n_nps,
        "nps_promoters": promoters,
        "nps_detractors": detractors,
        "csat": _share(sum(c for s, c in csat.items() if s >= 4), n_csat),
        "csat_answers": n_csat,
        "ces": _share(sum(c for s, c in ces.items() if s >= 5), n_ces),
        "ces_answers": n_ces,
    }


def _funnel(data: _Data, period: Period) -> dict[str, Any]:
    reached: dict[str, int] = defaultdict(int)
    for day in _days(period):
        for customer, steps in data.customer_days.get(day, ()):
            reached[customer] |= steps
    # Customers per combination of steps (at most 16): every count below is a sum over those.
    masks = Counter(reached.values()).items()
    steps_in_order = list(STEPS.values())
    raw = [sum(n for steps, n in masks if steps & bit) for bit in steps_in_order]
    nested = []
    for index in range(len(steps_in_order)):
        mask = sum(steps_in_order[: index + 1])
        nested.append(sum(n for steps, n in masks if steps & mask == mask))
    funnel = []
    for index, name in enumerate(FUNNEL):
        previous = nested[index - 1] if index else 0
        funnel.append(
            {
                "step": name,
                "customers": nested[index],
                "customers_any": raw[index],
                "drop_off": _ratio(previous - nested[index], previous) if index else None,
            }
        )
    viewed, ordered = steps_in_order[0], steps_in_order[-1]
    # Viewers who ordered, over viewers: a "buy now" that skips the cart still converts, and an
    # order without a view (placed by phone, say) cannot push the rate past 1.
    converted = sum(n for steps, n in masks if steps & viewed and steps & ordered)
    return {"funnel": funnel, "conversion_rate": _ratio(converted, raw[0])}


def _orders(data: _Data, period: Period, sums: dict[str, dict[str, float]]) -> dict[str, Any]:
    in_period: Counter[str] = Counter()
    for day in _days(period):
        in_period.update(data.orders.get(day, ()))
    previous_customers = {
        customer for day in _days(period.previous()) for customer in data.orders.get(day, ())
    }
    # Repeat customers had ≥ 2 orders by the period's end: two in it, or one in it and an
    # earlier one. The customers whose first order lies in the period are the daily sum
    # "first_orders"; of them, those with one order in it are the only non-repeat ones.
    twice = [c for c, count in in_period.items() if count >= 2]
    first_in_period = sum(
        1 for c in twice if (first := data.first_order.get(c)) is not None and first in period
    )
    once_and_first = sums.get("first_orders", {}).get("", 0.0) - first_in_period
    repeat = len(in_period) - round(once_and_first)
    churned = len(previous_customers - set(in_period))
    orders = sums.get("orders", {}).get("", 0.0)
    money = _money_by_currency(data, sums)
    main = next(iter(money), None)
    headline = money[main] if main else {}
    return {
        "orders": round(orders),
        "currency": main,
        "revenue": headline.get("revenue", 0.0),
        "customers_with_order": len(in_period),
        "repeat_purchase_rate": _ratio(repeat, len(in_period)),
        "churn_rate": _ratio(churned, len(previous_customers)),
        "customers_with_order_before": len(previous_customers),
        "average_order_value": headline.get("average_order_value"),
        "clv": headline.get("clv"),
        "return_rate": _ratio(sums.get("orders_returned", {}).get("", 0.0), orders),
        "refund_rate": headline.get("refund_rate"),
        "money": money,
    }


def _money_by_currency(data: _Data, sums: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    """The money KPIs per currency, never summed across currencies. The main currency (most
    orders up to the period's end, so it does not flip between periods) comes first."""

    def lifetime(metric: str, currency: str) -> float:
        return data.before.get(metric, {}).get(currency, 0.0) + sums.get(metric, {}).get(
            currency, 0.0
        )

    currencies = set(sums.get("revenue", {})) | set(data.before.get("revenue", {}))
    currencies |= set(sums.get("currency_orders", {})) | set(data.before.get("currency_orders", {}))
    out: dict[str, dict[str, Any]] = {}
    for currency in currencies:
        orders = sums.get("currency_orders", {}).get(currency, 0.0)
        # Cents first: float sums added in another order must not round differently.
        revenue = round(sums.get("revenue", {}).get(currency, 0.0), 2)
        refunded = round(sums.get("refunded", {}).get(currency, 0.0), 2)
        lifetime_orders = round(lifetime("currency_orders", currency))
        if not lifetime_orders and not round(lifetime("revenue", currency), 2):
            continue  # every order in it moved to another currency (float sums: rounded)
        out[currency or NO_CURRENCY] = {
            "orders": round(orders),
            "revenue": revenue,
            "refunded": refunded,
            "average_order_value": _money(revenue, orders),
            "clv": _money(
                round(lifetime("revenue", currency), 2),
                lifetime("currency_first_orders", currency),
            ),
            "refund_rate": _ratio(refunded, revenue),
            "lifetime_orders": lifetime_orders,
        }
    ranked = sorted(out, key=lambda c: (c == NO_CURRENCY, -out[c]["lifetime_orders"], c))
    return {currency: out[currency] for currency in ranked}


def _checkouts(data: _Data, period: Period, now: datetime) -> dict[str, Any]:
    started = converted = 0.0
    for day in _days(period):
        # A day's checkouts are settled once its last one is 24 hours old.
        settled_at = datetime.combine(day + timedelta(days=1), datetime.min.time()) + (
            CONVERSION_WINDOW
        )
        if settled_at > now:
            continue
        for metric, _, value in data.daily.get(day, ()):
            if metric == "checkouts":
                started += value
            elif metric == "checkouts_converted":
                converted += value
    return {
        "checkouts": round(started),
        "checkout_abandonment_rate": _ratio(started - converted, started),
    }


def _delivery(sums: dict[str, dict[str, float]]) -> dict[str, Any]:
    def total(metric: str) -> float:
        return sums.get(metric, {}).get("", 0.0)

    days_n = total("delivery_days_n")
    return {
        "delivered": round(total("delivered")),
        "on_time_delivery_rate": _ratio(total("delivered_on_time"), total("delivered_promised")),
        "average_delivery_days": None
        if not days_n
        else round(total("delivery_days_sum") / days_n, 2),
    }


def _chats(data: _Data, period: Period) -> dict[str, Any]:
    rows = [row for day in _days(period) for row in data.chats.get(day, ())]
    return {
        "chats": len(rows),
        "chat_first_response_median_seconds": _median([r[0] for r in rows if r[0] is not None]),
        "chat_resolution_median_seconds": _median([r[1] for r in rows if r[1] is not None]),
    }


def _keyed(sums: dict[str, dict[str, float]], metric: str) -> dict[str, int]:
    return {key: round(value) for key, value in sorted(sums.get(metric, {}).items()) if value}


def _recommendations(sums: dict[str, dict[str, float]]) -> dict[str, Any]:
    shown, clicked = _keyed(sums, "rec_shown"), _keyed(sums, "rec_clicked")
    return {
        strategy: {
            "shown": shown.get(strategy, 0),
            "clicked": clicked.get(strategy, 0),
            # A click whose impression was not recorded cannot push the rate past 1.
            "click_through_rate": None
            if not shown.get(strategy)
            else round(min(1.0, clicked.get(strategy, 0) / shown[strategy]), 4),
        }
        for strategy in sorted(set(shown) | set(clicked))
    }


def _sentiment(sums: dict[str, dict[str, float]]) -> dict[str, Any]:
    labels = _keyed(sums, "comments")
    total = sum(labels.values())
    words = sorted(_keyed(sums, "negative_word").items(), key=lambda item: (-item[1], item[0]))
    return {
        "comments": total,
        "comments_by_label": {
            label: labels.get(label, 0) for label in ("positive", "neutral", "negative")
        },
        "negative_share": _ratio(labels.get("negative", 0), total),
        "negative_words": [{"word": word, "comments": count} for word, count in words[:15]],
    }


def _moves(sums: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    out = []
    for key, count in sorted(_keyed(sums, "segment_move").items()):
        old, _, new = key.partition(">")
        out.append({"from": old or None, "to": new or None, "customers": count})
    return out


def kpis_of(data: _Data, period: Period, now: datetime, full: bool = True) -> dict[str, Any]:
    sums = _sums(data, period)
    out: dict[str, Any] = {
        **_surveys(sums),
        **_funnel(data, period),
        **_checkouts(data, period, now),
        **_orders(data, period, sums),
        **_delivery(sums),
        **_chats(data, period),
    }
    if full:
        out["recommendations"] = _recommendations(sums)
        stages = _keyed(sums, "stage")
        out["stages"] = {stage: stages.get(stage, 0) for stage in STAGES}
        out["channels"] = _keyed(sums, "channel")
        out["sentiment"] = _sentiment(sums)
        out["segment_moves"] = _moves(sums)
    else:
        del out["funnel"]
        out["negative_comment_share"] = _sentiment(sums)["negative_share"]
    return out


def report(
    conn: Connection,
    shop_id: str,
    period: Period,
    bucket: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The period's KPIs, the same per trend bucket, and the current segments."""
    now = now or utcnow()
    parts = buckets(period, bucket)
    lookback = min([period.previous().start, *(p.previous().start for p in parts)])
    data = _load(conn, shop_id, period, lookback)
    return {
        "shop_id": shop_id,
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "bucket": bucket,
        "kpis": kpis_of(data, period, now),
        "trend": [
            {"from": p.start.isoformat(), "to": p.end.isoformat(), **kpis_of(data, p, now, False)}
            for p in parts
        ],
        "segments": {name: data.segments.get(name, 0) for name in SEGMENTS},
    }
