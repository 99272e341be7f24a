"""The widgets in a real browser (headless Chromium through Playwright).

The storefront is served from another origin than the collector and sends a strict,
nonce-based Content-Security-Policy, as a careful shop would: the loader must work under it.
Screenshots go to $CX_SCREENSHOT_DIR (default: the test's tmp dir).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from cx_sdk.server import CreatedShop, Settings, Store, create_app

from .journeys import EMAIL, delivered, ingest, placed, shipped, status

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CX_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
NONCE = "cx-test-nonce-2f9a"


def _require_browser() -> None:
    """Skip only when the browser is missing and CI does not require it; else fail."""
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "playwright is not installed"
    if missing is None and not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        missing = f"chromium is not installed at {CHROMIUM}"
    if missing:
        if os.environ.get("CX_REQUIRE_SERVICES") == "1":
            pytest.fail(f"CX_REQUIRE_SERVICES=1 but {missing}")
        pytest.skip(missing)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


STOREFRONT = """<!doctype html>
<html lang="{lang}">
<head><meta charset="utf-8"><title>Testladen</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<header><h1>Testladen</h1></header>
<main>
<div data-cx-widget="tracking" data-cx-order="#1001" data-cx-email="{email}"></div>
<div data-cx-widget="survey" data-cx-order="#1001" data-cx-email="{email}"></div>
</main>
<script src="{collector}/widgets/{shop}/loader.js" nonce="{nonce}" {consent} defer></script>
</body>
</html>"""


@dataclass
class Live:
    store: Store
    shop: CreatedShop
    collector: str
    storefront: str
    shots: Path


@pytest.fixture
def live(sqlite_store: Store, tmp_path: Path) -> Iterator[Live]:
    _require_browser()
    store = sqlite_store
    shop = store.create_shop("Testladen")
    now = datetime.now(UTC)
    ingest(
        store,
        shop.shop.id,
        placed(at=now - timedelta(days=12)),
        shipped(at=now - timedelta(days=11), promised="2099-01-01", estimated="2099-01-01"),
        status("in_transit", now - timedelta(days=10, hours=20)),
        status("out_for_delivery", now - timedelta(days=9, hours=3), city="München"),
        delivered(now - timedelta(days=9)),
    )
    collector_port = _free_port()
    collector_url = f"http://127.0.0.1:{collector_port}"
    settings = Settings(
        database_url="sqlite://",
        migrate_on_start=False,
        public_url=collector_url,
        secret_key="browser-test-secret",
    )
    collector = _Server(create_app(settings, store), collector_port)

    async def page(request: Request) -> HTMLResponse:
        lang = request.query_params.get("lang", "de")
        granted = request.query_params.get("consent") == "granted"
        html = STOREFRONT.format(
            consent='data-cx-consent="granted"' if granted else "",
            lang=lang,
            email=EMAIL,
            collector=collector_url,
            shop=shop.shop.id,
            nonce=NONCE,
        )
        csp = (
            f"default-src 'none'; script-src 'nonce-{NONCE}' {collector_url}; "
            f"style-src {collector_url}; connect-src {collector_url}; "
            f"form-action {collector_url}; img-src 'self'"
        )
        return HTMLResponse(html, headers={"Content-Security-Policy": csp})

    async def server_rendered(request: Request) -> HTMLResponse:
        """What a shop plugin does: fetch the fragments on its server, mark them ready."""
        import httpx

        parts = []
        async with httpx.AsyncClient(base_url=collector_url) as http:
            for widget in ("tracking", "survey"):
                fragment = await http.get(
                    f"/widgets/{shop.shop.id}/{widget}",
                    params={"order": "#1001", "email": EMAIL, "locale": "en"},
                )
                parts.append(
                    f'<div data-cx-widget="{widget}" data-cx-state="ready">{fragment.text}</div>'
                )
        script = f'<script src="{collector_url}/widgets/{shop.shop.id}/loader.js" defer></script>'
        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SSR</title>'
            f'<link rel="stylesheet" href="{collector_url}/widgets/{shop.shop.id}/widgets.css">'
            f"</head><body><main>{''.join(parts)}</main>{script}</body></html>"
        )
        return HTMLResponse(html)

    shop_app = Starlette(routes=[Route("/", page), Route("/ssr", server_rendered)])
    shots = Path(os.environ.get("CX_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with collector, _Server(shop_app) as storefront:
        yield Live(store, shop, collector_url, storefront.url, shots)


@pytest.fixture
def browser(live: Live) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _open_storefront(
    browser: Any, live: Live, lang: str, consent: str = "", **context: Any
) -> tuple[Any, Any, list[str]]:
    ctx = browser.new_context(viewport={"width": 900, "height": 1400}, **context)
    page = ctx.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    page.goto(f"{live.storefront}/?lang={lang}&consent={consent}")
    page.wait_for_selector('[data-cx-widget="tracking"][data-cx-state="ready"]')
    page.wait_for_selector('[data-cx-widget="survey"][data-cx-state="ready"]')
    return ctx, page, problems


def _answers(live: Live) -> list[dict[str, Any]]:
    return [e for _, e in live.store.iter_events(live.shop.shop.id, event="Survey Answered")]


def test_shopper_sees_tracking_and_answers_the_survey_by_clicking(browser: Any, live: Live) -> None:
    ctx, page, problems = _open_storefront(browser, live, "de")
    tracking = page.locator('div[data-cx-widget="tracking"]')
    assert "Zugestellt" in tracking.inner_text()
    assert "Versendet mit DHL" in tracking.inner_text()
    page.screenshot(path=str(live.shots / "storefront-de.png"), full_page=True)
    page.locator('.cx-option:has-text("9")').first.click()
    page.fill("textarea[name=comment]", "Alles bestens")
    page.get_by_role("button", name="Antwort senden").click()
    page.wait_for_selector("text=Vielen Dank für Ihr Feedback!")
    page.screenshot(path=str(live.shots / "storefront-de-answered.png"), full_page=True)
    [answer] = _answers(live)
    assert answer["properties"]["score"] == 9
    assert answer["properties"]["comment"] == "Alles bestens"
    # Nothing stored in the browser: no cookie before (or without) consent.
    assert ctx.cookies() == []
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    # The loader ran under the shop's strict nonce CSP without a single violation.
    assert problems == []
    ctx.close()


def test_english_storefront_and_keyboard_only_answer(browser: Any, live: Live) -> None:
    ctx, page, problems = _open_storefront(browser, live, "en")
    assert "Delivered" in page.locator('div[data-cx-widget="tracking"]').inner_text()
    page.screenshot(path=str(live.shots / "storefront-en.png"), full_page=True)
    # Tab until the first score has focus, move with the arrow keys, submit with Enter.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.name") == "score":
            break
    else:
        pytest.fail("the survey's scores are not reachable with the keyboard")
    outline = page.evaluate(
        "getComputedStyle(document.activeElement.nextElementSibling).outlineStyle"
    )
    assert outline == "solid"  # visible focus
    for _ in range(7):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Thank you for your feedback!")
    [answer] = _answers(live)
    assert answer["properties"]["score"] == 7
    assert problems == []
    ctx.close()


@pytest.mark.parametrize("lang", ["de", "en"])
def test_axe_finds_no_serious_or_critical_violation(browser: Any, live: Live, lang: str) -> None:
    # axe is injected by the test, so this context ignores the shop's CSP.
    ctx, page, _ = _open_storefront(browser, live, lang, bypass_csp=True)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """() => axe.run('[data-cx-widget]', {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})"""
    )
    serious = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:120] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], json.dumps(serious, indent=2)
    # Targets: every control in the widgets is at least 24×24 CSS pixels.
    small = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .map(e => e.getBoundingClientRect())
            .filter(r => r.width < 24 || r.height < 24).length""",
        ".cx-w button, .cx-w a, .cx-option span, .cx-w textarea,"
        " .cx-w input:not([type=hidden]):not([type=radio])",
    )
    assert small == 0
    ctx.close()


