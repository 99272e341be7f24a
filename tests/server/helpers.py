"""Small builders for collector tests."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from cx_sdk.server import Store


def basic(write_key: str) -> dict[str, str]:
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def order_completed(order_id: str = "1001", **overrides: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "event": "Order Completed",
        "messageId": str(uuid.uuid4()),
        "userId": "cust-1",
        "timestamp": "2026-11-20T10:00:00.000Z",
        "properties": {"order_id": order_id, "total": "59.90", "currency": "EUR"},
    }
    message.update(overrides)
    return message


def track(event: str, properties: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "event": event,
        "messageId": str(uuid.uuid4()),
        "userId": "cust-1",
        "timestamp": "2026-11-20T10:00:00.000Z",
        "properties": properties or {},
    }
    message.update(fields)
    return message


class ErasureRace:
    """An erase while a projection has read a customer's events and not yet written: the
    projection's step is held (``hold``) until the erase had time to finish on its own."""

    def __init__(self) -> None:
        self.read, self.release = threading.Event(), threading.Event()

    def hold(self, step: Callable[..., Any] | None = None) -> Callable[..., Any]:
        def held(*args: Any, **kwargs: Any) -> Any:
            self.read.set()
            self.release.wait(30)
            return None if step is None else step(*args, **kwargs)

        return held

    def run(self, store: Store, shop_id: str, user_id: str, projection: Callable[[], Any]) -> None:
        projecting = threading.Thread(target=projection)
        projecting.start()
        assert self.read.wait(30)
        erasing = threading.Thread(
            target=store.erase_customer, args=(shop_id,), kwargs={"user_id": user_id}
        )
        erasing.start()
        time.sleep(0.3)  # the erase would be done by now, were it not waiting for the projection
        self.release.set()
        projecting.join(30)
        erasing.join(30)
