"""What happens to one incoming message before it is stored: size limit, catalog
validation, consent, PII minimisation and Segment's clock-skew correction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ..events import EventError, Message, parse, stage_of
from ..events.envelope import Track
from ..privacy import hash_email
from .clock import naive_utc

# Contact data kept out of stored events unless the shop opted in (``store_pii``).
PII_TRAITS = frozenset(
    {
        "phone",
        "address",
        "firstName",
        "lastName",
        "first_name",
        "last_name",
        "name",
        "birthday",
        "street",
    }
)
PII_PROPERTIES = frozenset({"phone", "address"})


@dataclass
class Prepared:
    message_id: str
    type: str
    event: str | None
    stage: str | None
    channel: str
    user_id: str | None
    anonymous_id: str | None
    timestamp: datetime
    original_timestamp: datetime
    sent_at: datetime | None
    received_at: datetime
    wire: dict[str, Any]
    traits: dict[str, Any]
    consent: dict[str, Any] | None
    no_consent: bool = False

    def row(self, shop_id: str) -> dict[str, Any]:
        return {
            "shop_id": shop_id,
            "message_id": self.message_id,
            "type": self.type,
            "event": self.event,
            "stage": self.stage,
            "channel": self.channel,
            "user_id": self.user_id,
            "anonymous_id": self.anonymous_id,
            "timestamp": self.timestamp,
            "original_timestamp": self.original_timestamp,
            "sent_at": self.sent_at,
            "received_at": self.received_at,
            "body": orjson.dumps(self.wire).decode(),
        }


def _minimise(values: dict[str, Any], drop: frozenset[str]) -> dict[str, Any]:
    """Replace an email by its hash and drop contact fields."""
    if "email" not in values and drop.isdisjoint(values):
        return values  # the usual case: nothing to take out, nothing to copy
    out = {key: value for key, value in values.items() if key not in drop}
    email = out.pop("email", None)
    if isinstance(email, str) and email.strip():
        out.setdefault("email_hash", hash_email(email))
    return out


def rejection(message_id: Any, problems: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "messageId": message_id if isinstance(message_id, str) else None,
        "problems": problems,
    }


def prepare(
    raw: Any, received: datetime, *, store_pii: bool, max_bytes: int
) -> Prepared | dict[str, Any]:
    """A storable message, or a rejection naming the field and the rule."""
    message_id = raw.get("messageId") if isinstance(raw, dict) else None
    if isinstance(raw, dict):
        size = len(orjson.dumps(raw, default=str))
        if size > max_bytes:
            return rejection(
                message_id,
                [{"field": "", "rule": f"event is {size} bytes; the limit is {max_bytes}"}],
            )
    try:
        model: Message = parse(raw)
    except EventError as error:
        return rejection(message_id, [problem.as_dict() for problem in error.problems])
    # Stored as sent (validated, not re-serialised: that is the costliest step of ingest),
    # with the fields the model filled in or normalised.
    wire = dict(raw)
    wire["messageId"] = model.message_id
    wire["type"] = model.type
    for key, value in (("userId", model.user_id), ("anonymousId", model.anonymous_id)):
        if value is not None:
            wire[key] = value
    if isinstance(wire.get("context"), dict):
        wire["context"] = dict(wire["context"])
    if not store_pii:
        if "traits" in wire:
            wire["traits"] = _minimise(wire["traits"], PII_TRAITS)
        if "properties" in wire:
            wire["properties"] = _minimise(wire["properties"], PII_PROPERTIES)
        context_traits = wire.get("context", {}).get("traits")
        if isinstance(context_traits, dict):
            wire["context"]["traits"] = _minimise(context_traits, PII_TRAITS)
    original = naive_utc(model.timestamp)
    sent_at = naive_utc(model.sent_at) if model.sent_at else None
    # Segment's rule: the client's clock is off by (sentAt - receivedAt); shift by that.
    corrected = received - (sent_at - original) if sent_at else original
    event = model.event if isinstance(model, Track) else None
    consent = model.context.consent
    traits: dict[str, Any] = dict(wire.get("traits") or {})
    consent_record: dict[str, Any] | None = None
    if event == "Consent Updated":
        consent_record = dict((wire.get("properties") or {}).get("categories") or {})
    elif consent is not None and consent.category_preferences is not None:
        consent_record = dict(consent.category_preferences)
    # The record of a consent change is kept whatever it says; other events need consent.
    no_consent = (
        event != "Consent Updated" and consent is not None and not consent.allows("analytics")
    )
    stage = stage_of(model)
    return Prepared(
        message_id=model.message_id,
        type=model.type,
        event=event,
        stage=str(stage) if stage else None,
        channel=str(model.channel),
        user_id=model.user_id,
        anonymous_id=model.anonymous_id,
        timestamp=corrected,
        original_timestamp=original,
        sent_at=sent_at,
        received_at=received,
        wire=wire,
        traits=traits,
        consent=consent_record,
        no_consent=no_consent,
    )
