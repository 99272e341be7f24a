"""What the merchant switched and configured, per shop: read on every render, so a change
takes effect on the next one. Values are validated here, once, for console and CLI alike."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from typing import Any

from sqlalchemy import Engine, bindparam, select

from ..events import SurveyType
from ..server.bulk import json_value
from ..server.clock import utcnow
from ..server.expiring import Expiring
from .i18n import LOCALES
from .tables import widget_settings, widget_surveys

PLACEMENTS = ("inline", "bottom-right", "bottom-left")
# A chat nobody answers is worse than none: it appears once the merchant switches it on.
OFF_UNTIL_SWITCHED_ON = frozenset({"chat"})
TEXT_KEYS = ("title", "intro")
TEXT_MAX = 300
COLOUR_KEYS = ("accent", "background", "text")
DEFAULT_COLOURS = {"accent": "#1a56db", "background": "#ffffff", "text": "#1f2937"}
TRIGGERS = ("delivery", "order", "chat")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_SURVEY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def N_(message: str) -> str:
    """Marks a message for the catalogs; it is translated where it is shown."""
    return message


class ConfigError(ValueError):
    """A value the merchant entered that cannot be used; the message says which and why.
    ``template`` is the catalog's msgid, so the console shows it in the merchant's language."""

    def __init__(self, template: str, **params: object) -> None:
        self.template = template
        self.params = {key: str(value) for key, value in params.items()}
        super().__init__(template % self.params)

    def translated(self, gettext: Callable[[str], str]) -> str:
        return gettext(self.template) % self.params


# Read on every render: built once (building costs more than running it on SQLite).
_SETTINGS = select(
    widget_settings.c.enabled,
    widget_settings.c.placement,
    widget_settings.c.texts,
    widget_settings.c.colours,
).where(
    widget_settings.c.shop_id == bindparam("shop"),
    widget_settings.c.widget == bindparam("widget"),
)


@dataclass(frozen=True)
class WidgetConfig:
    widget: str
    enabled: bool = True
    placement: str = "inline"
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    colours: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_COLOURS))

    def text(self, locale: str, key: str) -> str | None:
        """The merchant's own text for ``key`` in ``locale``; None means the default."""
        return (self.texts.get(locale) or {}).get(key) or None

    @cached_property
    def fingerprint(self) -> tuple[str, str, str]:
        """What a rendering depends on besides the switch, hashable (for render caches);
        kept with the config, which is shared while its row stays the same."""
        return (self.placement, repr(self.texts), repr(self.colours))


@dataclass(frozen=True)
class SurveyConfig:
    survey_id: str
    survey_type: str = SurveyType.NPS.value
    trigger: str = "delivery"
    delay_days: int = 7
    cap_days: int = 30
    enabled: bool = True
    question: dict[str, str] = field(default_factory=dict)
    # Only customers in these RFM personas are asked (empty: everyone, guests included).
    segments: tuple[str, ...] = ()


def personas() -> dict[str, str]:
    """The personas a survey may be limited to, with their labels (scored by the analytics
    part; none when it is not installed)."""
    try:
        from ..analytics.personas import SEGMENT_LABELS
    except ImportError:
        return {}
    return SEGMENT_LABELS


