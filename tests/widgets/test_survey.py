"""Surveys end to end over HTTP: triggers, the cap, Shown/Answered events, the plain form."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from cx_sdk.server import CreatedShop, Settings, Store
from cx_sdk.widgets.config import SurveyConfig
from cx_sdk.widgets.registry import settings_for
from cx_sdk.widgets.tables import survey_contacts

from .journeys import EMAIL, delivered, ingest, placed, shipped

NOW = datetime.now(UTC)


def events(store: Store, shop_id: str, name: str) -> list[dict[str, object]]:
    return [e for _, e in store.iter_events(shop_id, event=name)]


def survey_get(client: TestClient, shop: CreatedShop, **params: str) -> tuple[int, str]:
    response = client.get(f"/widgets/{shop.shop.id}/survey", params=params)
    return response.status_code, response.text


def token_of(html: str) -> str:
    match = re.search(r'name="t" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def delivered_order(
    store: Store,
    shop_id: str,
    days_ago: float,
    order_id: str = "5001",
    number: str = "#1001",
    email: str = EMAIL,
) -> None:
    at = NOW - timedelta(days=days_ago)
    ingest(
        store,
        shop_id,
        placed(order_id=order_id, number=number, email=email, at=at - timedelta(days=3)),
        shipped(order_id=order_id, shipment_id=f"sh-{order_id}", at=at - timedelta(days=2)),
        delivered(at, order_id=order_id, shipment_id=f"sh-{order_id}"),
    )


def test_nps_after_delivery_is_shown_once_and_the_answer_is_stored(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    delivered_order(store, shop.shop.id, days_ago=8)
    status, html = survey_get(client, shop, order="#1001", email=EMAIL, locale="de")
    assert status == 200
    assert 'data-cx-widget="survey"' in html and 'lang="de"' in html
    assert "Wie wahrscheinlich ist es, dass Sie Testladen" in html
    assert html.count('type="radio"') == 11
    # A reload shows the same survey and does not count a second Shown.
    survey_get(client, shop, order="#1001", email=EMAIL, locale="de")
    assert len(events(store, shop.shop.id, "Survey Shown")) == 1

    response = client.post(
        f"/widgets/{shop.shop.id}/survey",
        data={"t": token_of(html), "score": "9", "comment": "Schnell & gut", "locale": "de"},
    )
    assert response.status_code == 200
    assert "Vielen Dank für Ihr Feedback!" in response.text
    [answered] = events(store, shop.shop.id, "Survey Answered")
    assert answered["properties"] == {
        "survey_id": "nps",
        "survey_type": "nps",
        "order_id": "5001",
        "score": 9,
        "comment": "Schnell & gut",
    }
    assert answered["userId"] == "cust-1"
    # Answered: not shown again, and a second post is not a second answer.
    assert survey_get(client, shop, order="#1001", email=EMAIL)[0] == 204
    again = client.post(
        f"/widgets/{shop.shop.id}/survey", data={"t": token_of(html), "score": "3", "locale": "en"}
    )
    assert "You have already answered this survey" in again.text
    assert len(events(store, shop.shop.id, "Survey Answered")) == 1


def test_survey_waits_for_the_configured_delay(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    delivered_order(store, shop.shop.id, days_ago=2)
    assert survey_get(client, shop, order="#1001", email=EMAIL)[0] == 204
    settings_for(store).save_survey(shop.shop.id, SurveyConfig("nps", delay_days=1))
    assert survey_get(client, shop, order="#1001", email=EMAIL)[0] == 200


def test_same_customer_is_not_asked_twice_within_the_cap(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    delivered_order(store, shop.shop.id, days_ago=10, order_id="5001", number="#1001")
    delivered_order(store, shop.shop.id, days_ago=9, order_id="5002", number="#1002")
    assert survey_get(client, shop, order="#1001", email=EMAIL)[0] == 200
    # Another order of the same customer, inside the 30-day cap: nothing.
    assert survey_get(client, shop, order="#1002", email=EMAIL)[0] == 204
    # Once the first contact is older than the cap, the second order may be asked about.
    with store.engine.begin() as conn:
        conn.execute(
            survey_contacts.update().values(
                shown_at=(NOW - timedelta(days=31)).replace(tzinfo=None)
            )
        )
    assert survey_get(client, shop, order="#1002", email=EMAIL)[0] == 200


def test_csat_after_order_and_score_off_scale_is_refused_with_the_form_again(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    widgets = settings_for(store)
    widgets.save_survey(shop.shop.id, SurveyConfig("nps", enabled=False))
    widgets.save_survey(
        shop.shop.id, SurveyConfig("csat-order", survey_type="csat", trigger="order", delay_days=0)
    )
    ingest(store, shop.shop.id, placed(at=NOW - timedelta(hours=1)))
    status, html = survey_get(client, shop, order="#1001", email=EMAIL, locale="en")
    assert status == 200 and html.count('type="radio"') == 5
    assert "How satisfied are you with your order from Testladen?" in html
    response = client.post(
        f"/widgets/{shop.shop.id}/survey", data={"t": token_of(html), "score": "7", "locale": "en"}
    )
    assert response.status_code == 200
    assert "Please choose a score." in response.text
    assert not events(store, shop.shop.id, "Survey Answered")


def test_ces_after_chat_via_subject_token(
    client: TestClient, store: Store, shop: CreatedShop, settings: object
) -> None:
    from cx_sdk.widgets.survey import subject_token
    from cx_sdk.widgets.tokens import shop_key

    widgets = settings_for(store)
    widgets.save_survey(shop.shop.id, SurveyConfig("nps", enabled=False))
    widgets.save_survey(
        shop.shop.id, SurveyConfig("ces-chat", survey_type="ces", trigger="chat", delay_days=0)
    )
    key = shop_key(store, settings, shop.shop)  # type: ignore[arg-type]
    token = subject_token(key, shop.shop.id, anonymous_id="anon-7", conversation_id="conv-1")
    status, html = survey_get(client, shop, subject=token, locale="en")
    assert status == 200 and html.count('type="radio"') == 7
    client.post(f"/widgets/{shop.shop.id}/survey", data={"t": token_of(html), "score": "6"})
    [answered] = events(store, shop.shop.id, "Survey Answered")
    assert answered["anonymousId"] == "anon-7"
    assert answered["properties"]["conversation_id"] == "conv-1"
    # A forged subject token shows nothing.
    assert survey_get(client, shop, subject=token[:-3] + "AAA")[0] == 204


def test_plain_form_without_javascript_works_as_a_page(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    delivered_order(store, shop.shop.id, days_ago=8)
    status, page = survey_get(client, shop, order="#1001", email=EMAIL, format="page")
    assert status == 200 and page.startswith("<!doctype html>")
    assert '<link rel="stylesheet" href="http://testserver/widgets/' in page
    assert '<input type="hidden" name="format" value="page">' in page
    assert "<script" not in page
    response = client.post(
        f"/widgets/{shop.shop.id}/survey",
        data={"t": token_of(page), "score": "10", "format": "page", "locale": "en"},
    )
    assert response.text.startswith("<!doctype html>")
    assert "Thank you for your feedback!" in response.text
    assert "form-action http://testserver/widgets/" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "eyJzIjoieCJ9.AAAA"],
)
def test_forged_or_missing_survey_token_is_refused(
    client: TestClient, shop: CreatedShop, token: str
) -> None:
    response = client.post(f"/widgets/{shop.shop.id}/survey", data={"t": token, "score": "9"})
    assert response.status_code == 400
    assert "survey token" in response.text


def test_token_of_another_shop_is_refused(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    delivered_order(store, shop.shop.id, days_ago=8)
    _, html = survey_get(client, shop, order="#1001", email=EMAIL)
    other = store.create_shop("Anderer Laden")
    response = client.post(
        f"/widgets/{other.shop.id}/survey", data={"t": token_of(html), "score": "9"}
    )
    assert response.status_code == 400
    assert not events(store, other.shop.id, "Survey Answered")


def test_answer_must_be_a_form_post(client: TestClient, shop: CreatedShop) -> None:
    response = client.post(f"/widgets/{shop.shop.id}/survey", json={"t": "x", "score": 9})
    assert response.status_code == 415


def test_survey_contacts_are_erased_with_the_customer(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    delivered_order(store, shop.shop.id, days_ago=8)
    survey_get(client, shop, order="#1001", email=EMAIL)
    exported = store.export_customer(shop.shop.id, user_id="cust-1")
    assert len(exported["tables"]["survey_contacts"]) == 1
    store.erase_customer(shop.shop.id, user_id="cust-1")
    with store.engine.connect() as conn:
        assert conn.execute(select(survey_contacts)).all() == []


def test_guest_order_survey_uses_a_hashed_anonymous_id(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    at = NOW - timedelta(days=9)
    ingest(
        store,
        shop.shop.id,
        placed(user_id=None, at=at),
        shipped(user_id=None, at=at + timedelta(days=1)),
    )
    ingest(store, shop.shop.id, delivered(at + timedelta(days=2), user_id=None))
    assert survey_get(client, shop, order="#1001", email=EMAIL)[0] == 200
    [shown] = events(store, shop.shop.id, "Survey Shown")
    assert EMAIL not in str(shown)
    assert "userId" not in shown and str(shown["anonymousId"]).startswith("email-")


def test_an_expired_survey_link_says_so_in_the_shoppers_language(
    client: TestClient, store: Store, shop: CreatedShop, settings: Settings
) -> None:
    from cx_sdk.widgets.tokens import shop_key, sign

    key = shop_key(store, settings, shop.shop)
    old = sign(key, "survey", {"s": shop.shop.id, "sv": "nps", "ty": "nps"}, ttl_seconds=-1)
    response = client.post(
        f"/widgets/{shop.shop.id}/survey", data={"t": old, "score": "9", "locale": "de"}
    )
    assert response.status_code == 200
    assert "Diese Umfrage ist bereits beendet." in response.text
    assert not events(store, shop.shop.id, "Survey Answered")


def test_chat_survey_waits_for_its_delay_after_the_chat_ended(
    client: TestClient, store: Store, shop: CreatedShop, settings: Settings
) -> None:
    from cx_sdk.widgets.survey import subject_token
    from cx_sdk.widgets.tokens import shop_key

    widgets = settings_for(store)
    widgets.save_survey(shop.shop.id, SurveyConfig("nps", enabled=False))
    widgets.save_survey(
        shop.shop.id, SurveyConfig("ces-chat", survey_type="ces", trigger="chat", delay_days=1)
    )
    key = shop_key(store, settings, shop.shop)
    just_now = subject_token(key, shop.shop.id, user_id="cust-9", conversation_id="c-1")
    assert survey_get(client, shop, subject=just_now)[0] == 204
    yesterday = subject_token(
        key,
        shop.shop.id,
        user_id="cust-9",
        conversation_id="c-2",
        ended_at=NOW - timedelta(days=2),
    )
    assert survey_get(client, shop, subject=yesterday)[0] == 200


def test_a_survey_limited_to_personas_asks_only_customers_in_them(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    from cx_sdk.analytics import segment_of
    from cx_sdk.server import follower

    delivered_order(store, shop.shop.id, days_ago=8)
    follower.settle(store, shop.shop.id)  # personas follow ingest
    persona = segment_of(store, shop.shop.id, "cust-1")
    assert persona == "new"  # one recent order
    widgets = settings_for(store)
    widgets.save_survey(shop.shop.id, SurveyConfig("nps", segments=("champions", "loyal")))
    assert survey_get(client, shop, order="#1001", email=EMAIL)[0] == 204
    widgets.save_survey(shop.shop.id, SurveyConfig("nps", segments=("loyal", "new")))
    assert widgets.survey(shop.shop.id, "nps") == SurveyConfig("nps", segments=("loyal", "new"))
    assert survey_get(client, shop, order="#1001", email=EMAIL)[0] == 200


def test_a_guest_has_no_persona_and_is_not_asked_by_a_limited_survey(
    client: TestClient, store: Store, shop: CreatedShop
) -> None:
    at = NOW - timedelta(days=8)
    ingest(
        store,
        shop.shop.id,
        placed(user_id=None, at=at - timedelta(days=3)),
        shipped(at=at - timedelta(days=2), user_id=None),
        delivered(at, user_id=None),
    )
    settings_for(store).save_survey(shop.shop.id, SurveyConfig("nps", segments=("new",)))
    assert survey_get(client, shop, order="#1001", email=EMAIL)[0] == 204
    settings_for(store).save_survey(shop.shop.id, SurveyConfig("nps"))
    assert survey_get(client, shop, order="#1001", email=EMAIL)[0] == 200


def test_an_unknown_persona_is_refused_with_the_known_ones() -> None:
    from cx_sdk.widgets.config import ConfigError, validate_survey

    with pytest.raises(ConfigError) as error:
        validate_survey(SurveyConfig("nps", segments=("vip",)))
    assert "vip" in str(error.value) and "champions" in str(error.value)
