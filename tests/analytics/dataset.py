"""A small shop week whose KPIs are worked out by hand in test_kpis.py.

Period: 2026-10-01 … 2026-10-07; the week before is the churn comparison period.

Customers: A (u-a) views, adds, checks out and orders twice; B (u-b) abandons a checkout;
C (an-c) only looks; D browses anonymously (an-d), identifies as u-d, checks out and orders
25 hours later (an abandoned checkout by the 24-hour rule); E (u-e) orders server-side
without a view and had ordered the week before; F (u-f) ordered the week before only.
"""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)


def ev(
    event: str | None,
    at: str,
    user: str | None = None,
    anon: str | None = None,
    channel: str = "web",
    kind: str = "track",
    **properties: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": kind,
        "messageId": f"m-{next(_ids):04d}",
        "timestamp": f"2026-{at}:00Z",
        "context": {"channel": channel},
    }
    if event:
        message["event"] = event
        message["properties"] = properties
    if user:
        message["userId"] = user
    if anon:
        message["anonymousId"] = anon
    return message


def order(order_id: str, at: str, user: str, total: str, **extra: Any) -> dict[str, Any]:
    return ev("Order Completed", at, user, order_id=order_id, total=total, currency="EUR", **extra)


def shipment(event: str, at: str, order_id: str, shipment_id: str, **extra: Any) -> dict[str, Any]:
    user = {"o-a1": "u-a", "o-e1": "u-e", "o-d1": "u-d"}[order_id]
    return ev(event, at, user, order_id=order_id, shipment_id=shipment_id, **extra)


def survey(kind: str, score: int, at: str, comment: str | None = None) -> dict[str, Any]:
    extra = {"comment": comment} if comment else {}
    return ev("Survey Answered", at, "u-a", survey_type=kind, score=score, **extra)


def week() -> list[dict[str, Any]]:
    """Every message of the dataset, in the order things happened."""
    return [
        # the week before: E and F order, one NPS 0 that must not count in the period
        order("o-e0", "09-25T10:00", "u-e", "40.00"),
        order("o-f0", "09-26T10:00", "u-f", "60.00"),
        survey("nps", 0, "09-27T10:00"),
        # A
        ev("Product Viewed", "10-01T09:00", "u-a", product_id="p1"),
        ev("Product Added", "10-01T09:05", "u-a", product_id="p1"),
        ev("Checkout Started", "10-01T10:00", "u-a", checkout_id="chk-a"),
        order("o-a1", "10-01T10:30", "u-a", "100.00", checkout_id="chk-a"),
        order("o-a2", "10-05T10:00", "u-a", "50.00"),
        # B
        ev("Product Viewed", "10-02T09:00", "u-b", product_id="p2"),
        ev("Product Added", "10-02T09:10", "u-b", product_id="p2"),
        ev("Checkout Started", "10-02T12:00", "u-b", checkout_id="chk-b"),
        # C
        ev("Product Viewed", "10-03T08:00", anon="an-c", product_id="p3"),
        # D: anonymous first, then identified
        ev("Product Viewed", "10-03T09:00", anon="an-d", product_id="p4"),
        ev("Product Added", "10-03T09:01", anon="an-d", product_id="p4"),
        ev(None, "10-03T09:30", "u-d", "an-d", kind="identify"),
        ev("Checkout Started", "10-03T10:00", "u-d", checkout_id="chk-d"),
        order("o-d1", "10-04T11:00", "u-d", "80.00"),
        # E orders server-side, without a view
        order("o-e1", "10-02T08:00", "u-e", "200.00"),
        # shipments: a1 on time, e1 late, d1 without a promise
        shipment(
            "Shipment Created", "10-01T16:00", "o-a1", "s-a1", promised_delivery_date="2026-10-03"
        ),
        shipment("Shipment Delivered", "10-03T15:00", "o-a1", "s-a1", status="delivered"),
        shipment("Shipment Delivered", "10-03T18:00", "o-a1", "s-a1", status="delivered"),
        shipment(
            "Shipment Created", "10-02T12:00", "o-e1", "s-e1", promised_delivery_date="2026-10-04"
        ),
        shipment("Shipment Delivered", "10-05T09:00", "o-e1", "s-e1", status="delivered"),
        shipment("Shipment Created", "10-04T15:00", "o-d1", "s-d1"),
        shipment("Shipment Delivered", "10-06T11:00", "o-d1", "s-d1", status="delivered"),
        # a return of o-a1, requested twice (two messages), and a partial refund
        ev("Return Requested", "10-06T09:00", "u-a", order_id="o-a1", return_id="r1"),
        ev("Return Requested", "10-06T09:05", "u-a", order_id="o-a1", return_id="r1"),
        ev(
            "Order Refunded",
            "10-07T09:00",
            "u-a",
            order_id="o-a1",
            amount="30.00",
            currency="EUR",
        ),
        # surveys
        survey("nps", 10, "10-02T10:00", "Schnelle Lieferung, alles bestens!"),
        survey("nps", 9, "10-02T11:00"),
        survey("nps", 9, "10-03T11:00", "Verpackung war beschädigt."),
        survey("nps", 8, "10-04T11:00"),
        survey("nps", 3, "10-05T11:00", "The parcel arrived late and damaged."),
        survey("csat", 5, "10-02T12:00"),
        survey("csat", 4, "10-03T12:00"),
        survey("csat", 2, "10-04T12:00"),
        survey("ces", 7, "10-02T13:00"),
        survey("ces", 5, "10-03T13:00"),
        survey("ces", 4, "10-04T13:00"),
        survey("ces", 1, "10-05T13:00"),
        # chats
        ev(
            "Live Chat Conversation Ended",
            "10-02T14:00",
            "u-b",
            conversation_id="c1",
            first_response_seconds=30,
            conversation_duration=600,
        ),
        ev(
            "Live Chat Conversation Ended",
            "10-03T14:00",
            "u-b",
            conversation_id="c2",
            first_response_seconds=90,
            conversation_duration=1200,
        ),
        ev(
            "Live Chat Conversation Ended",
            "10-04T14:00",
            "u-b",
            conversation_id="c3",
            first_response_seconds=None,
            conversation_duration=300,
        ),
        ev(
            "Live Chat Message Sent",
            "10-04T13:59",
            "u-b",
            conversation_id="c3",
            message_body="Danke für die schnelle Hilfe",
        ),
        # recommendations
        *[
            ev("Recommendation Shown", f"10-0{day}T15:00", "u-a", strategy="similar")
            for day in (1, 2, 3, 4)
        ],
        ev("Recommendation Clicked", "10-02T15:01", "u-a", strategy="similar", product_id="p9"),
        *[
            ev("Recommendation Shown", f"10-0{day}T15:00", "u-b", strategy="popular")
            for day in (1, 2)
        ],
    ]
