"""Backfill past orders, refunds and fulfillments through the GraphQL Admin API.

Orders are read oldest first, 50 per page, with their refunds, fulfillments and fulfillment
events. Each GraphQL order is rewritten into the REST webhook shape and goes through the same
mapping and per-entity state as webhooks, so the facts a webhook already delivered get the
same messageIds and are stored once. After every page the cursor is saved: a rerun resumes
there. Shopify limits GraphQL by query cost (a bucket that refills at ``restoreRate`` points
per second); the client waits for the bucket before asking for more than it holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from ...server.store import Store
from .mapping import PLATFORM, MappingError
from .oauth import API_VERSION, graphql_url, valid_shop
from .webhooks import process

PAGE_SIZE = 50
PROGRESS_KIND = "backfill"
PROGRESS_KEY = "orders"
MAX_ATTEMPTS = 5

_MONEY = "shopMoney { amount currencyCode }"
_LINE = f"""
  id title quantity currentQuantity sku vendor variantTitle
  product {{ legacyResourceId }}
  originalUnitPriceSet {{ {_MONEY} }}
"""
ORDERS_QUERY = f"""
query Backfill($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      legacyResourceId name email test
      createdAt updatedAt processedAt cancelledAt cancelReason
      displayFinancialStatus currencyCode paymentGatewayNames discountCodes
      customer {{ legacyResourceId }}
      totalPriceSet {{ {_MONEY} }}
      currentTotalPriceSet {{ {_MONEY} }}
      subtotalPriceSet {{ {_MONEY} }}
      totalTaxSet {{ {_MONEY} }}
      totalDiscountsSet {{ {_MONEY} }}
      totalShippingPriceSet {{ {_MONEY} }}
      lineItems(first: 100) {{ nodes {{ {_LINE} }} }}
      refunds(first: 50) {{
        legacyResourceId createdAt note
        totalRefundedSet {{ {_MONEY} }}
        refundLineItems(first: 100) {{
          nodes {{ quantity subtotalSet {{ {_MONEY} }} lineItem {{ {_LINE} }} }}
        }}
      }}
      fulfillments(first: 20) {{
        legacyResourceId createdAt updatedAt status
        trackingInfo(first: 5) {{ company number url }}
        events(first: 50) {{
          nodes {{
            id status happenedAt estimatedDeliveryAt message city province country
          }}
        }}
      }}
    }}
  }}
}}
"""
COUNT_QUERY = """
query Count($query: String) { ordersCount(query: $query, limit: null) { count } }
"""


class BackfillError(Exception):
    """A problem the merchant can fix (shop, token, scopes, network); said in one line."""


@dataclass
class Report:
    pages: int = 0
    orders: int = 0
    events: int = 0
    skipped: list[str] = field(default_factory=list)
    waited_seconds: float = 0.0


class GraphQLClient:
    """POSTs GraphQL to one shop, keeping under the cost-based rate limit."""

    def __init__(
        self,
        shop: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = graphql_url(shop)
        self.http = httpx.Client(
            timeout=30.0,
            headers={"X-Shopify-Access-Token": token, "Content-Type": "application/json"},
            transport=transport,
        )
        self.sleep = sleep
        self.available: float | None = None
        self.restore_rate = 50.0
        self.last_cost = 0.0
        self.waited = 0.0

    def close(self) -> None:
        self.http.close()

    def _wait_for_budget(self) -> None:
        if self.available is None or self.available >= self.last_cost:
            return
        pause = (self.last_cost - self.available) / max(self.restore_rate, 1.0)
        self.waited += pause
        self.sleep(pause)

    def _note_cost(self, body: Mapping[str, Any]) -> None:
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        if isinstance(status.get("currentlyAvailable"), int | float):
            self.available = float(status["currentlyAvailable"])
        if isinstance(status.get("restoreRate"), int | float):
            self.restore_rate = float(status["restoreRate"])
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, int | float):
            self.last_cost = float(requested)

    def query(self, text: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` of the answer; retries throttling and server errors, then says why not."""
        for attempt in range(MAX_ATTEMPTS):
            self._wait_for_budget()
            try:
                response = self.http.post(self.url, json={"query": text, "variables": variables})
            except httpx.HTTPError as error:
                if attempt == MAX_ATTEMPTS - 1:
                    raise BackfillError(f"{self.url}: {type(error).__name__}") from None
                self._back_off(attempt)
                continue
            if response.status_code in (401, 403):
                raise BackfillError(
                    f"Shopify refused the access token (HTTP {response.status_code}); "
                    "reinstall the app or check its read_orders scope"
                )
            if response.status_code == 429 or response.status_code >= 500:
                self._back_off(attempt, response.headers.get("retry-after"))
                continue
            if response.status_code != 200:
                raise BackfillError(f"GraphQL answered HTTP {response.status_code}")
            body = response.json()
            if not isinstance(body, dict):
                raise BackfillError("GraphQL answered something that is not a JSON object")
            self._note_cost(body)
            errors = body.get("errors") or []
            if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
                self.available = 0.0
                continue
            if errors:
                raise BackfillError(f"GraphQL error: {errors[0].get('message')}")
            data = body.get("data")
            if not isinstance(data, dict):
                raise BackfillError("GraphQL answered without data")
            return data
        raise BackfillError(f"Shopify kept failing after {MAX_ATTEMPTS} attempts")

    def _back_off(self, attempt: int, retry_after: str | None = None) -> None:
        try:
            pause = float(retry_after) if retry_after else 2.0**attempt
        except ValueError:
            pause = 2.0**attempt
        self.waited += pause
        self.sleep(pause)


