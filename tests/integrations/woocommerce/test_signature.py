"""X-WC-Webhook-Signature: base64 HMAC-SHA256 over the raw body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import string
from collections.abc import Callable
from pathlib import Path

import pytest

from cx_sdk.integrations.woocommerce import signature

FIXTURES = Path(__file__).parents[2] / "fixtures" / "woocommerce"
SECRET = "s3cretAlnumOnly0123456789abcdefXYZ"


def test_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    body = (FIXTURES / "order_v3_retrieve_727.json").read_bytes()
    expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert signature.sign(body, SECRET) == expected
    assert signature.verify(body, SECRET, expected)


def test_known_vector_matches_php_hash_hmac() -> None:
    # php -r 'echo base64_encode(hash_hmac("sha256", "{\"id\":723}", "abc", true));'
    assert signature.sign(b'{"id":723}', "abc") == "q6FA017ZdHImttoXzFJSkNT/YehqzmeEz/8m7S2mA+Y="


@pytest.mark.parametrize(
    "mangle",
    [
        lambda body: body + b" ",
        lambda body: body.replace(b"723", b"724"),
        lambda body: body.replace(b'"id": 723', b'"id":723'),
    ],
    ids=["trailing-space", "changed-id", "reformatted-json"],
)
def test_any_change_to_the_raw_body_fails_verification(mangle: Callable[[bytes], bytes]) -> None:
    body = b'{"id": 723, "total": "39.00"}'
    good = signature.sign(body, SECRET)
    assert not signature.verify(mangle(body), SECRET, good)


@pytest.mark.parametrize("header", [None, "", "not-base64", "AAAA"])
def test_missing_or_wrong_signature_is_refused(header: str | None) -> None:
    assert not signature.verify(b"{}", SECRET, header)


def test_wrong_secret_is_refused() -> None:
    body = b'{"id": 1}'
    assert not signature.verify(body, SECRET + "x", signature.sign(body, SECRET))


def test_empty_secret_never_verifies() -> None:
    body = b'{"id": 1}'
    assert not signature.verify(body, "", signature.sign(body, ""))


def test_verification_uses_constant_time_compare(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signature.hmac, "compare_digest", spy)
    body = b"{}"
    assert signature.verify(body, SECRET, signature.sign(body, SECRET))
    assert len(calls) == 1


def test_generated_secrets_are_alphanumeric_long_and_distinct() -> None:
    secrets = {signature.generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    allowed = set(string.ascii_letters + string.digits)
    assert all(len(s) == 40 and set(s) <= allowed for s in secrets)


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        signature.generate_secret(16)


@pytest.mark.parametrize(
    ("secret", "valid"),
    [
        ("A" * 32, True),
        ("A" * 31, False),
        ("a&b" * 12, False),
        ("ä" * 40, False),  # str.isalnum() would accept it
        ("abc 123" * 6, False),
    ],
)
def test_secret_validation(secret: str, valid: bool) -> None:
    assert signature.is_valid_secret(secret) is valid