def test_console_switch_removes_the_widget_from_the_storefront(browser: Any, live: Live) -> None:
    console = browser.new_context()
    page = console.new_page()
    page.goto(f"{live.collector}/console/?locale=en")
    page.fill("#token", live.shop.admin_token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("text=Widgets of Testladen")
    cookie = next(c for c in console.cookies() if c["name"] == "cx_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.screenshot(path=str(live.shots / "console-en.png"), full_page=True)
    page.uncheck("#tracking-enabled")
    page.get_by_role("button", name="Save Delivery tracking").click()
    page.wait_for_selector("text=Saved.")
    console.close()

    ctx = browser.new_context()
    shopper = ctx.new_page()
    shopper.goto(f"{live.storefront}/?lang=de")
    shopper.wait_for_selector('[data-cx-widget="survey"][data-cx-state="ready"]')
    shopper.wait_for_selector('[data-cx-widget="tracking"][data-cx-state="off"]', state="attached")
    assert shopper.locator('div[data-cx-widget="tracking"]').inner_html() == ""
    assert not shopper.locator('div[data-cx-widget="tracking"]').is_visible()
    ctx.close()


def test_console_passes_axe(browser: Any, live: Live) -> None:
    ctx = browser.new_context(bypass_csp=True)
    page = ctx.new_page()
    page.goto(f"{live.collector}/console/?locale=de")
    page.fill("#token", live.shop.admin_token)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_selector("text=Widgets von Testladen")
    page.screenshot(path=str(live.shots / "console-de.png"), full_page=True)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2aa']}})")
    serious = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
    ctx.close()


@pytest.mark.parametrize("consent", ["", "granted"])
def test_link_clicks_are_reported_only_after_consent(
    browser: Any, live: Live, consent: str
) -> None:
    ctx, page, problems = _open_storefront(browser, live, "en", consent=consent)
    ctx.route("https://www.dhl.de/**", lambda route: route.fulfill(body="carrier page"))
    with ctx.expect_page() as carrier:
        page.get_by_role("link", name="Follow the parcel").click()
    carrier.value.close()
    # The beacon is asynchronous: wait for it when expected, give it a second when not.
    deadline = time.monotonic() + (5 if consent else 1)
    reported: list[Any] = []
    while time.monotonic() < deadline and not reported:
        time.sleep(0.1)
        reported = list(live.store.iter_events(live.shop.shop.id, event="Widget Interaction"))
    if consent:
        [(_, event)] = reported
        assert event["properties"]["action"] == "tracking_link_clicked"
        assert event["properties"]["order_id"] == "5001"
    else:
        assert reported == []
    assert ctx.cookies() == []
    assert problems == []
    ctx.close()


def test_server_rendered_fragments_are_wired_not_refetched(browser: Any, live: Live) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "/tracking" in r.url else None)
    page.goto(f"{live.storefront}/ssr")
    page.wait_for_load_state("networkidle")
    assert fetched == []  # ready fragments are left as they are
    page.locator('.cx-option:has-text("8")').first.click()
    page.get_by_role("button", name="Send answer").click()
    page.wait_for_selector("text=Thank you for your feedback!")
    assert page.url == f"{live.storefront}/ssr"  # answered in place, through fetch
    [answer] = _answers(live)
    assert answer["properties"]["score"] == 8
    ctx.close()


def test_without_javascript_the_embedded_form_lands_on_a_thank_you_page(
    browser: Any, live: Live
) -> None:
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto(f"{live.storefront}/ssr")
    page.locator('.cx-option:has-text("10")').first.click()
    page.get_by_role("button", name="Send answer").click()
    page.wait_for_selector("text=Thank you for your feedback!")
    assert page.url.startswith(f"{live.collector}/widgets/")
    # A whole page with the shop's stylesheet, not a bare fragment.
    assert page.locator("html[lang=en] link[rel=stylesheet]").count() == 1
    [answer] = _answers(live)
    assert answer["properties"]["score"] == 10
    page.screenshot(path=str(live.shots / "no-js-thanks-en.png"), full_page=True)
    ctx.close()