# --- GraphQL order → REST webhook shape ---------------------------------------------------


def _amount(value: Any) -> Any:
    if isinstance(value, Mapping):
        money = value.get("shopMoney")
        if isinstance(money, Mapping):
            return money.get("amount")
    return None


def _nodes(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        value = value.get("nodes")
    return [item for item in value or () if isinstance(item, Mapping)]


def _gid_tail(gid: Any) -> str | None:
    return str(gid).rsplit("/", 1)[-1] if gid else None


def _line(node: Mapping[str, Any]) -> dict[str, Any]:
    product = node.get("product")
    return {
        "id": _gid_tail(node.get("id")),
        "title": node.get("title"),
        "quantity": node.get("quantity"),
        "current_quantity": node.get("currentQuantity"),
        "sku": node.get("sku"),
        "vendor": node.get("vendor"),
        "variant_title": node.get("variantTitle"),
        "product_id": product.get("legacyResourceId") if isinstance(product, Mapping) else None,
        "price": _amount(node.get("originalUnitPriceSet")),
    }


def rest_order(node: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a REST order that the mapping reads, from a GraphQL ``Order``."""
    customer = node.get("customer")
    name = str(node.get("name") or "")
    refunds = []
    for refund in node.get("refunds") or ():
        if not isinstance(refund, Mapping):
            continue
        total = refund.get("totalRefundedSet")
        currency = (total or {}).get("shopMoney", {}).get("currencyCode") if total else None
        refunds.append(
            {
                "id": refund.get("legacyResourceId"),
                "created_at": refund.get("createdAt"),
                "note": refund.get("note"),
                "transactions": [
                    {
                        "kind": "refund",
                        "status": "success",
                        "amount": _amount(total),
                        "currency": currency,
                    }
                ],
                "refund_line_items": [
                    {
                        "quantity": item.get("quantity"),
                        "subtotal": _amount(item.get("subtotalSet")),
                        "line_item": _line(item.get("lineItem") or {}),
                    }
                    for item in _nodes(refund.get("refundLineItems"))
                ],
            }
        )
    return {
        "id": node.get("legacyResourceId"),
        "name": name,
        "order_number": name.lstrip("#") or None,
        "email": node.get("email"),
        "test": node.get("test"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "processed_at": node.get("processedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "cancel_reason": str(node.get("cancelReason") or "").lower() or None,
        "financial_status": str(node.get("displayFinancialStatus") or "").lower(),
        "currency": node.get("currencyCode"),
        "payment_gateway_names": node.get("paymentGatewayNames") or [],
        "discount_codes": [{"code": code} for code in node.get("discountCodes") or ()],
        "customer": {"id": customer.get("legacyResourceId")}
        if isinstance(customer, Mapping)
        else None,
        "total_price": _amount(node.get("totalPriceSet")),
        "current_total_price": _amount(node.get("currentTotalPriceSet")),
        "subtotal_price": _amount(node.get("subtotalPriceSet")),
        "total_tax": _amount(node.get("totalTaxSet")),
        "total_discounts": _amount(node.get("totalDiscountsSet")),
        "total_shipping_price_set": {
            "shop_money": {"amount": _amount(node.get("totalShippingPriceSet"))}
        },
        "line_items": [_line(item) for item in _nodes(node.get("lineItems"))],
        "refunds": refunds,
        "fulfillments": [],
    }


def rest_fulfillments(
    node: Mapping[str, Any], order_id: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(topic, payload)`` for each fulfillment and each of its carrier events."""
    for fulfillment in node.get("fulfillments") or ():
        if not isinstance(fulfillment, Mapping):
            continue
        tracking = [t for t in fulfillment.get("trackingInfo") or () if isinstance(t, Mapping)]
        first = tracking[0] if tracking else {}
        fulfillment_id = fulfillment.get("legacyResourceId")
        yield (
            "fulfillments/create",
            {
                "id": fulfillment_id,
                "order_id": order_id,
                "status": str(fulfillment.get("status") or "").lower(),
                "created_at": fulfillment.get("createdAt"),
                "updated_at": fulfillment.get("updatedAt"),
                "tracking_company": first.get("company"),
                "tracking_number": first.get("number"),
                "tracking_url": first.get("url"),
            },
        )
        for event in _nodes(fulfillment.get("events")):
            yield (
                "fulfillment_events/create",
                {
                    "id": _gid_tail(event.get("id")),
                    "fulfillment_id": fulfillment_id,
                    "order_id": order_id,
                    "status": str(event.get("status") or "").lower(),
                    "happened_at": event.get("happenedAt"),
                    "estimated_delivery_at": event.get("estimatedDeliveryAt"),
                    "message": event.get("message"),
                    "city": event.get("city"),
                    "province": event.get("province"),
                    "country": event.get("country"),
                },
            )


# --- the run ------------------------------------------------------------------------------


def search_query(since: date | None) -> str | None:
    return f"created_at:>={since.isoformat()}" if since else None


def backfill(
    store: Store,
    shop_id: str,
    client: GraphQLClient,
    *,
    since: date | None = None,
    restart: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
) -> Report:
    """Pull every order (created on/after ``since``) and map it; resumable by cursor."""
    query = search_query(since)
    saved = store.get_state(shop_id, PROGRESS_KIND, PROGRESS_KEY) or {}
    cursor = None
    done = 0
    if not restart and saved.get("query") == query and not saved.get("finished"):
        cursor = saved.get("cursor")
        done = int(saved.get("orders") or 0)
    total: int | None = None
    try:
        counted = client.query(COUNT_QUERY, {"query": query})
        total = int(counted["ordersCount"]["count"])
    except (BackfillError, KeyError, TypeError, ValueError):
        total = None
    report = Report()
    while True:
        data = client.query(ORDERS_QUERY, {"first": PAGE_SIZE, "after": cursor, "query": query})
        orders = data.get("orders") or {}
        for node in _nodes(orders):
            report.orders += 1
            order = rest_order(node)
            order_id = str(order.get("id") or "")
            try:
                outcome = process(store, shop_id, "orders/updated", order, 65536)
                report.events += len(outcome.messages) if outcome else 0
                for topic, payload in rest_fulfillments(node, order_id):
                    outcome = process(store, shop_id, topic, payload, 65536)
                    report.events += len(outcome.messages) if outcome else 0
            except MappingError as error:
                report.skipped.append(f"order {order_id}: {error}")
        report.pages += 1
        done += len(_nodes(orders))
        info = orders.get("pageInfo") or {}
        cursor = info.get("endCursor") or cursor
        finished = not info.get("hasNextPage")
        store.put_state(
            shop_id,
            PROGRESS_KIND,
            PROGRESS_KEY,
            {"query": query, "cursor": cursor, "orders": done, "finished": finished},
        )
        if progress:
            progress(done, total)
        if finished:
            break
    report.waited_seconds = client.waited
    return report


def client_for(store: Store, shop_ref: str, **options: Any) -> tuple[str, GraphQLClient]:
    """The shop (by id or *.myshopify.com domain) and a client with its stored token."""
    shop = store.get_shop(shop_ref)
    if shop is None and valid_shop(shop_ref):
        shop = store.shop_by_domain(shop_ref)
    if shop is None or shop.platform != PLATFORM or not shop.domain:
        raise BackfillError(f"no installed Shopify shop {shop_ref!r} (cx shops list)")
    token = shop.secrets.get("access_token")
    if not isinstance(token, str) or not token:
        raise BackfillError(f"{shop.domain} has no access token; install the app first")
    return shop.id, GraphQLClient(shop.domain, token, **options)


__all__ = ["API_VERSION", "BackfillError", "GraphQLClient", "Report", "backfill", "client_for"]
