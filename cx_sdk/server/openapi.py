"""The OpenAPI description of the collector's own API (ingest, read, privacy)."""

from __future__ import annotations

from typing import Any

from .. import __version__
from .settings import Settings

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
    "required": ["error"],
}
_MESSAGE = {
    "type": "object",
    "description": "A Segment message (track, identify, page, screen, alias).",
    "additionalProperties": True,
}
_INGEST_RESULT = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean"},
        "accepted": {"type": "integer"},
        "duplicates": {"type": "integer"},
        "dropped_no_consent": {"type": "integer"},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "messageId": {"type": ["string", "null"]},
                    "problems": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    texts = {
        400: "malformed body or invalid parameters",
        401: "missing or invalid credentials",
        404: "not found",
        413: "body over the size limit",
    }
    return {
        str(code): {
            "description": texts[code],
            "content": {"application/json": {"schema": _ERROR}},
        }
        for code in codes
    }


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _ok(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"200": {"description": "OK", "content": {media: {"schema": schema}}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _ingest_operation(summary: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"writeKey": []}],
            "requestBody": _json_body(body),
            "responses": {**_ok(_INGEST_RESULT), **_errors(400, 401, 413)},
        }
    }


def spec(settings: Settings) -> dict[str, Any]:
    batch_body = {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {"type": "array", "items": _MESSAGE},
            "sentAt": {"type": "string", "format": "date-time"},
            "writeKey": {"type": "string"},
            "context": {"type": "object"},
        },
    }
    paths: dict[str, Any] = {
        "/v1/batch": _ingest_operation("Store a batch of Segment messages", batch_body),
        "/v1/import": _ingest_operation("Alias of /v1/batch", batch_body),
    }
    for kind in ("track", "identify", "page", "screen", "alias"):
        paths[f"/v1/{kind}"] = _ingest_operation(f"Store one {kind} message", _MESSAGE)
    admin: list[dict[str, list[str]]] = [{"adminToken": []}]
    time_schema = {"type": "string", "format": "date-time"}
    paths["/api/v1/events"] = {
        "get": {
            "summary": "Stored events as NDJSON, oldest first",
            "security": admin,
            "parameters": [
                _query("event", {"type": "string"}, "event name"),
                _query("user_id", {"type": "string"}, "customer (stitched anonymous ids too)"),
                _query("since", time_schema, "from this time (inclusive)"),
                _query("until", time_schema, "until this time (exclusive)"),
                _query("cursor", {"type": "integer", "minimum": 0}, "X-Next-Cursor of a page"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 10000}, "page size"),
            ],
            "responses": {
                **_ok({"type": "string"}, "application/x-ndjson"),
                **_errors(400, 401),
            },
        }
    }
    for path, param, summary in (
        ("/api/v1/customers/{user_id}/journey", "user_id", "A customer's journey by stage"),
        ("/api/v1/orders/{order_ref}", "order_ref", "An order's state, shipments and timeline"),
    ):
        paths[path] = {
            "get": {
                "summary": summary,
                "security": admin,
                "parameters": [
                    {"name": param, "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {**_ok({"type": "object"}), **_errors(401, 404)},
            }
        }
    day = {"type": "string", "format": "date"}
    paths["/api/v1/kpis"] = {
        "get": {
            "summary": "Journey KPIs for a period and their trend (see the analytics README)",
            "security": admin,
            "parameters": [
                _query("from", day, "first day (default: 30 days before `to`)"),
                _query("to", day, "last day, included (default: today)"),
                _query(
                    "bucket", {"type": "string", "enum": ["day", "week", "month"]}, "trend step"
                ),
            ],
            "responses": {**_ok({"type": "object"}), **_errors(400, 401)},
        }
    }
    subject = {
        "type": "object",
        "properties": {"user_id": {"type": "string"}, "email": {"type": "string"}},
    }
    paths["/api/v1/privacy/erase"] = {
        "post": {
            "summary": "Erase everything about one customer",
            "security": admin,
            "requestBody": _json_body(subject),
            "responses": {**_ok({"type": "object"}), **_errors(400, 401, 413)},
        }
    }
    paths["/api/v1/privacy/export"] = {
        "get": {
            "summary": "Export everything about one customer",
            "security": admin,
            "parameters": [
                _query("user_id", {"type": "string"}, "customer id"),
                _query("email", {"type": "string"}, "customer email"),
            ],
            "responses": {**_ok({"type": "object"}), **_errors(400, 401)},
        }
    }
    paths["/api/v1/privacy/requests"] = {
        "get": {
            "summary": "Platform data requests (Shopify customers/data_request) with exports",
            "security": admin,
            "responses": {**_ok({"type": "object"}), **_errors(401)},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "cx collector", "version": __version__},
        "servers": [{"url": settings.public_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "writeKey": {"type": "http", "scheme": "basic"},
                "adminToken": {"type": "http", "scheme": "bearer"},
            }
        },
    }
