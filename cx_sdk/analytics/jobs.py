"""The analytics' periodic job: rescore personas once a day per shop, as time moves them."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..server.store import Store
from . import aggregates

STATE_KIND = "analytics"
STATE_KEY = "segments_scored"


def rescore_shop(store: Store, shop_id: str, on: date | None = None, force: bool = False) -> int:
    """Rescore the customers time has moved since the last run (``force``: everyone)."""
    day = on or aggregates.today()
    state = store.get_state(shop_id, STATE_KIND, STATE_KEY) or {}
    since = date.fromisoformat(state["day"]) if state.get("day") and not force else None
    if since is not None and since >= day:
        return 0
    with store.begin(projections=True) as conn:
        count = aggregates.rescore(conn, shop_id, store.upsert, since, on=day)
    store.put_state(shop_id, STATE_KIND, STATE_KEY, {"day": day.isoformat()})
    return count


def rescore_segments(store: Store, settings: Any) -> None:
    """Runs every CX_PERIODIC_SECONDS; does real work once a day per shop."""
    for shop in store.list_shops():
        rescore_shop(store, shop.id)
