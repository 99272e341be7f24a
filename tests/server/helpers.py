"""Small builders for collector tests."""

from __future__ import annotations

import base64
import uuid
from typing import Any


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
