"""Which return a reverse fulfillment order belongs to.

``reverse_fulfillment_orders/dispose`` names only the reverse fulfillment order, and no
webhook says which return created it. The Admin API does: the order behind it lists its
returns and each return its reverse fulfillment orders. A disposal that arrives unlinked is
kept as pending state; it is linked right after the webhook is answered (never while
Shopify waits) and, should that fail, by the collector's periodic job.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ...server import Settings, Store
from ...server.tables import integration_state
from .mapping import PLATFORM, clean_id

if TYPE_CHECKING:
    from .backfill import GraphQLClient

log = logging.getLogger("cx.shopify")

KIND = "reverse_fulfillment_order"
TOPIC = "reverse_fulfillment_orders/dispose"

QUERY = """
query ReturnOfReverseFulfillmentOrder($id: ID!) {
  reverseFulfillmentOrder(id: $id) {
    id
    order {
      id
      returns(first: 25) {
        nodes { id reverseFulfillmentOrders(first: 25) { nodes { id } } }
      }
    }
  }
}
"""


def _gid_id(value: Any) -> str | None:
    """``gid://shopify/Return/123`` → ``123``."""
    if not isinstance(value, str) or not value.startswith("gid://shopify/"):
        return None
    return clean_id(value.rsplit("/", 1)[-1])


def _nodes(value: Any) -> list[dict[str, Any]]:
    nodes = value.get("nodes") if isinstance(value, dict) else None
    return [node for node in nodes if isinstance(node, dict)] if isinstance(nodes, list) else []


def links_from(data: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Every reverse fulfillment order the answer names → ``{"return_id", "order_id"}``."""
    rfo = data.get("reverseFulfillmentOrder")
    order = rfo.get("order") if isinstance(rfo, dict) else None
    if not isinstance(order, dict):
        return {}
    order_id = _gid_id(order.get("id"))
    if not order_id:
        return {}
    links: dict[str, dict[str, str]] = {}
    for ret in _nodes(order.get("returns")):
        return_id = _gid_id(ret.get("id"))
        for node in _nodes(ret.get("reverseFulfillmentOrders")) if return_id else ():
            rfo_id = _gid_id(node.get("id"))
            if rfo_id and return_id:
                links[rfo_id] = {"return_id": return_id, "order_id": order_id}
    return links


def pending(store: Store, shop_id: str) -> list[str]:
    """Reverse fulfillment orders whose disposal waits for its return."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(integration_state.c.key, integration_state.c.value).where(
                integration_state.c.shop_id == shop_id, integration_state.c.kind == KIND
            )
        ).all()
    return sorted(
        row.key
        for row in rows
        if isinstance(row.value, dict)
        and "pending_kinds" in row.value
        and not row.value.get("return_id")
    )


def link_pending(store: Store, shop_id: str, client: GraphQLClient) -> int:
    """Ask Shopify for the return of every pending disposal; emit those now linked."""
    from .webhooks import process

    emitted = 0
    for rfo_id in pending(store, shop_id):
        data = client.query(QUERY, {"id": f"gid://shopify/ReverseFulfillmentOrder/{rfo_id}"})
        for linked_id, link in links_from(data).items():
            merged = {**(store.get_state(shop_id, KIND, linked_id) or {}), **link}
            store.put_state(shop_id, KIND, linked_id, merged)
        state = store.get_state(shop_id, KIND, rfo_id) or {}
        if not state.get("return_id"):
            continue
        kinds = state.get("pending_kinds") or []
        payload = {"id": rfo_id, "dispositions": [{"type": kind} for kind in kinds]}
        outcome = process(store, shop_id, TOPIC, payload, 0)
        emitted += len(outcome.messages) if outcome else 0
    return emitted


def link_shop(store: Store, shop_id: str) -> int:
    """``link_pending`` with the shop's stored token; a failure is logged, the disposal stays
    pending for the next try."""
    from .backfill import BackfillError, client_for

    if not pending(store, shop_id):
        return 0
    try:
        _, client = client_for(store, shop_id)
    except BackfillError as error:
        log.warning("shopify shop %s: disposals wait for their return: %s", shop_id, error)
        return 0
    try:
        return link_pending(store, shop_id, client)
    except BackfillError as error:
        log.warning("shopify shop %s: linking disposals failed: %s", shop_id, error)
        return 0
    finally:
        client.close()


def link_all(store: Store, settings: Settings) -> int:
    """The periodic job: pending disposals of every Shopify shop."""
    return sum(
        link_shop(store, shop.id) for shop in store.list_shops() if shop.platform == PLATFORM
    )


__all__ = ["QUERY", "link_all", "link_pending", "link_shop", "links_from", "pending"]
