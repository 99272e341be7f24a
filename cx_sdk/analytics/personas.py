"""RFM personas: every customer with an order in one of eight segments.

Recency and frequency are scored 1–5 on fixed boundaries (not on quantiles of the shop's
customers: a fixed boundary lets one customer's score change without rescoring everyone, and
means the same for a small and a large shop). Monetary value is kept beside them (lifetime
revenue) and shown, but does not pick the segment: frequency already carries most of it for
the shops cx is built for, and a money boundary would need a currency per shop.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..widgets.config import N_

if TYPE_CHECKING:
    from ..server.store import Store

# Days since the last order at which the recency score drops: ≤30 → 5, ≤60 → 4, ≤120 → 3,
# ≤240 → 2, older → 1.
RECENCY_DAYS: tuple[int, ...] = (30, 60, 120, 240)
# Orders at which the frequency score rises: 1 → 1, 2 → 2, 3 → 3, 4–5 → 4, 6+ → 5.
FREQUENCY_ORDERS: tuple[int, ...] = (2, 3, 4, 6)

SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "promising",
    "new",
    "needs_attention",
    "at_risk",
    "hibernating",
    "lost",
)
# Their names for merchants (translated in this part's catalog; the console shows them too).
SEGMENT_LABELS: dict[str, str] = {
    "champions": N_("Champions"),
    "loyal": N_("Loyal"),
    "promising": N_("Promising"),
    "new": N_("New"),
    "needs_attention": N_("Needs attention"),
    "at_risk": N_("At risk"),
    "hibernating": N_("Hibernating"),
    "lost": N_("Lost"),
}


def recency_score(days: int) -> int:
    return 5 - sum(days > boundary for boundary in RECENCY_DAYS)


def frequency_score(orders: int) -> int:
    return 1 + sum(orders >= boundary for boundary in FREQUENCY_ORDERS)


def classify(recency: int, frequency: int) -> str:
    """The segment of an (R, F) pair; every pair of 1–5 has exactly one."""
    if frequency >= 4 and recency >= 4:
        return "champions"
    if frequency >= 3 and recency >= 3:
        return "loyal"
    if frequency >= 3:
        return "at_risk"
    if recency == 5 and frequency == 1:
        return "new"
    if recency >= 4:
        return "promising"
    if recency == 3:
        return "needs_attention"
    if recency == 2:
        return "hibernating"
    return "lost"


def segment(on: date, last_order: date, orders: int) -> str:
    return classify(recency_score(max(0, (on - last_order).days)), frequency_score(orders))


def stored_segment(store: Store, shop_id: str, user_id: str) -> str | None:
    """The segment stored for ``user_id`` (scored on ingest and by the daily rescoring)."""
    from .tables import analytics_customers

    with store.engine.connect() as conn:
        row = conn.execute(
            select(analytics_customers.c.segment).where(
                analytics_customers.c.shop_id == shop_id,
                analytics_customers.c.customer == f"u:{user_id}",
            )
        ).first()
    return None if row is None else row.segment
