"""OAuth install against a mocked Shopify (pytest-httpx): domain, HMAC, state, token, webhooks."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from pytest_httpx import HTTPXMock
from starlette.testclient import TestClient

from cx_sdk.integrations.shopify import oauth, signature
from cx_sdk.server import Store

from .conftest import API_KEY, API_SECRET

SHOP = "new-merchant.myshopify.com"
TOKEN_URL = f"https://{SHOP}/admin/oauth/access_token"
GRAPHQL_URL = oauth.graphql_url(SHOP)


def signed(params: dict[str, str], secret: str = API_SECRET) -> str:
    pairs = list(params.items())
    return urlencode([*pairs, ("hmac", signature.sign_oauth(pairs, secret))])


def start_install(client: TestClient) -> str:
    response = client.get(
        f"/integrations/shopify/install?{signed({'shop': SHOP, 'timestamp': '1700000000'})}",
        follow_redirects=False,
    )
    assert response.status_code == 302
    target = urlsplit(response.headers["location"])
    assert target.netloc == SHOP and target.path == "/admin/oauth/authorize"
    query = parse_qs(target.query)
    assert query["client_id"] == [API_KEY]
    assert query["redirect_uri"] == ["http://testserver/integrations/shopify/callback"]
    assert "read_orders" in query["scope"][0]
    assert client.cookies.get(oauth.STATE_COOKIE) == query["state"][0]
    return query["state"][0]


def callback(
    client: TestClient, state: str, secret: str = API_SECRET, shop: str = SHOP
) -> httpx.Response:
    params = {"code": "abc123", "shop": shop, "state": state, "timestamp": "1700000001"}
    return client.get(
        f"/integrations/shopify/callback?{signed(params, secret)}", follow_redirects=False
    )


@pytest.mark.parametrize(
    "shop",
    ["evil.com", "shop.myshopify.com.evil.com", "-x.myshopify.com", "", "a/b.myshopify.com"],
)
def test_install_refuses_a_shop_that_is_not_a_myshopify_domain(
    client: TestClient, shop: str
) -> None:
    response = client.get(f"/integrations/shopify/install?{urlencode({'shop': shop})}")
    assert response.status_code == 400
    assert "myshopify.com" in response.json()["error"]


def test_install_with_a_wrong_hmac_is_refused(client: TestClient) -> None:
    query = signed({"shop": SHOP, "timestamp": "1"}, secret="wrong")
    response = client.get(f"/integrations/shopify/install?{query}")
    assert response.status_code == 401


def test_install_stores_the_token_and_subscribes_the_webhooks(
    client: TestClient, store: Store, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        url=TOKEN_URL,
        method="POST",
        json={"access_token": "shpat_secret_token", "scope": "read_orders,read_customers"},
    )
    httpx_mock.add_response(
        url=GRAPHQL_URL,
        method="POST",
        json={
            "data": {
                "webhookSubscriptionCreate": {
                    "webhookSubscription": {"id": "gid://1"},
                    "userErrors": [],
                }
            }
        },
        is_reusable=True,
    )
    state = start_install(client)
    response = callback(client, state)
    assert response.status_code == 302, response.text
    assert response.headers["location"] == f"https://{SHOP}/admin/apps/{API_KEY}"
    shop = store.shop_by_domain(SHOP)
    assert shop is not None and shop.platform == "shopify"
    assert shop.secrets["access_token"] == "shpat_secret_token"
    token_request, *graphql = httpx_mock.get_requests()
    assert json.loads(token_request.content) == {
        "client_id": API_KEY,
        "client_secret": API_SECRET,
        "code": "abc123",
    }
    assert len(graphql) == len(oauth.WEBHOOK_TOPICS)
    assert {r.headers["X-Shopify-Access-Token"] for r in graphql} == {"shpat_secret_token"}
    variables = [json.loads(r.content)["variables"] for r in graphql]
    assert [v["topic"] for v in variables] == list(oauth.WEBHOOK_TOPICS)
    assert {v["uri"] for v in variables} == {"http://testserver/integrations/shopify/webhooks"}
    installed = store.get_state(shop.id, "app", "installation")
    assert installed is not None
    assert set(installed["webhooks"].values()) == {"ok"}


def test_reinstall_updates_the_token_and_tolerates_existing_subscriptions(
    client: TestClient, store: Store, httpx_mock: HTTPXMock
) -> None:
    existing = store.create_shop(
        "Merchant", "shopify", domain=SHOP, secrets={"access_token": "old"}
    )
    httpx_mock.add_response(url=TOKEN_URL, method="POST", json={"access_token": "new", "scope": ""})
    taken = {"message": "Address for this topic has already been taken", "field": ["uri"]}
    httpx_mock.add_response(
        url=GRAPHQL_URL,
        method="POST",
        json={
            "data": {
                "webhookSubscriptionCreate": {"webhookSubscription": None, "userErrors": [taken]}
            }
        },
        is_reusable=True,
    )
    assert callback(client, start_install(client)).status_code == 302
    shop = store.get_shop(existing.shop.id)
    assert shop is not None and shop.secrets["access_token"] == "new"
    installed = store.get_state(shop.id, "app", "installation")
    assert installed is not None and set(installed["webhooks"].values()) == {"ok"}


def test_callback_with_a_forged_hmac_or_foreign_state_is_refused(
    client: TestClient, store: Store
) -> None:
    state = start_install(client)
    assert callback(client, state, secret="wrong").status_code == 401
    assert callback(client, "someone-elses-state").status_code == 403
    client.cookies.clear()
    assert callback(client, state).status_code == 403
    assert store.shop_by_domain(SHOP) is None


def test_failed_code_exchange_is_a_clear_502(
    client: TestClient, store: Store, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        url=TOKEN_URL, method="POST", status_code=400, json={"error": "invalid"}
    )
    response = callback(client, start_install(client))
    assert response.status_code == 502
    assert "HTTP 400" in response.json()["error"]
    assert store.shop_by_domain(SHOP) is None


def test_token_is_never_logged(
    client: TestClient, httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, method="POST", json={"access_token": "shpat_hush"})
    httpx_mock.add_response(url=GRAPHQL_URL, method="POST", status_code=500, is_reusable=True)
    with caplog.at_level("DEBUG"):
        assert callback(client, start_install(client)).status_code == 302
    assert "shpat_hush" not in caplog.text
    assert "webhook subscriptions failed" in caplog.text
