"""The journey dashboard in the merchant console: ``/console/dashboard``.

One server-rendered page (SVG charts, no script) for a period the merchant picks, and every
table of it as CSV. It reads only the analytics aggregates, never the event log.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from babel import Locale
from babel.numbers import format_currency, format_decimal, format_percent
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..console.http import locale_of, page, refuse, session_of
from ..server.store import Shop, Store
from ..widgets import i18n
from ..widgets.config import N_
from . import charts
from .api import read_report
from .kpis import NO_CURRENCY, Period, PeriodError, choose_bucket, parse_period
from .personas import SEGMENT_LABELS, SEGMENTS

STYLESHEET = Path(__file__).parent / "static" / "dashboard.css"
PRESETS = (7, 30, 90, 365)

KPI_LABELS: dict[str, str] = {
    "nps": N_("Net Promoter Score (NPS)"),
    "csat": N_("Customer satisfaction (CSAT)"),
    "ces": N_("Customer effort (CES)"),
    "conversion_rate": N_("Conversion rate"),
    "checkout_abandonment_rate": N_("Checkout abandonment"),
    "repeat_purchase_rate": N_("Repeat purchase rate"),
    "churn_rate": N_("Churn rate"),
    "clv": N_("Customer lifetime value"),
    "average_order_value": N_("Average order value"),
    "return_rate": N_("Return rate"),
    "refund_rate": N_("Refund rate (by amount)"),
    "on_time_delivery_rate": N_("On-time delivery"),
    "average_delivery_days": N_("Days from order to delivery"),
    "chat_first_response_median_seconds": N_("Median first response (chat)"),
    "chat_resolution_median_seconds": N_("Median resolution time (chat)"),
    "negative_comment_share": N_("Negative comments"),
}
STEP_LABELS: dict[str, str] = {
    "Product Viewed": N_("Product viewed"),
    "Product Added": N_("Added to cart"),
    "Checkout Started": N_("Checkout started"),
    "Order Completed": N_("Order completed"),
}
STAGE_LABELS: dict[str, str] = {
    "awareness": N_("Awareness"),
    "consideration": N_("Consideration"),
    "purchase": N_("Purchase"),
    "retention": N_("Retention"),
    "advocacy": N_("Advocacy"),
}
RATES = frozenset(k for k in KPI_LABELS if k.endswith("_rate") or k == "negative_comment_share")


@dataclass(frozen=True)
class Table:
    """A table of the page, also offered as CSV: headers, rows of raw values, and how each
    column is shown on the page."""

    name: str
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    shown: Sequence[Sequence[str]]


class Formats:
    """Numbers as the merchant reads them, in their locale; no data is a dash, never 0."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.gettext = i18n.translations(locale).gettext
        # The locale's own percent pattern ("50,0 %" in German, "50.0%" in English), one decimal.
        pattern = Locale.parse(locale).percent_formats[None].pattern
        self.percent = pattern.replace("#,##0", "#,##0.0", 1)

    def label(self, msgid: str) -> str:
        """A label marked with N_ elsewhere, translated now."""
        return self.gettext(msgid)

    def rate(self, value: float | None) -> str:
        if value is None:
            return "–"
        return str(format_percent(value, self.percent, locale=self.locale))

    def number(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return str(format_decimal(value, pattern, locale=self.locale))

    def score(self, value: float | None) -> str:
        return self.number(value, 1)

    def money(self, value: float | None, currency: str | None = None) -> str:
        """With the currency when the orders named one ("1.234,50 €", "CHF 12.00")."""
        if value is None or not currency or currency == NO_CURRENCY:
            return self.number(value, 2)
        return str(format_currency(value, currency, locale=self.locale))

    def seconds(self, value: float | None) -> str:
        if value is None:
            return "–"
        if value < 120:
            return self.gettext("%(n)s s") % {"n": self.number(value, 0)}
        return self.gettext("%(n)s min") % {"n": self.number(value / 60, 1)}

    def days(self, value: float | None) -> str:
        if value is None:
            return "–"
        return self.gettext("%(n)s days") % {"n": self.number(value, 1)}

    def kpi(self, name: str, value: float | None, currency: str | None = None) -> str:
        if name in RATES:
            return self.rate(value)
        if name in ("nps", "csat", "ces"):
            return self.score(value)
        if name in ("clv", "average_order_value"):
            return self.money(value, currency)
        if name.endswith("_seconds"):
            return self.seconds(value)
        return self.days(value)


def tables(data: dict[str, Any], fmt: Formats) -> dict[str, Table]:
    """Every table of the dashboard, from one report."""
    _ = fmt.gettext
    k = data["kpis"]
    trend = data["trend"]
    figures = {**k, "negative_comment_share": k["sentiment"]["negative_share"]}

    def table(name: str, title: str, headers: list[str], rows: list[list[Any]], show: Any) -> None:
        out[name] = Table(name, title, headers, rows, [show(row) for row in rows])

    out: dict[str, Table] = {}
    out["kpis"] = Table(
        "kpis",
        _("Key figures"),
        [_("Key figure"), _("Value"), _("Answers or cases")],
        [[fmt.label(label), figures[name], _base(k, name)] for name, label in KPI_LABELS.items()],
        [
            [
                fmt.label(label),
                fmt.kpi(name, figures[name], k["currency"]),
                fmt.number(_base(k, name), 0),
            ]
            for name, label in KPI_LABELS.items()
        ],
    )
    table(
        "money",
        _("Money by currency"),
        [
            _("Currency"),
            _("Orders"),
            _("Revenue"),
            _("Average order value"),
            _("Customer lifetime value"),
            _("Refund rate (by amount)"),
        ],
        [
            [
                currency,
                m["orders"],
                m["revenue"],
                m["average_order_value"],
                m["clv"],
                m["refund_rate"],
            ]
            for currency, m in k["money"].items()
        ],
        lambda row: [
            row[0] if row[0] != NO_CURRENCY else _("none given"),
            fmt.number(row[1], 0),
            fmt.money(row[2], row[0]),
            fmt.money(row[3], row[0]),
            fmt.money(row[4], row[0]),
            fmt.rate(row[5]),
        ],
    )
    table(
        "funnel",
        _("Funnel"),
        [_("Step"), _("Customers"), _("Drop-off from the step before")],
        [[fmt.label(STEP_LABELS[s["step"]]), s["customers"], s["drop_off"]] for s in k["funnel"]],
        lambda row: [row[0], fmt.number(row[1], 0), fmt.rate(row[2]) if row[2] is not None else ""],
    )
    table(
        "surveys",
        _("Survey scores over time"),
        [
            _("From"),
            _("To"),
            "NPS",
            _("NPS answers"),
            "CSAT",
            _("CSAT answers"),
            "CES",
            _("CES answers"),
        ],
        [
            [
                b["from"],
                b["to"],
                b["nps"],
                b["nps_answers"],
                b["csat"],
                b["csat_answers"],
                b["ces"],
                b["ces_answers"],
            ]
            for b in trend
        ],
        lambda row: [
            row[0],
            row[1],
            fmt.score(row[2]),
            fmt.number(row[3], 0),
            fmt.score(row[4]),
            fmt.number(row[5], 0),
            fmt.score(row[6]),
            fmt.number(row[7], 0),
        ],
    )
    table(
        "delivery",
        _("Delivery and returns over time"),
        [
            _("From"),
            _("To"),
            _("Delivered"),
            _("On-time delivery"),
            _("Days to delivery"),
            _("Orders"),
            _("Return rate"),
            _("Refund rate (by amount)"),
        ],
        [
            [
                b["from"],
                b["to"],
                b["delivered"],
                b["on_time_delivery_rate"],
                b["average_delivery_days"],
                b["orders"],
                b["return_rate"],
                b["refund_rate"],
            ]
            for b in trend
        ],
        lambda row: [
            row[0],
            row[1],
            fmt.number(row[2], 0),
            fmt.rate(row[3]),
            fmt.days(row[4]),
            fmt.number(row[5], 0),
            fmt.rate(row[6]),
            fmt.rate(row[7]),
        ],
    )
    table(
        "segments",
        _("Customer segments today"),
        [_("Segment"), _("Customers")],
        [[fmt.label(SEGMENT_LABELS[s]), data["segments"].get(s, 0)] for s in SEGMENTS],
        lambda row: [row[0], fmt.number(row[1], 0)],
    )
    table(
        "segment_moves",
        _("Movement between segments in the period"),
        [_("From"), _("To"), _("Customers")],
        [
            [_segment(_, m["from"]), _segment(_, m["to"]), m["customers"]]
            for m in k["segment_moves"]
        ],
        lambda row: [row[0], row[1], fmt.number(row[2], 0)],
    )
    table(
        "chats",
        _("Chat times over time"),
        [_("From"), _("To"), _("Chats"), _("Median first response"), _("Median resolution")],
        [
            [
                b["from"],
                b["to"],
                b["chats"],
                b["chat_first_response_median_seconds"],
                b["chat_resolution_median_seconds"],
            ]
            for b in trend
        ],
        lambda row: [
            row[0],
            row[1],
            fmt.number(row[2], 0),
            fmt.seconds(row[3]),
            fmt.seconds(row[4]),
        ],
    )
    table(
        "recommendations",
        _("Recommendations by strategy"),
        [_("Strategy"), _("Shown"), _("Clicked"), _("Click-through rate")],
        [
            [name, r["shown"], r["clicked"], r["click_through_rate"]]
            for name, r in k["recommendations"].items()
        ],
        lambda row: [row[0], fmt.number(row[1], 0), fmt.number(row[2], 0), fmt.rate(row[3])],
    )
    table(
        "stages",
        _("Journey stages"),
        [_("Stage"), _("Events")],
        [[fmt.label(STAGE_LABELS[s]), n] for s, n in k["stages"].items()],
        lambda row: [row[0], fmt.number(row[1], 0)],
    )
    table(
        "channels",
        _("Channels"),
        [_("Channel"), _("Events")],
        [[name, n] for name, n in sorted(k["channels"].items(), key=lambda i: -i[1])],
        lambda row: [row[0], fmt.number(row[1], 0)],
    )
    table(
        "negative_words",
        _("What negative comments are about"),
        [_("Word or phrase"), _("Negative comments")],
        [[w["word"], w["comments"]] for w in k["sentiment"]["negative_words"]],
        lambda row: [row[0], fmt.number(row[1], 0)],
    )
    return out


def _segment(gettext: Callable[[str], str], name: str | None) -> str:
    return gettext(SEGMENT_LABELS[name]) if name in SEGMENT_LABELS else "–"


def _base(k: dict[str, Any], name: str) -> Any:
    """How many answers or cases a figure rests on, so a merchant sees a thin sample."""
    bases = {
        "nps": k["nps_answers"],
        "csat": k["csat_answers"],
        "ces": k["ces_answers"],
        "conversion_rate": k["funnel"][0]["customers_any"],
        "checkout_abandonment_rate": k["checkouts"],
        "repeat_purchase_rate": k["customers_with_order"],
        "churn_rate": k["customers_with_order_before"],
        "average_order_value": k["orders"],
        "return_rate": k["orders"],
        "refund_rate": k["orders"],
        "on_time_delivery_rate": k["delivered"],
        "average_delivery_days": k["delivered"],
        "chat_first_response_median_seconds": k["chats"],
        "chat_resolution_median_seconds": k["chats"],
        "negative_comment_share": k["sentiment"]["comments"],
    }
    return bases.get(name)


def charts_of(data: dict[str, Any], fmt: Formats) -> dict[str, Markup]:
    _ = fmt.gettext
    k = data["kpis"]
    trend = data["trend"]
    labels = [_short(b["from"], data["bucket"], fmt.locale) for b in trend]
    return {
        "funnel": charts.bars(
            "c-funnel",
            _("Funnel"),
            [(fmt.label(STEP_LABELS[s["step"]]), s["customers"]) for s in k["funnel"]],
            lambda v: fmt.number(v, 0),
        ),
        "surveys": charts.lines(
            "c-surveys",
            _("Survey scores over time"),
            labels,
            [
                charts.Series("NPS", [b["nps"] for b in trend], "s1"),
                charts.Series("CSAT", [b["csat"] for b in trend], "s2"),
                charts.Series("CES", [b["ces"] for b in trend], "s3"),
            ],
            -100,
            100,
            fmt.score,
            _("No data in this period."),
        ),
        "delivery": charts.lines(
            "c-delivery",
            _("Delivery and returns over time"),
            labels,
            [
                charts.Series(
                    _("On-time delivery"), [b["on_time_delivery_rate"] for b in trend], "s1"
                ),
                charts.Series(_("Return rate"), [b["return_rate"] for b in trend], "s2"),
            ],
            0,
            1,
            fmt.rate,
            _("No data in this period."),
        ),
        "segments": charts.bars(
            "c-segments",
            _("Customer segments today"),
            [(fmt.label(SEGMENT_LABELS[s]), data["segments"].get(s, 0)) for s in SEGMENTS],
            lambda v: fmt.number(v, 0),
        ),
        "chats": charts.lines(
            "c-chats",
            _("Chat times over time"),
            labels,
            [
                charts.Series(
                    _("Median first response"),
                    [b["chat_first_response_median_seconds"] for b in trend],
                    "s1",
                ),
                charts.Series(
                    _("Median resolution"),
                    [b["chat_resolution_median_seconds"] for b in trend],
                    "s2",
                ),
            ],
            0,
            None,
            fmt.seconds,
            _("No data in this period."),
        ),
        "stages": charts.bars(
            "c-stages",
            _("Journey stages"),
            [(fmt.label(STAGE_LABELS[s]), n) for s, n in k["stages"].items()],
            lambda v: fmt.number(v, 0),
        ),
        "negative_words": charts.bars(
            "c-words",
            _("What negative comments are about"),
            [(w["word"], w["comments"]) for w in k["sentiment"]["negative_words"][:8]],
            lambda v: fmt.number(v, 0),
        ),
    }


def _short(day: str, bucket: str, locale: str) -> str:
    value = date.fromisoformat(day)
    if bucket == "month":
        return f"{value.month:02d}/{value.year % 100:02d}"
    return f"{value.day:02d}.{value.month:02d}." if locale == "de" else f"{value.month}/{value.day}"


def _period(request: Request) -> tuple[Period, str, str | None]:
    today = datetime.now(UTC).date()
    try:
        period = parse_period(
            request.query_params.get("from"), request.query_params.get("to"), today
        )
        return period, choose_bucket(period, request.query_params.get("bucket") or None), None
    except PeriodError as error:
        period = parse_period(None, None, today)
        return period, choose_bucket(period, None), str(error)


def _shop(request: Request) -> tuple[Shop | None, Response | None]:
    session = session_of(request)
    if session is None:
        return None, refuse(
            request,
            401,
            N_("Your console session is missing or has expired. Please sign in again."),
        )
    store: Store = request.app.state.store
    shop = store.get_shop(str(session["s"]))
    if shop is None:
        return None, refuse(request, 404, N_("This shop no longer exists."))
    return shop, None


async def dashboard(request: Request) -> Response:
    shop, refusal = await run_in_threadpool(_shop, request)
    if refusal is not None:
        return refusal
    assert shop is not None
    period, bucket, problem = _period(request)
    store: Store = request.app.state.store
    data = await run_in_threadpool(read_report, store, shop.id, period, bucket)
    locale = locale_of(request, shop)
    fmt = Formats(locale)
    today = datetime.now(UTC).date()
    presets = [
        (days, (today - timedelta(days=days - 1)).isoformat(), today.isoformat())
        for days in PRESETS
    ]
    return page(
        request,
        "analytics_dashboard.html",
        status=400 if problem else 200,
        shop=shop,
        locale=locale,
        period=period,
        bucket=bucket,
        problem=problem,
        presets=presets,
        figures=[
            (
                name,
                label,
                fmt.kpi(name, _figure(data, name), data["kpis"]["currency"]),
                _base(data["kpis"], name),
            )
            for name, label in KPI_LABELS.items()
        ],
        tables=tables(data, fmt),
        charts=charts_of(data, fmt),
        query=f"from={period.start.isoformat()}&to={period.end.isoformat()}&bucket={bucket}",
    )


def _figure(data: dict[str, Any], name: str) -> float | None:
    if name == "negative_comment_share":
        value: float | None = data["kpis"]["sentiment"]["negative_share"]
        return value
    return data["kpis"][name]  # type: ignore[no-any-return]


def _csv_cell(value: Any) -> Any:
    """Spreadsheets run a cell starting with = + - @ as a formula: text is defused."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


async def export(request: Request) -> Response:
    shop, refusal = await run_in_threadpool(_shop, request)
    if refusal is not None:
        return refusal
    assert shop is not None
    name = request.path_params["name"]
    period, bucket, problem = _period(request)
    if problem:
        return refuse(request, 400, N_("The period was not understood."))
    store: Store = request.app.state.store
    data = await run_in_threadpool(read_report, store, shop.id, period, bucket)
    found = tables(data, Formats(locale_of(request, shop))).get(name)
    if found is None:
        return refuse(request, 404, N_("There is no table with this name."))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_csv_cell(h) for h in found.headers])
    writer.writerows([[_csv_cell(cell) for cell in row] for row in found.rows])
    filename = f"cx-{name}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(
        "\ufeff" + buffer.getvalue(),  # the BOM lets Excel read UTF-8 umlauts
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def stylesheet(request: Request) -> Response:
    return Response(
        STYLESHEET.read_bytes(),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/dashboard", dashboard, methods=["GET"]),
        Route("/dashboard/{name}.csv", export, methods=["GET"]),
        Route("/dashboard/static/dashboard.css", stylesheet, methods=["GET"]),
    ]
