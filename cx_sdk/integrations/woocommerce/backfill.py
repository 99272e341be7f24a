"""Backfill from the WooCommerce REST API (``/wp-json/wc/v3``).

Orders are read oldest id first, 100 per page, so orders placed during the run only append
pages. After each page the page number is stored; a rerun resumes at that page (reading it
again: a deleted order may have shifted it, and every fact is idempotent). Facts go through the
same mapping and per-order state as webhooks, so webhooks and backfill never double-count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from ...server.store import Store
from .mapping import PLATFORM, MappingError, map_order, status_history, with_tracking_items
from .webhooks import load_config

API = "/wp-json/wc/v3"
PER_PAGE = 100
PROGRESS_KIND = "backfill"
PROGRESS_KEY = "orders"


class BackfillError(Exception):
    """A problem the merchant can fix (URL, keys, permissions); said in one line."""


@dataclass
class Report:
    pages: int = 0
    orders: int = 0
    events: int = 0
    duplicates: int = 0
    skipped: list[str] = field(default_factory=list)


def check_url(url: str) -> str:
    """The shop's base URL; Basic auth sends the keys in clear, so only HTTPS is accepted."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise BackfillError(
            f"--url must be the shop's https:// address (got {url!r}); the API keys travel "
            "with every request and are only sent over HTTPS"
        )
    return f"https://{parts.netloc}{parts.path.rstrip('/')}"


