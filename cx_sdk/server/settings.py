"""Collector settings: defaults for one machine, overridable by ``CX_*`` environment
variables and by ``cx serve`` flags."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field

DEFAULT_DATABASE_URL = "sqlite:///./cx-data/cx.db"


class Settings(BaseModel):
    database_url: str = DEFAULT_DATABASE_URL
    # Base URL the collector is reached at, used in links it prints and in widget loaders.
    public_url: str = "http://127.0.0.1:8000"
    max_event_bytes: int = Field(32 * 1024, ge=1024)
    max_request_bytes: int = Field(500 * 1024, ge=1024)
    # Seconds a resolved write key stays cached in a worker; rotation elsewhere takes this long.
    key_cache_seconds: float = Field(5.0, ge=0)
    migrate_on_start: bool = True
    # Seconds between runs of the parts' periodic jobs (Shopify's abandoned-checkout sweep);
    # 0 turns them off in this process.
    periodic_seconds: float = Field(300.0, ge=0)
    # A Shopify checkout no order followed within this many minutes becomes Checkout Abandoned.
    shopify_abandoned_after_minutes: int = Field(60, ge=1)
    # The analytics and recommendations projectors follow ingest in a background thread
    # (server/follower.py) instead of delaying every acknowledgement; false runs them inline.
    defer_projections: bool = True
    # SQLite files: the follower runs as a process of its own beside each worker
    # (server/follower_process.py), on another core than ingest; false keeps it a thread.
    follower_process: bool = True
    # SQLite: seconds between WAL checkpoints in a background thread, so that no ingest commit
    # pays for one (server/checkpoint.py); 0 leaves them to SQLite, inside commits.
    checkpoint_seconds: float = Field(0.25, ge=0)
    # Signs console session cookies; generated per process when unset (sessions then end on
    # restart).
    secret_key: str | None = None
    # Live chat fans out through Redis pub/sub when set (several workers or machines).
    redis_url: str | None = None
    # Open visitor chat sockets one client address may hold per worker (0: no limit). Behind a
    # proxy the address is the one uvicorn trusts from X-Forwarded-For (--forwarded-allow-ips).
    chat_sockets_per_ip: int = Field(20, ge=0)
    shopify_api_key: str | None = None
    shopify_api_secret: str | None = Field(None, repr=False)
    shopify_api_secret_previous: str | None = Field(None, repr=False)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from ``CX_<FIELD>`` variables; explicit overrides win."""
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = os.environ.get(f"CX_{name.upper()}")
            if raw is not None:
                values[name] = raw
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls.model_validate(values)
