"""Property-based: every catalog event round-trips, and its JSON Schema agrees with the model."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cx_sdk.events import CATALOG, EventError, Message, parse
from cx_sdk.events.schema import all_schemas, schema_for, slug

from .strategies import from_schema

# Rules a JSON Schema cannot state (they span two fields); the model enforces them.
CROSS_FIELD_RULES = ("required when", "must be ")


def wire_strategy(name: str) -> st.SearchStrategy[dict[str, Any]]:
    schema = schema_for(CATALOG[name])
    return from_schema(schema)


def check_round_trip(data: dict[str, Any]) -> None:
    try:
        message = parse(data)
    except EventError as error:
        assert all(p.rule.startswith(CROSS_FIELD_RULES) for p in error.problems), error
        return
    wire = message.to_wire()
    json.dumps(wire)  # the wire form is plain JSON
    again = parse(wire)
    assert again == message
    assert again.to_wire() == wire


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_event_round_trips_from_schema_generated_input(name: str) -> None:
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(wire_strategy(name))
    def run(data: dict[str, Any]) -> None:
        check_round_trip(data)

    run()


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_model_output_validates_against_the_exported_schema(name: str) -> None:
    schema = schema_for(CATALOG[name])

    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(wire_strategy(name))
    def run(data: dict[str, Any]) -> None:
        try:
            message: Message = parse(data)
        except EventError:
            return
        jsonschema.validate(message.to_wire(), schema)

    run()


def test_schema_rejects_what_the_model_rejects() -> None:
    schema = schema_for(CATALOG["Order Completed"])
    bad = {"type": "track", "event": "Order Completed", "userId": "u",
           "properties": {"order_id": "1", "currency": "EURO"}}  # fmt: skip
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    with pytest.raises(EventError):
        parse(bad)


def test_export_writes_one_schema_per_event_type(tmp_path: Any) -> None:
    from cx_sdk.events.schema import export

    written = export(tmp_path)
    names = {p.name for p in written}
    assert {f"{slug(n)}.json" for n in CATALOG} <= names
    assert {"track.json", "identify.json", "page.json", "alias.json"} <= names
    order = json.loads((tmp_path / "order-completed.json").read_text())
    assert order["title"] == "Order Completed"
    assert order["x-cx-stage"] == "purchase"
    jsonschema.Draft202012Validator.check_schema(order)
    sample = {"type": "track", "event": "Order Completed", "userId": "u", "messageId": "m1",
              "timestamp": "2026-11-23T10:00:00.000Z",
              "properties": {"order_id": "1", "total": 19.9, "currency": "EUR"}}  # fmt: skip
    jsonschema.validate(sample, order)


def test_all_exported_schemas_are_valid_draft_2020_12() -> None:
    for schema in all_schemas().values():
        jsonschema.Draft202012Validator.check_schema(schema)
