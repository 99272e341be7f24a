"""Shopify signatures: webhooks (base64), OAuth (hex, &-joined), app proxy (published vectors)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

from cx_sdk.integrations.shopify import signature

# Shopify's "Authenticate app proxies" page, shared secret "hush", shop shop-name.myshopify.com.
PROXY_BASE = (
    "extra=1&extra=2&shop=shop-name.myshopify.com&logged_in_customer_id={customer}"
    "&path_prefix=%2Fapps%2Fawesome_reviews&timestamp=1317327555"
)
LOGGED_IN = "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb"
ANONYMOUS = "e072b6d7e6622d85912a5214b860d3100dc1e73d9bc29f43796ac8c9ff8093cb"
VECTOR_TIME = 1317327555


def test_published_app_proxy_vectors_pass_with_secret_hush() -> None:
    logged_in = PROXY_BASE.format(customer="1") + f"&signature={LOGGED_IN}"
    anonymous = PROXY_BASE.format(customer="") + f"&signature={ANONYMOUS}"
    assert signature.verify_proxy(logged_in, ["hush"], now=VECTOR_TIME)
    assert signature.verify_proxy(anonymous, ["hush"], now=VECTOR_TIME)


def test_app_proxy_message_joins_repeated_values_with_commas_and_no_separator() -> None:
    params = [("extra", "1"), ("extra", "2"), ("shop", "s"), ("a", ""), ("signature", "x")]
    assert signature.proxy_message(params) == "a=extra=1,2shop=s"


def test_tampered_app_proxy_query_is_refused() -> None:
    query = PROXY_BASE.format(customer="2") + f"&signature={LOGGED_IN}"
    assert not signature.verify_proxy(query, ["hush"], now=VECTOR_TIME)
    good = PROXY_BASE.format(customer="1") + f"&signature={LOGGED_IN}"
    assert not signature.verify_proxy(good, ["other"], now=VECTOR_TIME)
    assert not signature.verify_proxy(good, [""], now=VECTOR_TIME)
    assert not signature.verify_proxy(PROXY_BASE.format(customer="1"), ["hush"], now=VECTOR_TIME)


def test_app_proxy_timestamp_more_than_90_seconds_off_is_refused() -> None:
    good = PROXY_BASE.format(customer="1") + f"&signature={LOGGED_IN}"
    assert signature.verify_proxy(good, ["hush"], now=VECTOR_TIME + 90)
    assert signature.verify_proxy(good, ["hush"], now=VECTOR_TIME - 90)
    assert not signature.verify_proxy(good, ["hush"], now=VECTOR_TIME + 91)
    assert not signature.verify_proxy(good, ["hush"], now=VECTOR_TIME - 91)


def test_app_proxy_previous_secret_still_verifies_during_rotation() -> None:
    good = PROXY_BASE.format(customer="1") + f"&signature={LOGGED_IN}"
    assert signature.verify_proxy(good, ["new-secret", "hush"], now=VECTOR_TIME)


def test_webhook_hmac_is_base64_over_raw_bytes() -> None:
    body = b'{"id": 820982911946154508, "note": "caf\xc3\xa9"}'
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert signature.sign_webhook(body, "s3cret") == expected
    assert signature.verify_webhook(body, expected, ["s3cret"])
    # Re-serialised JSON (other spacing) is other bytes: refused.
    assert not signature.verify_webhook(body.replace(b": ", b":"), expected, ["s3cret"])


def test_forged_or_missing_webhook_hmac_is_refused() -> None:
    body = b"{}"
    assert not signature.verify_webhook(body, None, ["s3cret"])
    assert not signature.verify_webhook(body, "", ["s3cret"])
    assert not signature.verify_webhook(body, signature.sign_webhook(body, "wrong"), ["s3cret"])
    assert not signature.verify_webhook(body, signature.sign_webhook(body, "x"), [None, ""])


def test_webhook_signed_with_previous_secret_verifies_during_rotation() -> None:
    body = b'{"id": 1}'
    old = signature.sign_webhook(body, "old")
    assert signature.verify_webhook(body, old, ["new", "old"])
    assert not signature.verify_webhook(body, old, ["new", None])


def test_oauth_hmac_is_hex_over_sorted_ampersand_joined_params() -> None:
    params = [
        ("shop", "demo.myshopify.com"),
        ("code", "0907a61c0c8d55e99db179b68161bc00"),
        ("timestamp", "1337178173"),
        ("state", "nonce"),
    ]
    message = "code=0907a61c0c8d55e99db179b68161bc00&shop=demo.myshopify.com&state=nonce"
    message += "&timestamp=1337178173"
    assert signature.oauth_message(params) == message
    digest = hmac.new(b"secret", message.encode(), hashlib.sha256).hexdigest()
    query = urlencode([*params, ("hmac", digest)])
    assert signature.verify_oauth(query, ["secret"])
    assert not signature.verify_oauth(query.replace("nonce", "other"), ["secret"])
    assert not signature.verify_oauth(urlencode(params), ["secret"])
    assert not signature.verify_oauth(query, ["wrong"])
