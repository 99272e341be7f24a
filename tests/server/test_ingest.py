from __future__ import annotations

import gzip
import uuid

import orjson
from starlette.testclient import TestClient

from cx_sdk.server import CreatedShop, Store

from .helpers import basic, bearer, order_completed, track


def _stored(client: TestClient, shop: CreatedShop, **params: str) -> list[dict]:
    response = client.get("/api/v1/events", params=params, headers=bearer(shop.admin_token))
    assert response.status_code == 200, response.text
    return [orjson.loads(line) for line in response.text.splitlines()]


def test_batch_is_stored_and_readable(client: TestClient, shop: CreatedShop) -> None:
    batch = [order_completed(), track("Product Viewed", {"product_id": "p1"})]
    response = client.post("/v1/batch", json={"batch": batch}, headers=basic(shop.write_key))
    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    stored = _stored(client, shop)
    assert [e["messageId"] for e in stored] == [m["messageId"] for m in batch]
    assert stored[0]["properties"] == batch[0]["properties"]  # stored as sent
    assert "receivedAt" in stored[0]


def test_write_key_in_body_works_like_basic_auth(client: TestClient, shop: CreatedShop) -> None:
    body = {"batch": [order_completed()], "writeKey": shop.write_key}
    assert client.post("/v1/batch", json=body).status_code == 200
    assert len(_stored(client, shop)) == 1


def test_single_endpoints_take_segment_bodies(client: TestClient, shop: CreatedShop) -> None:
    auth = basic(shop.write_key)
    assert client.post("/v1/track", json=order_completed(), headers=auth).status_code == 200
    identify = {"userId": "cust-1", "traits": {"plan": "gold"}, "messageId": "i-1"}
    assert client.post("/v1/identify", json=identify, headers=auth).status_code == 200
    page = {"anonymousId": "a-1", "name": "Home", "messageId": "p-1"}
    assert client.post("/v1/page", json=page, headers=auth).status_code == 200
    alias = {"previousId": "a-1", "userId": "cust-1", "messageId": "al-1"}
    assert client.post("/v1/alias", json=alias, headers=auth).status_code == 200
    assert [e["type"] for e in _stored(client, shop)] == ["track", "identify", "page", "alias"]


def test_bad_write_key_is_refused(client: TestClient, shop: CreatedShop) -> None:
    response = client.post("/v1/batch", json={"batch": [order_completed()]}, headers=basic("nope"))
    assert response.status_code == 401
    assert "write key" in response.json()["error"]
    no_key = client.post("/v1/batch", json={"batch": [order_completed()]})
    assert no_key.status_code == 401


def test_malformed_json_is_400(client: TestClient, shop: CreatedShop) -> None:
    response = client.post("/v1/batch", content=b"{nope", headers=basic(shop.write_key))
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["error"]
    not_a_list = client.post("/v1/batch", json={"batch": 3}, headers=basic(shop.write_key))
    assert not_a_list.status_code == 400


def test_gzip_body_is_accepted(client: TestClient, shop: CreatedShop) -> None:
    body = gzip.compress(orjson.dumps({"batch": [order_completed()]}))
    headers = {**basic(shop.write_key), "Content-Encoding": "gzip"}
    response = client.post("/v1/batch", content=body, headers=headers)
    assert response.status_code == 200
    assert len(_stored(client, shop)) == 1


def test_request_over_500_kb_is_413(client: TestClient, shop: CreatedShop) -> None:
    batch = [track("Custom", {"blob": "x" * 20_000}) for _ in range(30)]
    response = client.post("/v1/batch", json={"batch": batch}, headers=basic(shop.write_key))
    assert response.status_code == 413
    bomb = gzip.compress(b'{"batch": [' + b" " * 2_000_000 + b"]}")
    headers = {**basic(shop.write_key), "Content-Encoding": "gzip"}
    assert client.post("/v1/batch", content=bomb, headers=headers).status_code == 413
    assert _stored(client, shop) == []