DEFAULT_SURVEYS = (SurveyConfig("nps"),)


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours."""
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def validate_widget(config: WidgetConfig) -> WidgetConfig:
    if config.placement not in PLACEMENTS:
        raise ConfigError(N_("placement must be one of %(allowed)s"), allowed=", ".join(PLACEMENTS))
    colours = {**DEFAULT_COLOURS, **config.colours}
    for key, value in colours.items():
        if key not in COLOUR_KEYS:
            raise ConfigError(
                N_("unknown colour %(name)s; one of %(allowed)s"),
                name=key,
                allowed=", ".join(COLOUR_KEYS),
            )
        if not _HEX.match(value):
            raise ConfigError(
                N_("colour %(name)s must look like #1a56db, got %(value)s"), name=key, value=value
            )
    # Buttons are white on the accent and text sits on the background: both must stay legible.
    if contrast(colours["accent"], "#ffffff") < 4.5:
        raise ConfigError(N_("accent colour is too light for white button text (contrast < 4.5:1)"))
    if contrast(colours["text"], colours["background"]) < 4.5:
        raise ConfigError(N_("text and background colours have a contrast below 4.5:1"))
    texts: dict[str, dict[str, str]] = {}
    for locale, values in config.texts.items():
        if locale not in LOCALES:
            raise ConfigError(
                N_("texts exist in %(allowed)s only, got %(value)s"),
                allowed=", ".join(LOCALES),
                value=locale,
            )
        for key, value in values.items():
            if key not in TEXT_KEYS:
                raise ConfigError(
                    N_("unknown text %(name)s; one of %(allowed)s"),
                    name=key,
                    allowed=", ".join(TEXT_KEYS),
                )
            if len(value) > TEXT_MAX:
                raise ConfigError(
                    N_("text %(name)s is longer than %(limit)s characters"),
                    name=f"{locale}/{key}",
                    limit=TEXT_MAX,
                )
        texts[locale] = {key: value.strip() for key, value in values.items() if value.strip()}
    return replace(config, colours={k.lower(): v.lower() for k, v in colours.items()}, texts=texts)


def validate_survey(survey: SurveyConfig) -> SurveyConfig:
    if not _SURVEY_ID.match(survey.survey_id):
        raise ConfigError(N_("survey id: lower-case letters, digits, - and _, at most 40"))
    if survey.survey_type not in {t.value for t in SurveyType}:
        raise ConfigError(N_("survey type must be nps, csat or ces"))
    if survey.trigger not in TRIGGERS:
        raise ConfigError(N_("trigger must be one of %(allowed)s"), allowed=", ".join(TRIGGERS))
    if not 0 <= survey.delay_days <= 365:
        raise ConfigError(N_("delay must be 0–365 days"))
    if not 1 <= survey.cap_days <= 3650:
        raise ConfigError(N_("cap must be 1–3650 days"))
    for locale, text in survey.question.items():
        if locale not in LOCALES:
            raise ConfigError(
                N_("questions exist in %(allowed)s only, got %(value)s"),
                allowed=", ".join(LOCALES),
                value=locale,
            )
        if len(text) > TEXT_MAX:
            raise ConfigError(
                N_("question (%(name)s) is longer than %(limit)s characters"),
                name=locale,
                limit=TEXT_MAX,
            )
    known = personas()
    unknown = [name for name in survey.segments if name not in known]
    if unknown:
        raise ConfigError(
            N_("personas must be among %(allowed)s, got %(value)s"),
            allowed=", ".join(known) or "–",
            value=", ".join(unknown),
        )
    question = {locale: text.strip() for locale, text in survey.question.items() if text.strip()}
    segments = tuple(name for name in known if name in survey.segments)
    return replace(survey, question=question, segments=segments)


def _survey_values(survey: SurveyConfig) -> dict[str, Any]:
    return {
        "survey_type": survey.survey_type,
        "trigger": survey.trigger,
        "delay_days": survey.delay_days,
        "cap_days": survey.cap_days,
        "enabled": survey.enabled,
        "question": survey.question,
        "segments": list(survey.segments),
        "updated_at": utcnow(),
    }


def _config(widget: str, row: Any) -> WidgetConfig:
    enabled, placement, texts, colours = row
    return WidgetConfig(
        widget=widget,
        enabled=bool(enabled),
        placement=placement,
        texts=dict(json_value(texts) or {}),
        colours={**DEFAULT_COLOURS, **dict(json_value(colours) or {})},
    )


@cache
def _default_config(widget: str) -> WidgetConfig:
    return WidgetConfig(widget, enabled=widget not in OFF_UNTIL_SWITCHED_ON)


# Configs by (widget, settings row as read): shared by every render while the row is
# unchanged (a config is never mutated; saving builds a new one). Bounded by clearing.
_CONFIGS: dict[tuple[str, tuple[Any, ...]], WidgetConfig] = {}


class WidgetSettings:
    """Reads and writes the widget tables of one engine, always scoped by shop."""

    def __init__(
        self,
        engine: Engine,
        known: tuple[str, ...],
        point_read: Callable[[Any, dict[str, Any]], Any] | None = None,
        cache_seconds: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.engine = engine
        self.known = known
        # How the per-render read runs (the store's driver-level read); SQLAlchemy otherwise.
        self.point_read = point_read or self._read
        # Configs as this worker's renders use them, kept for the store's key cache expiry
        # (``CX_KEY_CACHE_SECONDS``), like shops and write keys.
        self._cached: Expiring[WidgetConfig] = Expiring(cache_seconds)

    def _check_name(self, widget: str) -> None:
        if widget not in self.known:
            raise ConfigError(
                N_("unknown widget %(name)s; one of %(allowed)s"),
                name=widget,
                allowed=", ".join(self.known),
            )

    def get(self, shop_id: str, widget: str) -> WidgetConfig:
        """Asked for on every render: a change saved through this worker shows on the next
        one, a change made elsewhere (another worker, the CLI) once the cached read expires."""
        return self._cached.get((shop_id, widget), self.stored, shop_id, widget)

    def stored(self, shop_id: str, widget: str) -> WidgetConfig:
        """As stored now, for whoever changes it (so no save starts from a cached copy); only
        turning the row into a config is skipped while it reads the same."""
        self._check_name(widget)
        row = self.point_read(_SETTINGS, {"shop": shop_id, "widget": widget})
        if row is None:
            return _default_config(widget)
        try:
            key = (widget, tuple(row))
            hit = _CONFIGS.get(key)
        except TypeError:  # JSON columns already parsed (PostgreSQL): not hashable
            return _config(widget, row)
        if hit is None:
            if len(_CONFIGS) >= 1024:
                _CONFIGS.clear()
            hit = _CONFIGS[key] = _config(widget, row)
        return hit

    def _read(self, statement: Any, params: dict[str, Any]) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(statement, params).first()

    def all(self, shop_id: str) -> list[WidgetConfig]:
        """As stored now (the console's view), not as this worker's renders cache them."""
        return [self.stored(shop_id, name) for name in self.known]

    def save(self, shop_id: str, config: WidgetConfig) -> WidgetConfig:
        self._check_name(config.widget)
        config = validate_widget(config)
        values: dict[str, Any] = {
            "enabled": config.enabled,
            "placement": config.placement,
            "texts": config.texts,
            "colours": config.colours,
            "updated_at": utcnow(),
        }
        where = (widget_settings.c.shop_id == shop_id, widget_settings.c.widget == config.widget)
        with self.engine.begin() as conn:
            updated = conn.execute(widget_settings.update().where(*where).values(**values))
            if updated.rowcount == 0:
                conn.execute(
                    widget_settings.insert().values(shop_id=shop_id, widget=config.widget, **values)
                )
        self._cached.forget((shop_id, config.widget))
        return config

    def set_enabled(self, shop_id: str, widget: str, enabled: bool) -> WidgetConfig:
        return self.save(shop_id, replace(self.stored(shop_id, widget), enabled=enabled))

    def surveys(self, shop_id: str) -> list[SurveyConfig]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(widget_surveys)
                .where(widget_surveys.c.shop_id == shop_id)
                .order_by(widget_surveys.c.survey_id)
            ).all()
        if not rows:
            return list(DEFAULT_SURVEYS)
        return [
            SurveyConfig(
                survey_id=row.survey_id,
                survey_type=row.survey_type,
                trigger=row.trigger,
                delay_days=row.delay_days,
                cap_days=row.cap_days,
                enabled=bool(row.enabled),
                question=dict(row.question or {}),
                segments=tuple(row.segments or ()),
            )
            for row in rows
        ]

    def survey(self, shop_id: str, survey_id: str) -> SurveyConfig | None:
        return next((s for s in self.surveys(shop_id) if s.survey_id == survey_id), None)

    def save_survey(self, shop_id: str, survey: SurveyConfig) -> SurveyConfig:
        survey = validate_survey(survey)
        values = _survey_values(survey)
        current = self.surveys(shop_id)
        where = (
            widget_surveys.c.shop_id == shop_id,
            widget_surveys.c.survey_id == survey.survey_id,
        )
        with self.engine.begin() as conn:
            # The defaults live in code until the merchant saves; then they become rows too.
            exists = conn.execute(
                select(widget_surveys.c.survey_id).where(widget_surveys.c.shop_id == shop_id)
            ).first()
            if exists is None:
                for default in current:
                    if default.survey_id != survey.survey_id:
                        conn.execute(
                            widget_surveys.insert().values(
                                shop_id=shop_id,
                                survey_id=default.survey_id,
                                **_survey_values(default),
                            )
                        )
            updated = conn.execute(widget_surveys.update().where(*where).values(**values))
            if updated.rowcount == 0:
                conn.execute(
                    widget_surveys.insert().values(
                        shop_id=shop_id, survey_id=survey.survey_id, **values
                    )
                )
        return survey


__all__ = [
    "COLOUR_KEYS",
    "N_",
    "PLACEMENTS",
    "TRIGGERS",
    "ConfigError",
    "SurveyConfig",
    "WidgetConfig",
    "WidgetSettings",
    "contrast",
    "personas",
    "validate_survey",
    "validate_widget",
]
