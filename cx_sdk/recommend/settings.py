"""The merchant's recommendation settings per shop: strategy and count per placement, and
products never to recommend. Validated here once, for console and tests alike."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select

from ..server.bulk import json_value
from ..server.clock import utcnow
from ..server.store import Store
from ..widgets.config import N_, ConfigError
from .engine import STRATEGIES
from .tables import rec_settings

PLACEMENTS = ("product", "cart", "thank_you", "tracking")
# Names the platform blocks use (the Shopify theme block says "product_page").
ALIASES = {
    "product_page": "product",
    "cart_page": "cart",
    "thank-you": "thank_you",
    "order_status": "thank_you",
}
DEFAULTS: dict[str, tuple[str, int]] = {
    "product": ("also_bought", 4),
    "cart": ("also_bought", 4),
    "thank_you": ("for_you", 4),
    "tracking": ("for_you", 4),
}
MAX_LIMIT = 12
MAX_EXCLUDED = 500
_PRODUCT_ID = re.compile(r"^[^\x00-\x1f,]{1,200}$")
# Built once: read on every render.
_STORED = select(rec_settings.c.placements, rec_settings.c.excluded).where(
    rec_settings.c.shop_id == bindparam("shop")
)


@dataclass(frozen=True)
class Placement:
    strategy: str
    limit: int


@dataclass(frozen=True)
class RecSettings:
    placements: dict[str, Placement] = field(
        default_factory=lambda: {name: Placement(*value) for name, value in DEFAULTS.items()}
    )
    excluded: tuple[str, ...] = ()

    def placement(self, name: str) -> Placement:
        return self.placements.get(name) or Placement(*DEFAULTS["product"])


def validate(placements: Mapping[str, tuple[str, str | int]], excluded: list[str]) -> RecSettings:
    """From raw form values; ConfigError names the field and the rule."""
    chosen: dict[str, Placement] = {}
    for name in PLACEMENTS:
        strategy, limit = placements.get(name, DEFAULTS[name])
        if strategy not in STRATEGIES:
            raise ConfigError(
                N_("strategy must be one of %(allowed)s"), allowed=", ".join(STRATEGIES)
            )
        try:
            count = int(limit)
        except (TypeError, ValueError):
            raise ConfigError(
                N_("count must be a whole number from 1 to %(limit)s"), limit=MAX_LIMIT
            ) from None
        if not 1 <= count <= MAX_LIMIT:
            raise ConfigError(
                N_("count must be a whole number from 1 to %(limit)s"), limit=MAX_LIMIT
            )
        chosen[name] = Placement(strategy, count)
    ids = list(dict.fromkeys(value.strip() for value in excluded if value.strip()))
    if len(ids) > MAX_EXCLUDED:
        raise ConfigError(N_("at most %(limit)s excluded products"), limit=MAX_EXCLUDED)
    for value in ids:
        if not _PRODUCT_ID.match(value):
            raise ConfigError(N_("not a product id: %(value)s"), value=value[:60])
    return RecSettings(chosen, tuple(ids))


def load(engine: Engine, shop_id: str) -> RecSettings:
    with engine.connect() as conn:
        row = conn.execute(_STORED, {"shop": shop_id}).first()
    return _stored(None if row is None else (row.placements, row.excluded))


def for_render(store: Store, conn: Connection, shop_id: str) -> RecSettings:
    """``load`` on every render, on the render's connection: one read through the driver
    (``Store.driver_read``)."""
    row = store.driver_read(_STORED).run(conn, {"shop": shop_id})
    if row is None:
        return RecSettings()
    placements, excluded = row
    return _stored((json_value(placements), json_value(excluded)))


def _stored(row: tuple[Any, Any] | None) -> RecSettings:
    """The stored placements and exclusions, validated; the defaults when there are none."""
    if row is None:
        return RecSettings()
    placements, excluded = row
    stored: dict[str, Any] = dict(placements or {})
    raw = {
        name: (str(value.get("strategy")), value.get("limit", 4))
        for name, value in stored.items()
        if isinstance(value, dict)
    }
    try:
        return validate(raw, [str(value) for value in excluded or []])
    except ConfigError:
        return RecSettings()  # written by an older version: the defaults, never a crash


def save(engine: Engine, shop_id: str, settings: RecSettings) -> None:
    values = {
        "placements": {
            name: {"strategy": p.strategy, "limit": p.limit}
            for name, p in settings.placements.items()
        },
        "excluded": list(settings.excluded),
        "updated_at": utcnow(),
    }
    with engine.begin() as conn:
        updated = conn.execute(
            rec_settings.update()
            .where(rec_settings.c.shop_id == shop_id)
            .values(version=rec_settings.c.version + 1, **values)
        )
        if updated.rowcount == 0:
            conn.execute(rec_settings.insert().values(shop_id=shop_id, version=1, **values))
