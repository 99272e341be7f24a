"""The helpers users test their own code with: recorder, fixture, frozen clock and ids."""

from __future__ import annotations

import pytest

from cx_sdk import EventError
from cx_sdk.events import OrderCompleted, parse
from cx_sdk.testing import RecordingClient

from .conftest import ORDER


def checkout(cx: RecordingClient, order_id: str) -> None:
    """Stand-in for shop code under test."""
    cx.identify("u1", {"plan": "pro"})
    cx.track("Order Completed", user_id="u1", properties={**ORDER, "order_id": order_id})


def test_the_fixture_records_wire_events_with_a_frozen_clock_and_sequential_ids(
    cx_events: RecordingClient,
) -> None:
    checkout(cx_events, "o-7")
    (order,) = cx_events.assert_tracked(OrderCompleted, times=1, properties={"order_id": "o-7"})
    assert order["timestamp"] == "2026-01-01T00:00:00.000Z"
    assert order["messageId"] == "00000000-0000-4000-8000-000000000002"
    assert cx_events.of_type("identify")[0]["messageId"].endswith("000000000001")
    parse(order)  # the recorded dict is what the collector would validate


def test_the_clock_moves_only_when_told(cx_events: RecordingClient, cx_clock: object) -> None:
    cx_events.track("Custom Thing", user_id="u1")
    cx_events.clock.advance(1.25)
    cx_events.track("Custom Thing", user_id="u1")
    stamps = [e["timestamp"] for e in cx_events.tracked("Custom Thing")]
    assert stamps == ["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.250Z"]


def test_assertions_explain_what_was_recorded(cx_events: RecordingClient) -> None:
    checkout(cx_events, "o-1")
    with pytest.raises(AssertionError, match="recorded: identify, Order Completed"):
        cx_events.assert_tracked("Order Refunded")
    with pytest.raises(AssertionError, match="expected 2"):
        cx_events.assert_tracked("Order Completed", times=2)
    with pytest.raises(AssertionError):
        cx_events.assert_not_tracked(OrderCompleted)
    cx_events.reset()
    cx_events.assert_not_tracked()


def test_the_recorder_is_strict_so_bad_events_fail_the_test(cx_events: RecordingClient) -> None:
    with pytest.raises(EventError):
        cx_events.track("Order Completed", user_id="u1", properties={"order_id": "o-1"})


def test_before_send_applies_in_the_recorder_too() -> None:
    recorder = RecordingClient(before_send=lambda event: {**event, "userId": "redacted"})
    recorder.track("Custom Thing", user_id="u1")
    assert recorder.tracked()[0]["userId"] == "redacted"
