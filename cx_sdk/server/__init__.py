"""The collector (extra ``cx-sdk[server]``): ingest, storage, privacy, widgets, webhooks."""

from .app import create_app
from .settings import Settings
from .store import CreatedShop, IngestResult, OrderView, ShipmentView, Shop, Store

__all__ = [
    "CreatedShop",
    "IngestResult",
    "OrderView",
    "Settings",
    "ShipmentView",
    "Shop",
    "Store",
    "create_app",
]
