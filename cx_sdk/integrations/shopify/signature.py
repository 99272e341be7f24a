"""Shopify's three signatures, each verified in constant time.

- Webhooks: ``X-Shopify-Hmac-Sha256`` = base64(HMAC-SHA256(raw body, client secret)).
- OAuth redirects (install, callback): ``hmac`` = hex HMAC-SHA256 over the other query
  parameters, sorted, joined as ``key=value`` with ``&``.
- App proxy: ``signature`` = hex HMAC-SHA256 over the other parameters, sorted, each as
  ``key=value`` with repeated values joined by commas, concatenated with no separator.

During a secret rotation Shopify signs with the new secret; deliveries already queued may
still carry the old one, so every check accepts the previous secret too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl

WEBHOOK_HEADER = "X-Shopify-Hmac-Sha256"
# Shopify's documented tolerance for an app proxy request's ``timestamp``.
PROXY_WINDOW_SECONDS = 90


def _secrets(secrets: Iterable[str | None]) -> list[bytes]:
    """Configured secrets only: an empty secret must never verify anything."""
    return [secret.encode("utf-8") for secret in secrets if secret]


def sign_webhook(body: bytes, secret: str) -> str:
    """The header value Shopify sends for ``body``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_webhook(body: bytes, header: str | None, secrets: Sequence[str | None]) -> bool:
    """True when ``header`` is the base64 HMAC of the raw ``body`` under one of ``secrets``."""
    if not header:
        return False
    given = header.strip().encode("utf-8", "replace")
    matched = False
    for key in _secrets(secrets):
        expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())
        # No early exit: the time taken does not say which secret matched.
        matched |= hmac.compare_digest(expected, given)
    return matched


def oauth_message(params: Iterable[tuple[str, str]]) -> str:
    """The text Shopify signs for an OAuth redirect: sorted ``key=value`` joined by ``&``."""
    pairs = sorted((key, value) for key, value in params if key not in ("hmac", "signature"))
    return "&".join(f"{key}={value}" for key, value in pairs)


def sign_oauth(params: Iterable[tuple[str, str]], secret: str) -> str:
    message = oauth_message(params).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_oauth(query: str, secrets: Sequence[str | None]) -> bool:
    """True when the raw query string's ``hmac`` signs its other parameters."""
    params = parse_qsl(query, keep_blank_values=True)
    given = [value for key, value in params if key == "hmac"]
    if len(given) != 1:
        return False
    return _any_hex(oauth_message(params), given[0], secrets)


def proxy_message(params: Iterable[tuple[str, str]]) -> str:
    """The text Shopify signs for an app proxy request."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        if key != "signature":
            grouped.setdefault(key, []).append(value)
    return "".join(f"{key}={','.join(values)}" for key, values in sorted(grouped.items()))


def sign_proxy(params: Iterable[tuple[str, str]], secret: str) -> str:
    message = proxy_message(params).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_proxy(
    query: str,
    secrets: Sequence[str | None],
    *,
    now: float | None = None,
    window: int = PROXY_WINDOW_SECONDS,
) -> bool:
    """True when ``signature`` signs the query and ``timestamp`` is within ``window`` s."""
    params = parse_qsl(query, keep_blank_values=True)
    given = [value for key, value in params if key == "signature"]
    stamps = [value for key, value in params if key == "timestamp"]
    if len(given) != 1 or len(stamps) != 1 or not stamps[0].isascii() or not stamps[0].isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(stamps[0])) > window:
        return False
    return _any_hex(proxy_message(params), given[0], secrets)


def _any_hex(message: str, given: str, secrets: Sequence[str | None]) -> bool:
    data = message.encode("utf-8")
    supplied = given.strip().lower().encode("utf-8", "replace")
    matched = False
    for key in _secrets(secrets):
        expected = hmac.new(key, data, hashlib.sha256).hexdigest().encode("ascii")
        matched |= hmac.compare_digest(expected, supplied)
    return matched
