"""Field types shared by the catalog: exact money, currencies, tz-aware timestamps."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
)

# ISO 4217 active codes (2024 list, plus XAU/XAG/XXX-style funds left out on purpose:
# shops do not price in them).
ISO_4217: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS
    TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER
    ZAR ZMW ZWG ZWL
    """.split()
)


def to_decimal(value: Any) -> Decimal:
    """Accept int, str, Decimal or float; a float goes through its shortest repr (0.1 stays 0.1)."""
    if isinstance(value, bool):
        raise ValueError("money must be a number, not a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("money must be a finite number")
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"money must be a decimal number, got {value!r}") from None
    else:
        raise ValueError(f"money must be a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError("money must be a finite number")
    return result


def decimal_to_wire(value: Decimal) -> float | str:
    """A JSON number where a float carries the value exactly, else the decimal string."""
    as_float = float(value)
    if math.isfinite(as_float) and Decimal(repr(as_float)) == value:
        return as_float
    return str(value)


Money = Annotated[
    Decimal,
    BeforeValidator(to_decimal),
    PlainSerializer(decimal_to_wire, when_used="always"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number"},
                {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"},
            ],
            "description": "exact decimal amount in the event's currency",
        }
    ),
]


def _check_currency(value: str) -> str:
    if value not in ISO_4217:
        raise ValueError(f"{value!r} is not an ISO-4217 currency code")
    return value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


Currency = Annotated[
    str,
    BeforeValidator(_upper),
    AfterValidator(_check_currency),
    WithJsonSchema({"type": "string", "enum": sorted(ISO_4217), "description": "ISO-4217 code"}),
]


def _fromiso(text: str) -> datetime:
    """ISO 8601 as platforms and clients write it (``Z`` or ``z`` for UTC); ValueError if not."""
    try:
        return datetime.fromisoformat(text)  # the usual wire form, ``Z`` included (3.11+)
    except ValueError:
        text = text.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        return datetime.fromisoformat(text)


def read_iso_utc(text: str) -> datetime | None:
    """Lenient reading for platform payloads: aware UTC, naive taken as UTC, None if unreadable."""
    try:
        parsed = _fromiso(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def read_iso_date(value: str | None) -> date | None:
    """The day of an ISO date or timestamp as platforms send delivery dates; None if not one."""
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_timestamp(value: Any, info: ValidationInfo) -> datetime:
    """Reject naive datetimes unless the caller opted into UTC (``naive_as_utc``)."""
    parsed: datetime
    if isinstance(value, str):
        try:
            parsed = _fromiso(value)
        except ValueError:
            raise ValueError(f"not an ISO-8601 timestamp: {value!r}") from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise ValueError(f"timestamp must be an ISO-8601 string or datetime, got {value!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        context = info.context or {}
        if not context.get("naive_as_utc"):
            raise ValueError(
                "timestamp has no timezone; pass an aware datetime (or opt in with naive_as_utc)"
            )
        parsed = parsed.replace(tzinfo=UTC)
    # The wire carries milliseconds; truncating here keeps model and wire equal.
    extra = parsed.microsecond % 1000
    return parsed.replace(microsecond=parsed.microsecond - extra) if extra else parsed


def timestamp_to_wire(value: datetime) -> str:
    """UTC with millisecond precision, the way Segment's clients send it."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


Timestamp = Annotated[
    datetime,
    BeforeValidator(parse_timestamp),
    PlainSerializer(timestamp_to_wire, when_used="always"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def now() -> datetime:
    """Current time truncated to the wire's millisecond precision, so it round-trips."""
    current = datetime.now(UTC)
    return current.replace(microsecond=current.microsecond // 1000 * 1000)