def test_mixed_batch_keeps_good_events_and_names_each_problem(
    client: TestClient, shop: CreatedShop
) -> None:
    good = order_completed()
    no_currency = order_completed(properties={"order_id": "2", "total": "5"})
    too_big = track("Custom", {"blob": "x" * 40_000})
    bad_nps = track("Survey Answered", {"survey_type": "nps", "score": 11})
    batch = [good, no_currency, too_big, bad_nps]
    response = client.post("/v1/batch", json={"batch": batch}, headers=basic(shop.write_key))
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1 and body["success"] is False
    by_id = {item["messageId"]: item["problems"] for item in body["rejected"]}
    assert by_id[no_currency["messageId"]] == [
        {"field": "properties.currency", "rule": "required for Order Completed"}
    ]
    assert "limit is 32768" in by_id[too_big["messageId"]][0]["rule"]
    assert by_id[bad_nps["messageId"]][0]["field"] == "properties.score"
    assert [e["messageId"] for e in _stored(client, shop)] == [good["messageId"]]


def test_all_rejected_is_400_with_the_reasons(client: TestClient, shop: CreatedShop) -> None:
    response = client.post(
        "/v1/track", json={"event": "Order Completed", "userId": "u"}, headers=basic(shop.write_key)
    )
    assert response.status_code == 400
    assert response.json()["rejected"][0]["problems"]


def test_unknown_event_is_stored_as_custom(client: TestClient, shop: CreatedShop) -> None:
    custom = track("Gift Card Redeemed", {"code_length": 12, "anything": {"nested": True}})
    client.post("/v1/batch", json={"batch": [custom]}, headers=basic(shop.write_key))
    stored = _stored(client, shop)
    assert stored[0]["event"] == "Gift Card Redeemed"
    assert stored[0]["properties"]["anything"] == {"nested": True}


def test_repeated_message_id_is_acknowledged_once(client: TestClient, shop: CreatedShop) -> None:
    message = order_completed()
    auth = basic(shop.write_key)
    first = client.post("/v1/batch", json={"batch": [message, message]}, headers=auth)
    second = client.post("/v1/batch", json={"batch": [message]}, headers=auth)
    assert first.json()["accepted"] == 1 and first.json()["duplicates"] == 1
    assert second.status_code == 200 and second.json()["duplicates"] == 1
    assert len(_stored(client, shop)) == 1


def test_clock_skew_is_corrected_the_segment_way(client: TestClient, shop: CreatedShop) -> None:
    # The client's clock is one hour ahead: its sentAt and timestamp are both shifted.
    message = order_completed(timestamp="2030-01-01T11:00:00.000Z", sentAt="2030-01-01T11:00:05Z")
    client.post("/v1/batch", json={"batch": [message]}, headers=basic(shop.write_key))
    stored = _stored(client, shop)[0]
    assert stored["originalTimestamp"] == "2030-01-01T11:00:00.000Z"
    received = stored["receivedAt"]
    corrected = stored["timestamp"]
    assert corrected < received and received < "2030"
    from datetime import datetime

    gap = datetime.fromisoformat(received) - datetime.fromisoformat(corrected)
    assert 4.9 <= gap.total_seconds() <= 5.1


def test_event_without_analytics_consent_is_not_stored(
    client: TestClient, shop: CreatedShop, store: Store
) -> None:
    denied = order_completed(context={"consent": {"categoryPreferences": {"Analytics": False}}})
    allowed = order_completed(context={"consent": {"categoryPreferences": {"Analytics": True}}})
    record = track("Consent Updated", {"categories": {"analytics": False}})
    batch = [denied, allowed, record]
    response = client.post("/v1/batch", json={"batch": batch}, headers=basic(shop.write_key))
    assert response.json()["dropped_no_consent"] == 1
    stored_ids = {e["messageId"] for e in _stored(client, shop)}
    assert stored_ids == {allowed["messageId"], record["messageId"]}
    assert store.counter(shop.shop.id, "dropped_no_consent") == 1


