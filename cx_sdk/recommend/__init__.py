"""Recommendations, an optional part of the collector (hooks: see cx_sdk.server.parts)."""

from __future__ import annotations
