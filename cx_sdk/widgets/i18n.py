"""German and English for everything a shopper or merchant reads.

The catalogs ship as ``.po`` files inside the package and are compiled in memory on first
use, so there is no build step and nothing is fetched at run time. One Jinja2 environment per
locale keeps rendering thread-safe (installing translations on a shared one would not be).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, get_timezone
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from ..server import parts

LOCALES: tuple[str, ...] = ("de", "en")
DEFAULT_LOCALE = "de"
LOCALE_DIR = Path(__file__).parent / "locales"
PACKAGE_ROOT = Path(__file__).parent.parent
# The other parts of the collector, whose own templates/ and locales/ folders (where they
# have them) sit beside their code.
PART_FOLDERS: tuple[Path, ...] = tuple(
    parts.folder(module)
    for module in parts.PARTS.values()
    if module not in ("cx_sdk.widgets", "cx_sdk.console")
)
# Every folder holding templates: the framework, each widget, the console, the parts.
TEMPLATE_DIRS: tuple[Path, ...] = (
    Path(__file__).parent / "templates",
    Path(__file__).parent / "tracking" / "templates",
    Path(__file__).parent / "survey" / "templates",
    PACKAGE_ROOT / "console" / "templates",
    *(part / "templates" for part in PART_FOLDERS),
)


def supported(value: str | None) -> str | None:
    """``de``/``en`` for a tag such as ``de-AT`` or ``en_GB``; None when it is neither."""
    if not value:
        return None
    language = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return language if language in LOCALES else None


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags from an Accept-Language header, best first (q=0 dropped)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def _first_supported(accept_language: str | None) -> str | None:
    for tag in parse_accept_language(accept_language):
        found = supported(tag)
        if found:
            return found
    return None


def _negotiate(query: str | None, accept_language: str | None, shop_default: str | None) -> str:
    return (
        supported(query)
        or _first_supported(accept_language)
        or supported(shop_default)
        or DEFAULT_LOCALE
    )


# Storefronts send few distinct combinations: each is negotiated once (short values only, so
# that odd requests cannot fill the cache with large keys).
_cached_negotiate = lru_cache(maxsize=1024)(_negotiate)


def negotiate(query: str | None, accept_language: str | None, shop_default: str | None) -> str:
    """The request's explicit ``locale`` wins, then the browser's languages, then the shop's."""
    if (query is None or len(query) <= 35) and (
        accept_language is None or len(accept_language) <= 200
    ):
        return _cached_negotiate(query, accept_language, shop_default)
    return _negotiate(query, accept_language, shop_default)


def catalog_paths(locale: str) -> list[Path]:
    """The widgets' catalog of ``locale`` and those of the installed parts."""
    name = Path(locale) / "LC_MESSAGES" / "messages.po"
    extra = [part / "locales" / name for part in PART_FOLDERS]
    return [LOCALE_DIR / name, *(path for path in extra if path.exists())]


def _compile(path: Path, locale: str) -> Translations:
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


@cache
def translations(locale: str) -> Translations:
    """The compiled catalogs of ``locale`` (``de`` or ``en``), merged into one."""
    first, *others = catalog_paths(locale)
    merged = _compile(first, locale)
    for path in others:
        merged.merge(_compile(path, locale))
    return merged


def gettext(locale: str, message: str) -> str:
    return translations(locale).gettext(message)


class Formatter:
    """Dates, times and money in the shopper's locale and the shop's time zone."""

    def __init__(self, locale: str, timezone: str = "Europe/Berlin") -> None:
        self.locale = Locale.parse(locale)
        self.tz: tzinfo = get_timezone(timezone)

    def date(self, value: date | datetime | None) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).date()
        return format_date(value, format="long", locale=self.locale)

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return format_datetime(value, format="medium", tzinfo=self.tz, locale=self.locale)

    def money(self, amount: Decimal | str | None, currency: str | None) -> str:
        if amount is None or not currency:
            return ""
        return format_currency(Decimal(str(amount)), currency, locale=self.locale)


@cache
def formatter(locale: str, timezone: str = "Europe/Berlin") -> Formatter:
    """One shared formatter per locale (Babel's locale data is read once)."""
    return Formatter(locale, timezone)


@cache
def sayer(locale: str) -> Callable[[Mapping[str, str], str | None], Markup]:
    """``say(table, key)``: the translation of ``table[key]``, or the key itself, escaped.
    A plain function is cheaper than a Jinja macro on every line of a timeline."""
    lookup = translations(locale).gettext

    def say(table: Mapping[str, str], key: str | None) -> Markup:
        if key is None:
            return Markup("")
        if key in table:
            return escape(lookup(table[key]))
        return escape(key)

    return say


def _environment(locale: str, extra_dirs: Iterable[Path] = ()) -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(path) for path in (*TEMPLATE_DIRS, *extra_dirs)]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


@cache
def environment(locale: str) -> Environment:
    """The Jinja2 environment (autoescape on for every template) for one locale."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}; one of {', '.join(LOCALES)}")
    return _environment(locale)


def render(template: str, locale: str, context: Mapping[str, object]) -> str:
    return (
        environment(locale)
        .get_template(template)
        .render(**context, locale=locale, say=sayer(locale))
    )