def test_contact_data_is_minimised_unless_the_shop_opts_in(
    client: TestClient, shop: CreatedShop, store: Store
) -> None:
    identify = {
        "type": "identify",
        "userId": "cust-1",
        "messageId": str(uuid.uuid4()),
        "traits": {"email": "Anna@Example.de", "phone": "+49 30 1234", "plan": "gold"},
    }
    client.post("/v1/batch", json={"batch": [identify]}, headers=basic(shop.write_key))
    traits = _stored(client, shop)[0]["traits"]
    assert "email" not in traits and "phone" not in traits
    assert traits["plan"] == "gold" and len(traits["email_hash"]) == 64
    store.update_shop(shop.shop.id, store_pii=True)
    kept = {**identify, "messageId": str(uuid.uuid4())}
    client.post("/v1/batch", json={"batch": [kept]}, headers=basic(shop.write_key))
    assert _stored(client, shop)[1]["traits"]["email"] == "Anna@Example.de"


def test_identify_stitches_anonymous_history_into_the_journey(
    client: TestClient, shop: CreatedShop
) -> None:
    auth = basic(shop.write_key)
    browsing = track("Product Viewed", {"product_id": "p1"}, anonymousId="anon-9")
    del browsing["userId"]
    app_visit = track("Product Added", {"product_id": "p1"}, anonymousId="anon-10")
    app_visit["context"] = {"channel": "app"}
    del app_visit["userId"]
    client.post("/v1/batch", json={"batch": [browsing, app_visit]}, headers=auth)
    client.post(
        "/v1/identify",
        json={"userId": "cust-7", "anonymousId": "anon-9", "messageId": "id-1"},
        headers=auth,
    )
    client.post(
        "/v1/alias",
        json={"previousId": "anon-10", "userId": "cust-7", "messageId": "al-1"},
        headers=auth,
    )
    order = order_completed(userId="cust-7")
    client.post("/v1/batch", json={"batch": [order]}, headers=auth)
    journey = client.get("/api/v1/customers/cust-7/journey", headers=bearer(shop.admin_token))
    assert journey.status_code == 200
    data = journey.json()
    assert set(data["anonymousIds"]) == {"anon-9", "anon-10"}
    assert [e["event"] for e in data["stages"]["consideration"]] == [
        "Product Viewed",
        "Product Added",
    ]
    assert [e["event"] for e in data["stages"]["purchase"]] == ["Order Completed"]
    assert data["channels"] == ["app", "web"]
    filtered = _stored(client, shop, user_id="cust-7", event="Product Viewed")
    assert [e["messageId"] for e in filtered] == [browsing["messageId"]]


def test_a_shops_keys_never_reach_another_shop(
    client: TestClient, shop: CreatedShop, store: Store
) -> None:
    other = store.create_shop("Anderer Laden")
    client.post("/v1/batch", json={"batch": [order_completed()]}, headers=basic(shop.write_key))
    response = client.get("/api/v1/events", headers=bearer(other.admin_token))
    assert response.text == ""
    assert client.get("/api/v1/events", headers=bearer(shop.write_key)).status_code == 401
    erase = client.post(
        "/api/v1/privacy/erase", json={"user_id": "cust-1"}, headers=bearer(other.admin_token)
    )
    assert erase.status_code == 200
    assert len(_stored(client, shop)) == 1


def test_rotated_write_key_stops_working(
    client: TestClient, shop: CreatedShop, store: Store
) -> None:
    new_key = store.rotate_key(shop.shop.id, "write")
    body = {"batch": [order_completed()]}
    assert client.post("/v1/batch", json=body, headers=basic(shop.write_key)).status_code == 401
    assert client.post("/v1/batch", json=body, headers=basic(new_key)).status_code == 200
