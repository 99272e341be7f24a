"""An XSS corpus through every field a shopper, a platform or a merchant controls: whatever
arrives, the rendered HTML has no element or attribute the templates did not write."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from starlette.testclient import TestClient

from cx_sdk.server import CreatedShop, Store
from cx_sdk.widgets.config import SurveyConfig, WidgetConfig
from cx_sdk.widgets.registry import settings_for

from .journeys import EMAIL, T0, delivered, ingest, placed, return_requested, shipped, status

CORPUS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "javascript:alert(1)",
    "{{ 7*7 }}{% raw %}",
    "%(carrier)s %s",
    '<a href="javascript:alert(1)">x</a>',
    "\u2028<iframe src=//evil.example>",
]
ALLOWED_TAGS = {
    "section",
    "h2",
    "h3",
    "p",
    "form",
    "input",
    "div",
    "label",
    "button",
    "strong",
    "ol",
    "li",
    "span",
    "time",
    "a",
    "fieldset",
    "legend",
    "textarea",
    "main",
    "html",
    "head",
    "meta",
    "title",
    "link",
    "body",
}


class Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"element <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"attribute {name} on <{tag}>")
            if name in ("href", "src", "action") and value and not re.match(r"^https?://", value):
                self.problems.append(f"{name}={value!r} on <{tag}>")


def audit(html: str) -> list[str]:
    parser = Audit()
    parser.feed(html)
    return parser.problems


@pytest.mark.parametrize("payload", CORPUS)
def test_platform_fields_are_escaped_in_tracking(
    client: TestClient, store: Store, shop: CreatedShop, payload: str
) -> None:
    ingest(
        store,
        shop.shop.id,
        placed(number=f"#{payload}", product_name=payload, note=payload),
        shipped(
            carrier=payload,
            url=payload
            if payload.startswith("javascript")
            else f"https://track.example/?q={payload}",
        ),
        status("exception", T0 + timedelta(days=2), city=payload, message=payload),
        return_requested(T0 + timedelta(days=4), note=payload),
    )
    response = client.get(
        f"/widgets/{shop.shop.id}/tracking",
        params={"order": f"#{payload}", "email": EMAIL, "locale": "en"},
    )
    html = response.text
    assert "Shipped with" in html  # the order was found, so every field was rendered
    assert audit(html) == []
    if any(char in payload for char in "<>\"'"):
        assert payload not in html


@pytest.mark.parametrize("payload", CORPUS)
def test_shopper_input_is_escaped_when_echoed(
    client: TestClient, shop: CreatedShop, payload: str
) -> None:
    html = client.get(
        f"/widgets/{shop.shop.id}/tracking", params={"order": payload, "email": payload}
    ).text
    assert audit(html) == []
    assert "<script>" not in html


@pytest.mark.parametrize("payload", CORPUS)
def test_merchant_texts_shop_name_and_comment_are_escaped_in_the_survey(
    client: TestClient, store: Store, payload: str
) -> None:
    shop = store.create_shop(f"Laden {payload}")
    widgets = settings_for(store)
    widgets.save(
        shop.shop.id,
        WidgetConfig("survey", texts={"en": {"title": payload, "intro": payload}}),
    )
    widgets.save_survey(shop.shop.id, SurveyConfig("nps", delay_days=0, question={"de": payload}))
    now = datetime.now(UTC)
    ingest(
        store,
        shop.shop.id,
        placed(at=now - timedelta(days=2)),
        shipped(at=now - timedelta(days=1)),
        delivered(now - timedelta(hours=1)),
    )
    for locale in ("en", "de"):
        html = client.get(
            f"/widgets/{shop.shop.id}/survey",
            params={"order": "#1001", "email": EMAIL, "locale": locale},
        ).text
        assert 'type="radio"' in html
        assert audit(html) == []
    token = re.search(r'name="t" value="([^"]+)"', html)
    assert token
    # An off-scale answer re-renders the form with the shopper's comment in it.
    again = client.post(
        f"/widgets/{shop.shop.id}/survey",
        data={"t": token.group(1), "score": "99", "comment": payload, "format": "page"},
    ).text
    assert "textarea" in again and audit(again) == []
