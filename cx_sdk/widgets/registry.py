"""The widgets this collector serves. Another widget (recommendations, chat) plugs in by
adding an object with a ``name`` and a ``render(ctx)`` here."""

from __future__ import annotations

from ..server.store import Store
from .config import WidgetSettings
from .framework import Widget
from .survey import SurveyWidget
from .tracking import TrackingWidget

WIDGETS: dict[str, Widget] = {widget.name: widget for widget in (TrackingWidget(), SurveyWidget())}


def settings_for(store: Store) -> WidgetSettings:
    """The widget settings kept in ``store``'s database."""
    return WidgetSettings(store.engine, tuple(WIDGETS))
