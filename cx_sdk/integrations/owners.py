"""Whose order it is, for platform events that name only the order (refunds, returns …)."""

from __future__ import annotations

from collections.abc import Callable

from ..server.store import Store


def order_owner(
    store: Store, shop_id: str, order_id: str, guest_id: Callable[[str], str]
) -> dict[str, str] | None:
    """The customer of the order projection (which a privacy erase clears): their user id,
    else the platform's guest id for the order's email hash; None for an unknown order."""
    order = store.get_order(shop_id, order_id)
    if order is None or order.order_id != order_id:
        return None
    if order.user_id:
        return {"user_id": order.user_id}
    if order.email_hash:
        return {"anonymous_id": guest_id(order.email_hash)}
    return None
