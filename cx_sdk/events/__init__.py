"""The journey event catalog: one Segment-compatible envelope, typed per event.

``parse(dict)`` gives a typed message; ``message.to_wire()`` gives the dict back.
Known event names are validated against the catalog; unknown names stay custom events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .catalog import *  # noqa: F403  (every event model is public)
from .catalog import (
    CATALOG,
    JOURNEY_EXTENSIONS,
    SCALES,
    SEGMENT_ECOMMERCE,
    Product,
    ShipmentStatus,
    SurveyType,
)
from .catalog import __all__ as _catalog_all
from .envelope import (
    Alias,
    Channel,
    Consent,
    Context,
    Identify,
    Message,
    Page,
    Stage,
    Track,
    derive_message_id,
)
from .errors import EventError, Problem, problems_from
from .fields import ISO_4217, Currency, Money, Timestamp

MESSAGE_TYPES: dict[str, type[Message]] = {
    "track": Track,
    "identify": Identify,
    "page": Page,
    "screen": Page,
    "alias": Alias,
}


def model_for(data: Mapping[str, Any]) -> type[Message]:
    """The model a wire dict validates against: a catalog event, or a generic message."""
    kind = data.get("type")
    if kind == "track":
        event = data.get("event")
        if isinstance(event, str) and event in CATALOG:
            return CATALOG[event]
        return Track
    if isinstance(kind, str) and kind in MESSAGE_TYPES:
        return MESSAGE_TYPES[kind]
    raise EventError(
        [Problem("type", f"must be one of track, identify, page, alias; got {kind!r}")]
    )


def parse(data: Mapping[str, Any], *, naive_as_utc: bool = False) -> Message:
    """Validate a wire dict; raises ``EventError`` naming each field and rule."""
    if not isinstance(data, Mapping):
        raise EventError([Problem("", f"a message must be an object, got {type(data).__name__}")])
    model = model_for(data)
    if data.get("type") == "screen":
        data = {**data, "type": "page"}
    event = data.get("event") if model is not Track else None
    try:
        return model.model_validate(data, context={"naive_as_utc": naive_as_utc})
    except ValidationError as error:
        raise EventError(
            problems_from(error, event if isinstance(event, str) else None),
            event if isinstance(event, str) else None,
        ) from None


def stage_of(message: Message) -> Stage | None:
    """The journey stage of a message; custom events and identify/alias have none."""
    return type(message).stage


__all__ = [
    "CATALOG",
    "ISO_4217",
    "JOURNEY_EXTENSIONS",
    "MESSAGE_TYPES",
    "SCALES",
    "SEGMENT_ECOMMERCE",
    "Alias",
    "Channel",
    "Consent",
    "Context",
    "Currency",
    "EventError",
    "Identify",
    "Message",
    "Money",
    "Page",
    "Problem",
    "Product",
    "ShipmentStatus",
    "Stage",
    "SurveyType",
    "Timestamp",
    "Track",
    "derive_message_id",
    "model_for",
    "parse",
    "stage_of",
    *_catalog_all,
]
