"""Signed tokens: what a rendered widget hands to the browser so that an answer, a click or a
console session can be trusted later without cookies on the shop's domain.

A token is ``base64url(json).base64url(hmac_sha256(key, purpose + "." + json))``; the purpose
is part of the MAC, so a survey token is never accepted as a session and vice versa.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from functools import lru_cache
from typing import Any

from ..server.settings import Settings
from ..server.store import Shop, Store

SHOP_SECRET_NAME = "widgets_signing_key"  # noqa: S105 (a key name, not a secret)


class TokenError(ValueError):
    """The token is malformed, forged, for another purpose or expired."""


class TokenExpired(TokenError):
    """Genuine but too old: the shopper is told so, unlike for a forged token."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, purpose: str, payload: dict[str, Any], ttl_seconds: int) -> str:
    body = dict(payload, exp=int(time.time()) + ttl_seconds)
    encoded = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    mac = hmac.new(key, f"{purpose}.{encoded}".encode("ascii"), hashlib.sha256).digest()
    return f"{encoded}.{_b64(mac)}"


def verify(key: bytes, purpose: str, token: str) -> dict[str, Any]:
    encoded, _, signature = token.partition(".")
    if not encoded or not signature or len(token) > 4096:
        raise TokenError("malformed token")
    expected = hmac.new(key, f"{purpose}.{encoded}".encode("ascii"), hashlib.sha256).digest()
    try:
        given = _unb64(signature)
        payload = json.loads(_unb64(encoded))
    except (ValueError, UnicodeDecodeError):
        raise TokenError("malformed token") from None
    if not hmac.compare_digest(expected, given):
        raise TokenError("token signature does not match")
    if not isinstance(payload, dict):
        raise TokenError("malformed token")
    if int(payload.get("exp", 0)) < time.time():
        raise TokenExpired("token expired")
    return payload


def has_shop_key(settings: Settings, shop: Shop) -> bool:
    """False until the shop's first render creates its key (a write)."""
    return bool(settings.secret_key or shop.secrets.get(SHOP_SECRET_NAME))


@lru_cache(maxsize=4096)
def _derived_key(secret_key: str, shop_id: str) -> bytes:
    return hmac.new(
        secret_key.encode("utf-8"), f"widgets:{shop_id}".encode(), hashlib.sha256
    ).digest()


def shop_key(store: Store, settings: Settings, shop: Shop) -> bytes:
    """The shop's signing key: derived from ``CX_SECRET_KEY`` when set, else a random key kept
    with the shop's secrets so every worker and every restart agrees on it."""
    if settings.secret_key:
        return _derived_key(settings.secret_key, shop.id)
    stored = shop.secrets.get(SHOP_SECRET_NAME)
    if not stored:
        stored = store.shop_secret_default(shop.id, SHOP_SECRET_NAME, secrets.token_hex(32))
    return bytes.fromhex(str(stored))
