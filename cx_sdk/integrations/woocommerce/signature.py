"""WooCommerce webhook signatures.

WooCommerce signs each delivery with ``base64(HMAC-SHA256(raw body, secret))`` in
``X-WC-Webhook-Signature``. It runs the stored secret through ``wp_specialchars_decode``
first, so a secret with ``&``, ``<`` or quotes can sign with a different key than the one the
merchant copied: secrets we generate are alphanumeric only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
_ALPHABET = string.ascii_letters + string.digits


def sign(body: bytes, secret: str) -> str:
    """The header value WooCommerce sends for ``body`` (used by tests and the plugin docs)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(body: bytes, secret: str, signature: str | None) -> bool:
    """True when ``signature`` is the one WooCommerce computes over the raw ``body``.

    Compared in constant time; an empty secret never verifies (a shop without a configured
    secret must not accept unsigned deliveries).
    """
    if not secret or not signature:
        return False
    expected = sign(body, secret).encode("ascii")
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


def generate_secret(length: int = 40) -> str:
    """A webhook secret of letters and digits (about 238 bits at the default length)."""
    if length < 32:
        raise ValueError("a webhook secret needs at least 32 characters")
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def is_valid_secret(secret: str) -> bool:
    """True for a secret WooCommerce signs with unchanged: 32+ ASCII letters and digits."""
    return len(secret) >= 32 and all(char in _ALPHABET for char in secret)
