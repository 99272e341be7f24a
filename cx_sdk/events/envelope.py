"""The message envelope: Segment's HTTP API format, typed.

Wire keys are Segment's camelCase (``messageId``, ``userId``); Python attributes are
snake_case. ``to_wire()`` gives the canonical dict; ``parse(to_wire())`` gives the model back.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .fields import Timestamp, now


class Stage(StrEnum):
    """The five journey stages every catalog event belongs to."""

    AWARENESS = "awareness"
    CONSIDERATION = "consideration"
    PURCHASE = "purchase"
    RETENTION = "retention"
    ADVOCACY = "advocacy"


class Channel(StrEnum):
    WEB = "web"
    APP = "app"
    STORE = "store"
    EMAIL = "email"
    CHAT = "chat"
    SOCIAL = "social"
    MARKETPLACE = "marketplace"


# Values other Segment libraries put in context.channel, mapped onto ours.
_CHANNEL_ALIASES = {"browser": Channel.WEB, "server": Channel.WEB, "mobile": Channel.APP}


class WireModel(BaseModel):
    """Base of every wire object: unknown keys are kept, absent optionals stay absent."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", validate_default=False)

    @model_serializer(mode="wrap")
    def _drop_absent(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name, field in type(self).model_fields.items():
            key = (field.alias or name) if info.by_alias else name
            value = getattr(self, name)
            # An empty object that only exists as a default (``context``) is left out too.
            empty_default = field.default_factory is not None and data.get(key) == {}
            if value is None or (empty_default and isinstance(value, WireModel)):
                data.pop(key, None)
        return data


class Consent(WireModel):
    """Segment's consent object: ``{"categoryPreferences": {"Analytics": true, ...}}``."""

    category_preferences: dict[str, bool] | None = Field(None, alias="categoryPreferences")

    def allows(self, category: str) -> bool:
        """True unless the category is explicitly denied (case-insensitive)."""
        for key, allowed in (self.category_preferences or {}).items():
            if key.lower() == category.lower():
                return allowed
        return True


class Library(WireModel):
    name: str
    version: str | None = None


class Context(WireModel):
    """Where an event happened. Any other Segment context key is kept as it came."""

    channel: Channel | None = None
    locale: str | None = None
    timezone: str | None = None
    consent: Consent | None = None
    library: Library | None = None

    @field_validator("channel", mode="before")
    @classmethod
    def _alias_channel(cls, value: Any) -> Any:
        if isinstance(value, str):
            lowered = value.lower()
            if lowered in _CHANNEL_ALIASES:
                return _CHANNEL_ALIASES[lowered]
            try:
                return Channel(lowered)
            except ValueError:
                allowed = ", ".join(c.value for c in Channel)
                raise ValueError(f"unknown channel {value!r}; one of {allowed}") from None
        return value


def _new_id() -> str:
    return str(uuid.uuid4())


# Fixed namespace: the same business keys give the same messageId on every machine.
_KEY_NAMESPACE = uuid.UUID("6f1c2b7e-3c59-4d55-9f3a-8a2f2b0c5e11")


def derive_message_id(*parts: object) -> str:
    """A deterministic messageId from business keys, so a re-delivered fact dedupes."""
    joined = "\x1f".join("" if part is None else str(part) for part in parts)
    return str(uuid.uuid5(_KEY_NAMESPACE, joined))


class Message(WireModel):
    type: str
    message_id: str = Field(default_factory=_new_id, alias="messageId", min_length=1)
    timestamp: Timestamp = Field(default_factory=now)
    sent_at: Timestamp | None = Field(None, alias="sentAt")
    user_id: str | None = Field(None, alias="userId", min_length=1)
    anonymous_id: str | None = Field(None, alias="anonymousId", min_length=1)
    context: Context = Field(default_factory=Context)
    integrations: dict[str, Any] | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [key], "properties": {key: {"type": "string", "minLength": 1}}}
                for key in ("userId", "anonymousId")
            ]
        }
    )

    stage: ClassVar[Stage | None] = None
    version: ClassVar[int] = 1

    @field_validator("user_id", "anonymous_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        # Segment clients send numeric ids as numbers; they are ids, not quantities.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @model_validator(mode="after")
    def _needs_identity(self) -> Message:
        if self.type != "alias" and self.user_id is None and self.anonymous_id is None:
            raise PydanticCustomError(
                "cx_field",
                "{rule}",
                {"field": "userId", "rule": "userId or anonymousId is required"},
            )
        return self

    @property
    def channel(self) -> Channel:
        return self.context.channel or Channel.WEB

    def to_wire(self) -> dict[str, Any]:
        """The canonical Segment dict, ready for JSON."""
        return self.model_dump(mode="json", by_alias=True)

    def keyed(self, *parts: object) -> Any:
        """A copy whose messageId derives from business keys (shop, order id, status …)."""
        name = getattr(self, "event", self.type)
        return self.model_copy(update={"message_id": derive_message_id(self.type, name, *parts)})


class Track(Message):
    """A track call. Catalog events subclass this with typed properties."""

    type: Literal["track"] = "track"
    event: str = Field(min_length=1, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)


class Identify(Message):
    type: Literal["identify"] = "identify"
    traits: dict[str, Any] = Field(default_factory=dict)


class Page(Message):
    type: Literal["page"] = "page"
    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)

    stage: ClassVar[Stage | None] = Stage.AWARENESS


class Alias(Message):
    type: Literal["alias"] = "alias"
    previous_id: str = Field(alias="previousId", min_length=1)
    user_id: str = Field(alias="userId", min_length=1)
