"""PII helpers: events carry hashes of contact data, never the data, unless a merchant opts in."""

from __future__ import annotations

import hashlib


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_email(email: str) -> str:
    """SHA-256 hex of the normalized address: stable across platforms, so identities join."""
    return hashlib.sha256(normalize_email(email).encode("utf-8")).hexdigest()
