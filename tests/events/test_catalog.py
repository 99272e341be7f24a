"""The catalog contract: names, stages, money, time, scales and clear errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from cx_sdk import events
from cx_sdk.events import (
    CATALOG,
    JOURNEY_EXTENSIONS,
    SEGMENT_ECOMMERCE,
    EventError,
    OrderCompleted,
    OrderRefunded,
    ShipmentStatus,
    Stage,
    parse,
)

SEGMENT_V2_NAMES = {
    "Products Searched", "Product List Viewed", "Product List Filtered", "Promotion Viewed",
    "Promotion Clicked", "Product Clicked", "Product Viewed", "Product Added",
    "Product Removed", "Cart Viewed", "Checkout Started", "Checkout Step Viewed",
    "Checkout Step Completed", "Payment Info Entered", "Order Updated", "Order Completed",
    "Order Refunded", "Order Cancelled", "Coupon Entered", "Coupon Applied", "Coupon Denied",
    "Coupon Removed", "Product Added to Wishlist", "Product Removed from Wishlist",
    "Wishlist Product Added to Cart", "Product Shared", "Cart Shared", "Product Reviewed",
}  # fmt: skip

JOURNEY_NAMES = {
    "Order Paid", "Payment Failed", "Checkout Abandoned", "Shipment Created",
    "Shipment Status Updated", "Shipment Delivered", "Return Requested", "Return Approved",
    "Return Declined", "Return Shipment Created", "Return Received", "Return Closed",
    "Live Chat Conversation Started", "Live Chat Message Sent", "Live Chat Message Received",
    "Live Chat Conversation Ended", "Survey Shown", "Survey Answered", "Recommendation Shown",
    "Recommendation Clicked", "Consent Updated",
}  # fmt: skip

NOW = datetime(2026, 11, 23, 10, 30, 15, 123000, tzinfo=UTC)


def order(**properties: object) -> dict[str, object]:
    props = {"order_id": "1001", "total": "49.90", "currency": "EUR", **properties}
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": "c-1",
        "timestamp": "2026-11-23T10:30:15.123Z",
        "properties": props,
    }


def problems(data: dict[str, object], **kwargs: bool) -> list[str]:
    with pytest.raises(EventError) as caught:
        parse(data, **kwargs)
    return [str(p) for p in caught.value.problems]


def test_catalog_has_all_28_segment_ecommerce_events_and_the_journey_extensions() -> None:
    assert {m.model_fields["event"].default for m in SEGMENT_ECOMMERCE} == SEGMENT_V2_NAMES
    assert {m.model_fields["event"].default for m in JOURNEY_EXTENSIONS} == JOURNEY_NAMES
    assert len(CATALOG) == 49


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_catalog_event_has_exactly_one_stage_and_a_version(name: str) -> None:
    model = CATALOG[name]
    assert isinstance(model.stage, Stage)
    assert model.version >= 1


def test_stages_follow_the_journey() -> None:
    assert CATALOG["Products Searched"].stage is Stage.AWARENESS
    assert CATALOG["Product Viewed"].stage is Stage.CONSIDERATION
    assert CATALOG["Order Completed"].stage is Stage.PURCHASE
    assert CATALOG["Shipment Delivered"].stage is Stage.RETENTION
    assert CATALOG["Survey Answered"].stage is Stage.ADVOCACY


def test_known_event_parses_to_its_typed_model() -> None:
    message = parse(order())
    assert isinstance(message, OrderCompleted)
    assert message.properties.total == Decimal("49.90")
    assert message.properties.currency == "EUR"
    assert message.timestamp == NOW


def test_unknown_event_name_is_kept_as_custom_track_with_its_properties() -> None:
    message = parse(
        {
            "type": "track",
            "event": "Gift Wrapped",
            "anonymousId": "a",
            "properties": {"paper": "red"},
        }
    )
    assert type(message) is events.Track
    assert message.properties == {"paper": "red"}
    assert events.stage_of(message) is None


def test_unknown_properties_are_kept_through_the_round_trip() -> None:
    wire = order(gift_note="für Oma")
    assert parse(wire).to_wire()["properties"]["gift_note"] == "für Oma"


def test_missing_currency_names_field_and_rule() -> None:
    data = order()
    del data["properties"]["currency"]  # type: ignore[attr-defined]
    assert problems(data) == ["properties.currency: required for Order Completed"]


def test_currency_must_be_iso_4217() -> None:
    assert problems(order(currency="EURO")) == [
        "properties.currency: 'EURO' is not an ISO-4217 currency code"
    ]


def test_lowercase_currency_is_normalised() -> None:
    assert parse(order(currency="chf")).properties.currency == "CHF"  # type: ignore[attr-defined]


def test_money_from_float_goes_through_shortest_repr() -> None:
    message = parse(order(total=0.1, tax=19.99))
    assert message.properties.total == Decimal("0.1")  # type: ignore[attr-defined]
    assert message.properties.tax == Decimal("19.99")  # type: ignore[attr-defined]


def test_money_keeps_exact_decimal_strings() -> None:
    message = parse(order(total="12345678901234567.89"))
    assert message.properties.total == Decimal("12345678901234567.89")  # type: ignore[attr-defined]
    assert message.to_wire()["properties"]["total"] == "12345678901234567.89"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("abc", "money must be a decimal number, got 'abc'"),
        (True, "money must be a number, not a boolean"),
        (float("nan"), "money must be a finite number"),
        ("Infinity", "money must be a finite number"),
    ],
)
def test_bad_money_is_refused_with_a_clear_rule(value: object, rule: str) -> None:
    assert problems(order(total=value)) == [f"properties.total: {rule}"]


def test_amount_without_currency_is_refused_where_currency_is_optional() -> None:
    data = {"type": "track", "event": "Product Viewed", "anonymousId": "a",
            "properties": {"product_id": "p1", "price": 9.5}}  # fmt: skip
    assert problems(data) == ["properties.currency: required when price is given"]


def test_naive_timestamp_is_refused_unless_opted_in() -> None:
    data = order()
    data["timestamp"] = "2026-11-23T10:30:15"
    assert problems(data) == [
        "timestamp: timestamp has no timezone; pass an aware datetime (or opt in with naive_as_utc)"
    ]
    assert parse(data, naive_as_utc=True).timestamp == datetime(
        2026, 11, 23, 10, 30, 15, tzinfo=UTC
    )


def test_naive_datetime_in_python_constructor_is_refused() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        OrderCompleted(
            user_id="u",
            timestamp=datetime(2026, 1, 1),
            properties={"order_id": "1", "currency": "EUR"},
        )


def test_timestamps_are_sent_as_utc_with_milliseconds() -> None:
    berlin = timezone(timedelta(hours=1))
    message = OrderCompleted(
        user_id="u",
        timestamp=datetime(2026, 11, 23, 11, 30, 15, 123456, tzinfo=berlin),
        properties={"order_id": "1", "currency": "EUR"},
    )
    assert message.to_wire()["timestamp"] == "2026-11-23T10:30:15.123Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T10:30:15.123Z", datetime(2026, 11, 23, 10, 30, 15, 123000, tzinfo=UTC)),
        ("2026-11-23T10:30:15.123456z", datetime(2026, 11, 23, 10, 30, 15, 123000, tzinfo=UTC)),
        (" 2026-11-23T11:30:15+01:00 ", datetime(2026, 11, 23, 10, 30, 15, tzinfo=UTC)),
        ("2026-11-23T10:30:15.999999Z", datetime(2026, 11, 23, 10, 30, 15, 999000, tzinfo=UTC)),
    ],
)
def test_timestamp_text_is_read_as_clients_write_it_to_the_millisecond(
    text: str, expected: datetime
) -> None:
    data = order()
    data["timestamp"] = text
    assert parse(data).timestamp == expected


def test_bad_timestamp_text_names_the_field() -> None:
    data = order()
    data["timestamp"] = "yesterday"
    assert problems(data) == ["timestamp: not an ISO-8601 timestamp: 'yesterday'"]


@pytest.mark.parametrize(
    ("survey_type", "score", "ok"),
    [("nps", 0, True), ("nps", 10, True), ("nps", 11, False), ("csat", 0, False),
     ("csat", 5, True), ("csat", 6, False), ("ces", 1, True), ("ces", 7, True), ("ces", 8, False)],
)  # fmt: skip
def test_survey_score_is_validated_against_its_scale(
    survey_type: str, score: int, ok: bool
) -> None:
    data = {"type": "track", "event": "Survey Answered", "userId": "u",
            "properties": {"survey_type": survey_type, "score": score}}  # fmt: skip
    if ok:
        assert parse(data).properties.score == score  # type: ignore[attr-defined]
    else:
        (problem,) = problems(data)
        assert problem.startswith("properties.score: must be ")


def test_unknown_shipment_status_becomes_exception_and_keeps_the_raw_value() -> None:
    data = {"type": "track", "event": "Shipment Status Updated", "userId": "u",
            "properties": {"order_id": "1", "shipment_id": "s1", "status": "stuck_at_customs",
                           "promised_delivery_date": "2026-11-25"}}  # fmt: skip
    props = parse(data).properties
    assert props.status is ShipmentStatus.EXCEPTION  # type: ignore[attr-defined]
    assert props.raw_status == "stuck_at_customs"  # type: ignore[attr-defined]
    assert props.promised_delivery_date == date(2026, 11, 25)  # type: ignore[attr-defined]


def test_shipment_taxonomy_is_closed() -> None:
    assert [s.value for s in ShipmentStatus] == [
        "pending", "info_received", "in_transit", "out_for_delivery", "attempt_fail",
        "available_for_pickup", "delivered", "exception", "expired",
    ]  # fmt: skip


def test_partial_refund_carries_amount_reason_and_lines() -> None:
    refund = OrderRefunded(
        user_id="u",
        properties={
            "order_id": "1001", "refund_id": "r1", "amount": "10.00", "currency": "EUR",
            "reason": "damaged", "refund_type": "partial",
            "products": [{"product_id": "p1", "quantity": 1, "price": "10.00"}],
        },
    )  # fmt: skip
    wire = refund.to_wire()
    assert wire["properties"]["amount"] == 10.0
    assert parse(wire) == refund


def test_identity_is_required() -> None:
    data = order()
    del data["userId"]
    assert problems(data) == ["userId: userId or anonymousId is required"]


def test_unknown_type_is_refused() -> None:
    assert problems({"type": "shout"}) == [
        "type: must be one of track, identify, page, alias; got 'shout'"
    ]


def test_every_problem_of_a_message_is_listed() -> None:
    data = {"type": "track", "event": "Order Completed", "userId": "u",
            "properties": {"total": "x"}}  # fmt: skip
    assert set(problems(data)) == {
        "properties.order_id: required for Order Completed",
        "properties.currency: required for Order Completed",
        "properties.total: money must be a decimal number, got 'x'",
    }


def test_segment_channel_names_map_to_cx_channels() -> None:
    data = order()
    data["context"] = {"channel": "mobile", "locale": "de-DE", "ip": "203.0.113.9"}
    message = parse(data)
    assert message.channel is events.Channel.APP
    assert message.to_wire()["context"]["ip"] == "203.0.113.9"
    assert parse(order()).channel is events.Channel.WEB


def test_unknown_channel_is_refused() -> None:
    data = order()
    data["context"] = {"channel": "carrier-pigeon"}
    (problem,) = problems(data)
    assert problem.startswith("context.channel: unknown channel 'carrier-pigeon'")


def test_consent_denial_is_read_from_segment_category_preferences() -> None:
    data = order()
    data["context"] = {"consent": {"categoryPreferences": {"Analytics": False, "Ads": True}}}
    consent = parse(data).context.consent
    assert consent is not None
    assert not consent.allows("analytics")
    assert consent.allows("ads")


def test_message_id_defaults_to_a_fresh_uuid() -> None:
    a = OrderCompleted(user_id="u", properties={"order_id": "1", "currency": "EUR"})
    b = OrderCompleted(user_id="u", properties={"order_id": "1", "currency": "EUR"})
    assert a.message_id != b.message_id


def test_keyed_message_id_is_deterministic_from_business_keys() -> None:
    def make() -> events.Message:
        msg = OrderCompleted(user_id="u", properties={"order_id": "1", "currency": "EUR"})
        keyed: events.Message = msg.keyed("shop-1", "1")
        return keyed

    assert make().message_id == make().message_id
    other = OrderCompleted(user_id="u", properties={"order_id": "2", "currency": "EUR"})
    assert other.keyed("shop-1", "2").message_id != make().message_id


def test_identify_page_alias_and_screen_parse() -> None:
    assert isinstance(
        parse({"type": "identify", "userId": "u", "traits": {"plan": "gold"}}), events.Identify
    )
    page = parse({"type": "page", "anonymousId": "a", "name": "Home"})
    assert isinstance(page, events.Page) and events.stage_of(page) is Stage.AWARENESS
    alias = parse({"type": "alias", "previousId": "a", "userId": "u"})
    assert isinstance(alias, events.Alias) and alias.previous_id == "a"
    assert isinstance(parse({"type": "screen", "anonymousId": "a", "name": "Cart"}), events.Page)


def test_numeric_user_ids_from_segment_clients_become_text() -> None:
    data = order()
    data["userId"] = 42
    assert parse(data).user_id == "42"