class WooClient:
    """A small REST client: Basic auth, retries on 429/5xx, errors in plain words."""

    def __init__(
        self,
        url: str,
        key: str,
        secret: str,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retries: int = 3,
    ) -> None:
        if not key.startswith("ck_") or not secret.startswith("cs_"):
            raise BackfillError(
                "--key must start with ck_ and --secret with cs_ (WooCommerce keys)"
            )
        self.base = check_url(url) + API
        self.http = httpx.Client(
            auth=(key, secret),
            timeout=httpx.Timeout(30.0, connect=10.0),
            transport=transport,
            headers={"User-Agent": "cx-woocommerce-backfill/1"},
            follow_redirects=False,
        )
        self.sleep = sleep
        self.retries = retries

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        for attempt in range(self.retries + 1):
            try:
                response = self.http.get(self.base + path, params=dict(params or {}))
            except httpx.TransportError as error:
                if attempt == self.retries:
                    raise BackfillError(f"cannot reach {self.base}: {error}") from None
                self.sleep(2.0**attempt)
                continue
            if response.status_code in (429, 500, 502, 503, 504) and attempt < self.retries:
                self.sleep(2.0**attempt)
                continue
            return self._checked(response)
        raise AssertionError("unreachable")

    def _checked(self, response: httpx.Response) -> httpx.Response:
        if response.status_code in (401, 403):
            raise BackfillError(
                f"WooCommerce refused the API keys ({response.status_code}): they need "
                "Read access (WooCommerce › Settings › Advanced › REST API)"
            )
        if response.status_code == 404 and response.request.url.path.endswith("/orders"):
            raise BackfillError(f"no WooCommerce REST API at {self.base} (404)")
        if response.is_redirect:
            raise BackfillError(
                f"{response.request.url} redirects to {response.headers.get('location')}; "
                "use the final https:// address as --url"
            )
        return response

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """One write (webhook creation); never retried, so nothing is created twice."""
        try:
            response = self.http.post(self.base + path, json=dict(body))
        except httpx.TransportError as error:
            raise BackfillError(f"cannot reach {self.base}: {error}") from None
        response = self._checked(response)
        if response.status_code not in (200, 201):
            try:
                message = response.json().get("message")
            except (ValueError, AttributeError):
                message = None
            raise BackfillError(
                f"POST {path}: HTTP {response.status_code}" + (f": {message}" if message else "")
            )
        return response.json()

    def json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self.get(path, params)
        if response.status_code != 200:
            raise BackfillError(f"GET {path}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise BackfillError(f"GET {path}: the answer is not JSON") from None

    def order_pages(self, start: int) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
        """(page, total pages, orders) from ``start``; total pages from ``X-WP-TotalPages``."""
        page = start
        while True:
            params = {"per_page": PER_PAGE, "page": page, "orderby": "id", "order": "asc"}
            response = self.get("/orders", params)
            if response.status_code != 200:
                raise BackfillError(f"GET /orders page {page}: HTTP {response.status_code}")
            orders = response.json()
            if not isinstance(orders, list):
                raise BackfillError(f"GET /orders page {page}: expected a list")
            total = int(response.headers.get("x-wp-totalpages") or page)
            yield page, total, orders
            if page >= total or not orders:
                return
            page += 1

    def refunds(self, order_id: str) -> dict[str, dict[str, Any]]:
        items = self.json(f"/orders/{order_id}/refunds", {"per_page": PER_PAGE})
        return {str(item["id"]): item for item in items if isinstance(item, dict)}

    def notes(self, order_id: str) -> list[Any]:
        items = self.json(f"/orders/{order_id}/notes", {"type": "internal"})
        return items if isinstance(items, list) else []

    def shipment_trackings(self, order_id: str) -> list[Any] | None:
        """The Shipment Tracking extension's list; None when the extension is not installed."""
        response = self.get(f"/orders/{order_id}/shipment-trackings")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise BackfillError(f"GET shipment-trackings of {order_id}: {response.status_code}")
        data = response.json()
        return data if isinstance(data, list) else None


ProgressCallback = Callable[[int, int], None]


def backfill(
    store: Store,
    shop_id: str,
    client: WooClient,
    *,
    restart: bool = False,
    trackings: bool = False,
    notes: bool = False,
    progress: ProgressCallback | None = None,
) -> Report:
    """Read every order (and its refunds) and ingest the facts not stored yet."""
    if store.get_shop(shop_id) is None:
        raise BackfillError(f"unknown shop {shop_id!r} (cx shops list)")
    config = load_config(store, shop_id)
    saved = None if restart else store.get_state(shop_id, PROGRESS_KIND, PROGRESS_KEY)
    start = int(saved["page"]) if saved and not saved.get("finished") else 1
    report = Report()
    tracking_supported = trackings
    for page, total, orders in client.order_pages(start):
        messages: list[dict[str, Any]] = []
        states: list[tuple[str, dict[str, Any]]] = []
        for order in orders:
            order_id = str(order.get("id"))
            details = client.refunds(order_id) if order.get("refunds") else None
            history = status_history(client.notes(order_id)) if notes else None
            if tracking_supported:
                items = client.shipment_trackings(order_id)
                if items is None:
                    tracking_supported = False  # not installed: stop asking
                else:
                    order = with_tracking_items(order, items)
            try:
                outcome = map_order(
                    shop_id,
                    order,
                    store.get_state(shop_id, "order", order_id),
                    config,
                    refund_details=details,
                    history=history,
                )
            except MappingError as error:
                report.skipped.append(f"order {order_id}: {error}")
                continue
            messages += outcome.wire()
            if outcome.state is not None:
                states.append((order_id, outcome.state))
            report.orders += 1
        if messages:
            result = store.ingest(shop_id, messages)
            report.events += len(result.accepted)
            report.duplicates += len(result.duplicates)
            for rejected in result.rejected:
                report.skipped.append(f"event rejected: {rejected}")
        for order_id, state in states:
            store.put_state(shop_id, "order", order_id, state)
        finished = page >= total or not orders
        store.put_state(
            shop_id,
            PROGRESS_KIND,
            PROGRESS_KEY,
            {
                "page": page,
                "total_pages": total,
                "finished": finished,
                "at": datetime.now(UTC).isoformat(),
                "platform": PLATFORM,
            },
        )
        report.pages += 1
        if progress:
            progress(page, total)
    return report
