"""Hypothesis strategies drawn from our exported JSON Schemas.

Covers the subset pydantic emits (types, enum/const, anyOf, $ref, bounds, date formats), so
generated input is exactly what a non-Python backend validating against the schema may send.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_AWARE = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]),
)
_MONEY_TEXT = st.decimals(min_value=-(10**12), max_value=10**12, places=2).map(str)


def from_schema(
    schema: dict[str, Any], root: dict[str, Any] | None = None
) -> st.SearchStrategy[Any]:
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: from_schema(root["$defs"][name], root))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema and "type" not in schema and "properties" not in schema:
        return st.one_of([from_schema(option, root) for option in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", -(10**6)), schema.get("maximum", 10**6))
    if kind == "number":
        low = schema.get("minimum", -1e9)
        return st.one_of(
            st.floats(low, 1e9, allow_nan=False, allow_infinity=False),
            st.decimals(min_value=max(Decimal(str(low)), Decimal(-(10**9))), max_value=10**9,
                        places=2).map(float),
        )  # fmt: skip
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return _AWARE.map(lambda d: d.isoformat())
        if fmt == "date":
            return st.dates(date(2000, 1, 1), date(2100, 1, 1)).map(date.isoformat)
        if "pattern" in schema:
            return _MONEY_TEXT
        return _TEXT.filter(lambda s: len(s) >= schema.get("minLength", 0))
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), root), max_size=3)
    if kind == "object" or "properties" in schema:
        return _object(schema, root)
    return st.one_of(st.none(), st.booleans(), st.integers(), _TEXT)


def _object(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    if not properties:
        values = schema.get("additionalProperties")
        value_strategy = from_schema(values, root) if isinstance(values, dict) else _TEXT
        return st.dictionaries(_TEXT, value_strategy, max_size=3)
    options = schema.get("anyOf")
    if options:
        return st.one_of(
            [
                _object(
                    {
                        **{k: v for k, v in schema.items() if k != "anyOf"},
                        "required": [*schema.get("required", []), *option.get("required", [])],
                        "properties": {**properties, **option.get("properties", {})},
                    },
                    root,
                )
                for option in options
            ]
        )
    required = set(schema.get("required", []))
    fixed = {k: from_schema(v, root) for k, v in properties.items() if k in required}
    optional = {k: from_schema(v, root) for k, v in properties.items() if k not in required}
    return st.fixed_dictionaries(fixed, optional=optional)
