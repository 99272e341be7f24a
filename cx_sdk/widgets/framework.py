"""The widget contract: a widget is a name plus a ``render`` that turns a request into an HTML
fragment (or None: nothing to show, answered 204). Recommendations and chat plug in by adding
an object with this shape to ``cx_sdk.widgets.registry.WIDGETS``."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..server.settings import Settings
from ..server.store import Shop, Store
from . import i18n
from .config import WidgetConfig, WidgetSettings


@dataclass(slots=True)
class RenderContext:
    """Everything a widget may use while rendering one request."""

    store: Store
    settings: Settings
    shop: Shop
    locale: str
    config: WidgetConfig
    widgets: WidgetSettings
    key: bytes
    params: dict[str, str]
    # Absolute URL of /widgets/{shop_id}: forms post there from any shop domain.
    base: str
    # True for a standalone page (no JavaScript needed), False for a fragment.
    page: bool
    now: datetime
    # The shopper's address as the server sees it (uvicorn --proxy-headers behind a proxy).
    client: str = ""
    # Element ids unique on the page, not secret: the PRNG, not a system call per render.
    uid: str = field(default_factory=lambda: f"{random.getrandbits(32):08x}")

    @property
    def fmt(self) -> i18n.Formatter:
        return i18n.formatter(self.locale)

    def render(self, template: str, **values: Any) -> str:
        return i18n.render(
            template,
            self.locale,
            {
                "config": self.config,
                "shop": self.shop,
                "base": self.base,
                "page": self.page,
                "uid": self.uid,
                "fmt": self.fmt,
                **values,
            },
        )


class Widget(Protocol):
    name: str
    # True when render only reads (it may then run on the event loop with embedded SQLite).
    read_only: bool

    def render(self, ctx: RenderContext) -> str | None:
        """The fragment; None when there is nothing to show this shopper now."""
        ...
