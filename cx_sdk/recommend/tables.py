"""Recommendations: its tables, registered on the collector's metadata."""

from __future__ import annotations

from ..server.tables import metadata as metadata
