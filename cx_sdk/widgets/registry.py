"""The widgets this collector serves: tracking and surveys, plus those of the optional parts
(recommendations, chat), which offer theirs through a ``widgets()`` hook."""

from __future__ import annotations

from ..server import parts
from ..server.store import Store
from .config import WidgetSettings
from .framework import Widget
from .survey import SurveyWidget
from .tracking import TrackingWidget

WIDGETS: dict[str, Widget] = {
    widget.name: widget for widget in (TrackingWidget(), SurveyWidget(), *parts.collect("widgets"))
}


def settings_for(store: Store) -> WidgetSettings:
    """The widget settings kept in ``store``'s database (one reader per store: asked for on
    every render)."""
    found: WidgetSettings | None = store.parts.get("widget_settings")
    if found is None:
        found = store.parts["widget_settings"] = WidgetSettings(
            store.engine, tuple(WIDGETS), store.point_read, lambda: store.key_cache_seconds
        )
    return found
