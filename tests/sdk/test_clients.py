"""Behaviour shared by ``Client`` and ``AsyncClient`` (every test runs for both)."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from cx_sdk import EventError
from cx_sdk.events import OrderCompleted

from .conftest import ORDER, URL, Harness, Recorder


async def test_events_go_out_as_a_gzipped_segment_batch_with_the_write_key(
    harness: Harness, collector: Recorder
) -> None:
    client = harness.make()
    client.track("Order Completed", user_id="u1", properties=ORDER)
    assert await harness.flush(client)
    request = collector.requests[0]
    assert str(request.url) == URL
    assert request.headers["content-encoding"] == "gzip"
    gzip.decompress(request.content)  # really gzip, not just labelled
    expected = "Basic " + base64.b64encode(b"wk:").decode()
    assert request.headers["authorization"] == expected
    body = collector.bodies[0]
    assert set(body) == {"batch", "sentAt"}
    (event,) = body["batch"]
    assert event["type"] == "track"
    assert event["event"] == "Order Completed"
    assert event["userId"] == "u1"
    assert event["properties"]["currency"] == "EUR"
    assert event["context"]["library"]["name"] == "cx-sdk"
    assert event["timestamp"].endswith("Z") and event["messageId"]


async def test_gzip_can_be_switched_off(harness: Harness, collector: Recorder) -> None:
    client = harness.make(gzip=False)
    client.track("Custom Thing", anonymous_id="a1")
    assert await harness.flush(client)
    assert "content-encoding" not in collector.requests[0].headers
    assert json.loads(collector.requests[0].content)["batch"][0]["event"] == "Custom Thing"


async def test_identify_page_alias_and_typed_models_have_the_segment_shape(
    harness: Harness, collector: Recorder
) -> None:
    client = harness.make()
    client.identify("u1", {"plan": "pro"})
    client.page("Home", category="shop", anonymous_id="a1", properties={"path": "/"})
    client.alias("a1", "u1")
    model = OrderCompleted(user_id="u2", properties={"order_id": "o-9", "currency": "EUR"})
    client.track(model)
    assert await harness.flush(client)
    by_type = {e["type"]: e for e in collector.events}
    assert by_type["identify"]["traits"] == {"plan": "pro"}
    assert by_type["page"]["name"] == "Home" and by_type["page"]["category"] == "shop"
    assert by_type["alias"]["previousId"] == "a1" and by_type["alias"]["userId"] == "u1"
    assert by_type["track"]["messageId"] == model.message_id
    assert by_type["track"]["properties"]["order_id"] == "o-9"


async def test_money_decimals_and_datetimes_in_properties_are_encoded(
    harness: Harness, collector: Recorder
) -> None:
    client = harness.make()
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    client.track(
        "Order Completed",
        user_id="u1",
        properties={**ORDER, "total": Decimal("10.10"), "placed_at": when},
    )
    assert await harness.flush(client)
    props = collector.events[0]["properties"]
    assert props["total"] == 10.1
    assert props["placed_at"] == "2026-03-01T12:00:00.000Z"


async def test_sent_at_is_restamped_on_every_attempt_while_timestamp_stays(
    harness: Harness, collector: Recorder
) -> None:
    collector.respond = lambda batch, n: httpx.Response(503 if n == 1 else 200, json={})
    client = harness.make(backoff_base=0.1)
    skewed = datetime.now(UTC) - timedelta(hours=1)
    client.track("Custom Thing", user_id="u1", timestamp=skewed)
    assert await harness.flush(client)
    first, second = collector.bodies
    assert first["sentAt"] != second["sentAt"]
    assert first["batch"] == second["batch"]
    event_time = datetime.fromisoformat(first["batch"][0]["timestamp"].replace("Z", "+00:00"))
    sent_at = datetime.fromisoformat(second["sentAt"].replace("Z", "+00:00"))
    # The collector corrects skew with sentAt: the event keeps the caller's clock.
    assert sent_at - event_time > timedelta(minutes=59)
    assert client.stats()["retried"] == 1


@pytest.mark.parametrize("where", ["caller", "worker"])
async def test_invalid_events_go_to_on_error_and_a_counter_never_raise(
    harness: Harness, collector: Recorder, where: str
) -> None:
    errors: list[Exception] = []
    client = harness.make(validate_in=where, on_error=lambda error, event: errors.append(error))
    client.track("Order Completed", user_id="u1", properties={"order_id": "o-1"})
    client.track("Custom Thing", user_id="u1")
    assert await harness.flush(client)
    assert collector.names() == ["Custom Thing"]
    assert client.stats()["dropped"] == {"invalid": 1}
    (error,) = errors
    assert isinstance(error, EventError)
    assert "properties.currency" in [p.field for p in error.problems]


BAD_CALLS: list[tuple[Any, dict[str, Any]]] = [
    (None, {}),
    (123, {"user_id": "u"}),
    ("", {"user_id": "u"}),
    ("Order Completed", {}),
    ("Custom Thing", {"user_id": object()}),
    ("Custom Thing", {"user_id": "u", "properties": "not a dict"}),
    ("Custom Thing", {"user_id": "u", "timestamp": "yesterday"}),
    ("Custom Thing", {"user_id": "u", "timestamp": datetime(2026, 1, 1)}),
    ("Custom Thing", {"user_id": "u", "context": {"channel": "carrier pigeon"}}),
    ("Custom Thing", {"user_id": "u", "properties": {"x": object()}}),
    ("Order Completed", {"user_id": "u", "properties": {**ORDER, "total": float("nan")}}),
    ("x" * 201, {"user_id": "u"}),
]


async def test_no_exception_escapes_track_whatever_the_input(harness: Harness) -> None:
    errors: list[Exception] = []
    client = harness.make(on_error=lambda error, event: errors.append(error))
    for event, kwargs in BAD_CALLS:
        client.track(event, **kwargs)
    client.identify(None)
    client.alias("", "")
    client.page(user_id=None)
    await harness.flush(client)
    assert client.stats()["dropped"]["invalid"] == len(BAD_CALLS) + 3
    assert len(errors) == len(BAD_CALLS) + 3


async def test_a_crashing_on_error_callback_does_not_reach_the_caller(harness: Harness) -> None:
    def explode(error: Exception, event: Any) -> None:
        raise RuntimeError("callback bug")

    client = harness.make(on_error=explode)
    assert client.track(None) is False


async def test_strict_mode_raises_in_the_call(harness: Harness) -> None:
    client = harness.make(strict=True)
    with pytest.raises(EventError) as raised:
        client.track("Order Completed", user_id="u1", properties={"order_id": "o-1"})
    assert "currency" in str(raised.value)


async def test_a_full_queue_drops_with_a_counter_and_on_drop(harness: Harness) -> None:
    dropped: list[tuple[str, int]] = []
    client = harness.make(
        max_queue_size=2,
        batch_size=100,
        flush_interval=60,
        on_drop=lambda reason, events: dropped.append((reason, len(events))),
    )
    results = [client.track("Custom Thing", user_id="u1") for _ in range(5)]
    assert results == [True, True, False, False, False]
    assert client.stats()["dropped"] == {"queue_full": 3}
    assert client.stats()["queue_depth"] == 2
    assert dropped == [("queue_full", 1)] * 3
    client._queue.clear()  # nothing to send at teardown


async def test_client_errors_other_than_408_and_429_are_not_retried(
    harness: Harness, collector: Recorder
) -> None:
    collector.respond = lambda batch, n: httpx.Response(400, json={"error": "bad"})
    dropped: list[str] = []
    client = harness.make(on_drop=lambda reason, events: dropped.append(reason))
    client.track("Custom Thing", user_id="u1")
    await harness.flush(client)
    assert len(collector.requests) == 1
    assert client.stats()["dropped"] == {"not_retryable": 1}
    assert dropped == ["not_retryable"]


@pytest.mark.parametrize("status", [408, 429, 500, 503])
async def test_retryable_statuses_are_retried_until_delivered(
    harness: Harness, collector: Recorder, status: int
) -> None:
    collector.respond = lambda batch, n: httpx.Response(
        status if n < 3 else 200, headers={"Retry-After": "0"}, json={}
    )
    client = harness.make()
    client.track("Custom Thing", user_id="u1")
    assert await harness.flush(client)
    assert len(collector.requests) == 3
    stats = client.stats()
    assert stats["sent"] == 1 and stats["retried"] == 2 and stats["dropped"] == {}


async def test_retry_is_bounded_by_elapsed_time(harness: Harness, collector: Recorder) -> None:
    collector.respond = lambda batch, n: httpx.Response(503, json={})
    dropped: list[str] = []
    client = harness.make(max_retry_time=0.3, on_drop=lambda reason, events: dropped.append(reason))
    client.track("Custom Thing", user_id="u1")
    await harness.flush(client)
    assert len(collector.requests) > 2
    assert client.stats()["dropped"] == {"retry_exhausted": 1}
    assert dropped == ["retry_exhausted"]


async def test_one_failing_batch_does_not_stall_the_others(
    harness: Harness, collector: Recorder
) -> None:
    def respond(batch: list[dict[str, Any]], n: int) -> httpx.Response:
        if batch[0]["event"] == "First" and n == 1:
            return httpx.Response(503, headers={"Retry-After": "1"}, json={})
        return httpx.Response(200, json={"success": True})

    collector.respond = respond
    client = harness.make(batch_size=1, max_in_flight=1)
    client.track("First", user_id="u1")
    client.track("Second", user_id="u1")
    assert await harness.flush(client)
    assert collector.names() == ["First", "Second", "First"]


async def test_per_event_verdicts_resend_only_the_retryable_events(
    harness: Harness, collector: Recorder
) -> None:
    def respond(batch: list[dict[str, Any]], n: int) -> httpx.Response:
        if n > 1:
            return httpx.Response(200, json={"success": True, "accepted": len(batch)})
        ids = {e["event"]: e["messageId"] for e in batch}
        return httpx.Response(
            200,
            json={
                "success": True,
                "accepted": 1,
                "duplicates": 0,
                "rejected": [
                    {
                        "messageId": ids["Bad"],
                        "problems": [{"field": "properties.x", "rule": "too odd"}],
                    }
                ],
                "retry": [ids["Later"]],
            },
        )

    collector.respond = respond
    errors: list[Exception] = []
    client = harness.make(on_error=lambda error, event: errors.append(error))
    for name in ("Good", "Bad", "Later"):
        client.track(name, user_id="u1")
    assert await harness.flush(client)
    assert [e["event"] for e in collector.bodies[1]["batch"]] == ["Later"]
    assert len(collector.bodies) == 2
    stats = client.stats()
    assert stats["sent"] == 2 and stats["dropped"] == {"rejected": 1}
    (error,) = errors
    assert isinstance(error, EventError)
    assert [(p.field, p.rule) for p in error.problems] == [("properties.x", "too odd")]


async def test_a_413_splits_the_batch_until_it_fits(harness: Harness, collector: Recorder) -> None:
    collector.respond = lambda batch, n: httpx.Response(
        413 if len(batch) > 2 else 200, json={"success": True}
    )
    client = harness.make(batch_size=100, flush_interval=60)
    for i in range(5):
        client.track(f"E{i}", user_id="u1")
    assert await harness.flush(client)
    delivered = [
        e["event"] for body in collector.bodies if len(body["batch"]) <= 2 for e in body["batch"]
    ]
    assert sorted(delivered) == [f"E{i}" for i in range(5)]
    assert client.stats()["sent"] == 5


async def test_an_event_over_32_kb_is_dropped_and_the_rest_still_go(
    harness: Harness, collector: Recorder
) -> None:
    dropped: list[str] = []
    client = harness.make(on_drop=lambda reason, events: dropped.append(reason))
    client.track("Huge", user_id="u1", properties={"blob": "x" * 40_000})
    client.track("Small", user_id="u1")
    assert await harness.flush(client)
    assert collector.names() == ["Small"]
    assert client.stats()["dropped"] == {"too_large": 1}
    assert dropped == ["too_large"]


async def test_batches_stay_under_500_kb_and_the_count_limit(
    harness: Harness, collector: Recorder
) -> None:
    client = harness.make(batch_size=10, flush_interval=60)
    for i in range(40):
        client.track(f"E{i}", user_id="u1", properties={"blob": "y" * 30_000})
    assert await harness.flush(client)
    assert len(collector.events) == 40
    for request, body in zip(collector.requests, collector.bodies, strict=True):
        assert len(gzip.decompress(request.content)) <= 500 * 1024
        assert len(body["batch"]) <= 10
    assert max(len(b["batch"]) for b in collector.bodies) > 1


async def test_before_send_can_redact_or_drop(harness: Harness, collector: Recorder) -> None:
    def redact(event: dict[str, Any]) -> dict[str, Any] | None:
        if event.get("event") == "Secret":
            return None
        event["properties"] = {k: v for k, v in event["properties"].items() if k != "email"}
        return event

    client = harness.make(before_send=redact)
    client.track("Secret", user_id="u1")
    client.track("Signup", user_id="u1", properties={"email": "a@b.de", "plan": "pro"})
    assert await harness.flush(client)
    assert collector.names() == ["Signup"]
    assert collector.events[0]["properties"] == {"plan": "pro"}
    assert client.stats()["dropped"] == {"before_send": 1}


async def test_stats_count_enqueued_sent_and_batches(harness: Harness, collector: Recorder) -> None:
    client = harness.make(batch_size=2)
    for _ in range(5):
        client.track("Custom Thing", user_id="u1")
    assert await harness.flush(client)
    stats = client.stats()
    assert stats["enqueued"] == 5 and stats["sent"] == 5 and stats["queue_depth"] == 0
    assert stats["batches"] == 3 and stats["dropped_total"] == 0


async def test_close_drains_the_queue_and_later_calls_are_refused(
    harness: Harness, collector: Recorder
) -> None:
    client = harness.make(flush_interval=60, batch_size=100)
    client.track("Before Close", user_id="u1")
    assert await harness.close(client) == 0
    assert collector.names() == ["Before Close"]
    assert client.track("After Close", user_id="u1") is False
    assert client.stats()["dropped"] == {"shutdown": 1}


@pytest.mark.httpx_mock(assert_all_responses_were_requested=False)
async def test_close_reports_what_it_could_not_send(harness: Harness, httpx_mock: Any) -> None:
    httpx_mock.add_exception(httpx.ConnectError("down"), url=URL, is_reusable=True)
    dropped: list[tuple[str, int]] = []
    client = harness.make(
        backoff_base=5, on_drop=lambda reason, events: dropped.append((reason, len(events)))
    )
    client.track("Lost", user_id="u1")
    client.track("Lost Too", user_id="u1")
    assert await harness.close(client, timeout=0.3) == 2
    assert dropped == [("shutdown", 2)]
    assert client.stats()["dropped"] == {"shutdown": 2}


async def test_the_async_client_accepts_calls_from_other_threads(collector: Recorder) -> None:
    import asyncio

    from cx_sdk import AsyncClient

    client = AsyncClient("wk", "http://cx.test", batch_size=2, flush_interval=60)
    await client.start()
    await asyncio.to_thread(lambda: [client.track("From Thread", user_id="u1") for _ in range(4)])
    assert await client.flush(10)
    assert collector.names() == ["From Thread"] * 4
    await client.close()
