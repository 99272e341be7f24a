"""The dashboard in headless Chromium on the demo shop's data: screenshots and axe-core.

Screenshots go to $CX_SCREENSHOT_DIR (default: the test's tmp dir).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cx_sdk.server import Settings, Store, create_app
from cx_sdk.server.demo import seed

from ..widgets.test_browser import AXE, CHROMIUM, _free_port, _require_browser, _Server

pytestmark = pytest.mark.browser


@dataclass
class Live:
    url: str
    token: str
    shots: Path


@pytest.fixture
def live(sqlite_store: Store, tmp_path: Path) -> Iterator[Live]:
    _require_browser()
    demo = seed(sqlite_store, customers=120)
    port = _free_port()
    settings = Settings(
        database_url="sqlite://",
        migrate_on_start=False,
        public_url=f"http://127.0.0.1:{port}",
        secret_key="browser-test-secret",
    )
    shots = Path(os.environ.get("CX_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with _Server(create_app(settings, sqlite_store), port) as server:
        yield Live(server.url, demo["admin_token"], shots)


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


def _signed_in(browser: Any, live: Live, locale: str, **context: Any) -> tuple[Any, Any]:
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, **context)
    page = ctx.new_page()
    page.goto(f"{live.url}/console/?locale={locale}")
    page.fill("#token", live.token)
    page.locator("button[type=submit]").click()
    page.wait_for_selector("nav.menu")
    return ctx, page


@pytest.mark.parametrize(
    ("locale", "menu", "heading"),
    [("de", "Dashboard", "Kennzahlen"), ("en", "Dashboard", "Key figures")],
)
def test_merchant_reads_the_dashboard_of_the_demo_shop(
    browser: Any, live: Live, locale: str, menu: str, heading: str
) -> None:
    ctx, page = _signed_in(browser, live, locale)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    page.get_by_role("link", name=menu).click()
    page.wait_for_selector(f"text={heading}")
    # The demo has no chats yet: that chart says so instead of drawing empty axes.
    assert page.locator("svg.chart").count() == 6
    assert page.locator("#h-chats ~ .nodata").count() == 1
    # The charts have room and are drawn: the funnel's first bar is the widest.
    widths = page.eval_on_selector_all(
        "#c-funnel-t ~ rect.bar", "els => els.map(e => e.getBBox().width)"
    )
    assert len(widths) == 4 and widths[0] == max(widths) > 0
    # Styles come from our stylesheet under the console's CSP (no inline style allowed).
    bar_fill = page.eval_on_selector("#c-funnel-t ~ rect.bar", "e => getComputedStyle(e).fill")
    assert bar_fill == "rgb(26, 86, 219)"
    page.screenshot(path=str(live.shots / f"dashboard-{locale}.png"), full_page=True)
    assert problems == []
    ctx.close()


def test_the_period_picker_reloads_the_page_by_week(browser: Any, live: Live) -> None:
    ctx, page = _signed_in(browser, live, "en")
    page.goto(f"{live.url}/console/dashboard?locale=en")
    page.select_option("#bucket", "week")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**bucket=week**")
    first = page.locator("#h-surveys ~ details table tbody tr").first
    assert first.count() == 1
    page.get_by_role("link", name="Last 90 days").click()
    page.wait_for_url("**from=**")
    assert page.locator(".presets a[aria-current]").inner_text() == "Last 90 days"
    page.screenshot(path=str(live.shots / "dashboard-90-days-en.png"), full_page=True)
    ctx.close()


@pytest.mark.parametrize("locale", ["de", "en"])
def test_axe_finds_no_serious_or_critical_violation_on_the_dashboard(
    browser: Any, live: Live, locale: str
) -> None:
    ctx, page = _signed_in(browser, live, locale, bypass_csp=True)
    page.goto(f"{live.url}/console/dashboard?locale={locale}")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})"""
    )
    serious = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:120] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], json.dumps(serious, indent=2)
    ctx.close()
