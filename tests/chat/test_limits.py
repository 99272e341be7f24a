"""Per-socket limits and the conversation token."""

from __future__ import annotations

import pytest

from cx_sdk.chat.limits import (
    MAX_MESSAGE_CHARS,
    Addresses,
    Bucket,
    FrameError,
    email_address,
    message_body,
)
from cx_sdk.chat.visitor import conversation_of_token, conversation_token
from cx_sdk.widgets.tokens import TokenError


def test_bucket_allows_a_burst_then_refills_at_its_rate() -> None:
    bucket = Bucket(rate=1.0, burst=3.0, stamp=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(0.5)
    assert bucket.take(1.5)


def test_message_body_is_trimmed_bounded_and_never_empty() -> None:
    assert message_body("  hallo\x00 ") == "hallo"
    with pytest.raises(FrameError, match="empty"):
        message_body("   ")
    with pytest.raises(FrameError, match="longer than"):
        message_body("x" * (MAX_MESSAGE_CHARS + 1))
    with pytest.raises(FrameError, match="string"):
        message_body(42)


def test_email_address_shape() -> None:
    assert email_address(" anna@example.de ") == "anna@example.de"
    for bad in ("anna", "anna@example", "a b@example.de", "<x>@example.de", 7):
        with pytest.raises(FrameError):
            email_address(bad)


def test_conversation_token_is_bound_to_shop_and_key() -> None:
    key = b"k" * 32
    token = conversation_token(key, "shop_a", "conv1")
    assert conversation_of_token(key, "shop_a", token) == "conv1"
    with pytest.raises(TokenError, match="another shop"):
        conversation_of_token(key, "shop_b", token)
    with pytest.raises(TokenError, match="signature"):
        conversation_of_token(b"x" * 32, "shop_a", token)
    with pytest.raises(TokenError):
        conversation_of_token(key, "shop_a", token[:-3] + "abc")


def test_addresses_hold_at_most_the_limit_each_and_give_back_on_close() -> None:
    addresses = Addresses(2)
    assert addresses.take("203.0.113.7") and addresses.take("203.0.113.7")
    assert not addresses.take("203.0.113.7")
    assert addresses.take("198.51.100.1")  # another address has its own count
    addresses.give_back("203.0.113.7")
    assert addresses.take("203.0.113.7")
    addresses.give_back("198.51.100.1")
    assert "198.51.100.1" not in addresses.open  # nothing kept for closed addresses
    unlimited = Addresses(0)
    assert all(unlimited.take("127.0.0.1") for _ in range(100))
