"""The chat end to end in headless Chromium: the demo storefront, a visitor on a 360 px phone
and an agent in the console, talking through the collector's WebSockets.
Screenshots go to $CX_SCREENSHOT_DIR (default: the test's tmp dir)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cx_sdk.chat.hours import Hours
from cx_sdk.server import CreatedShop, Settings, Store, create_app
from cx_sdk.server.demo import storefront_routes
from cx_sdk.widgets.config import WidgetConfig
from cx_sdk.widgets.registry import settings_for

from ..widgets.journeys import EMAIL, ingest, placed, shipped
from ..widgets.test_browser import AXE, CHROMIUM, _free_port, _require_browser, _Server
from .conftest import ALWAYS_CLOSED, ALWAYS_OPEN, set_hours

pytestmark = pytest.mark.browser
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@dataclass
class Live:
    store: Store
    shop: CreatedShop
    url: str
    shots: Path


@pytest.fixture
def live(sqlite_store: Store, tmp_path: Path) -> Iterator[Live]:
    _require_browser()
    shop = sqlite_store.create_shop("Demo-Shop")
    settings_for(sqlite_store).save(shop.shop.id, WidgetConfig("chat", enabled=True))
    ingest(sqlite_store, shop.shop.id, placed(), shipped())
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url="sqlite://", migrate_on_start=False, public_url=url, secret_key="chat-e2e"
    )
    app = create_app(settings, sqlite_store)
    # The demo's storefront page, as `cx demo` serves it, with its chat slot.
    app.router.routes.extend(storefront_routes(shop.shop.id, ("#1001", EMAIL)))
    shots = Path(os.environ.get("CX_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with _Server(app, port):
        yield Live(sqlite_store, shop, url, shots)


@pytest.fixture
def browser(live: Live) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=ARGS,
        )
        try:
            yield chromium
        finally:
            chromium.close()


def open_chat(browser: Any, live: Live, lang: str) -> tuple[Any, Any, Any, list[str]]:
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # The demo page also has a recommendations slot, served by another part of cx.
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and "/recommendations" not in r.url and "favicon" not in r.url
            else None
        ),
    )
    page.goto(f"{live.url}/demo?locale={lang}")
    launcher = page.locator('[data-cx-widget="chat"][data-cx-state="ready"] button')
    launcher.wait_for()
    assert ctx.cookies() == []
    launcher.click()
    frame = page.frame_locator('[data-cx-widget="chat"] iframe')
    frame.locator("#cx-input").wait_for()
    return ctx, page, frame, problems


def test_visitor_writes_agent_answers_visitor_sees_it(browser: Any, live: Live) -> None:
    set_hours(live.store, live.shop, ALWAYS_OPEN)
    ctx, page, frame, problems = open_chat(browser, live, "en")
    page.screenshot(path=str(live.shots / "chat-phone-open.png"))
    # Phone usable: 16 px inputs (no zoom on focus) and the input inside the visible frame.
    size = frame.locator("#cx-input").evaluate("el => getComputedStyle(el).fontSize")
    assert float(size.rstrip("px")) >= 16
    frame.locator("#cx-input").fill("Is the Alpine boot waterproof?")
    frame.locator("#cx-input").press("Enter")
    frame.locator(".msg.from-visitor", has_text="waterproof").wait_for()
    frame.locator("#cx-email").wait_for(state="visible")

    agent_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    desk = agent_ctx.new_page()
    desk.goto(f"{live.url}/console/?locale=en")
    desk.fill("input[name=token]", live.shop.admin_token)
    desk.locator("form button[type=submit]").first.click()
    desk.goto(f"{live.url}/console/chat?locale=en")
    desk.locator("#chat-conversations a").first.click()
    desk.locator(".msg", has_text="waterproof").wait_for()
    assert "Last order" in desk.inner_text(".chat-customer") or "No order" in desk.inner_text(
        ".chat-customer"
    )
    desk.wait_for_function("window.WebSocket && document.readyState === 'complete'")
    desk.wait_for_timeout(300)  # the console socket connects
    desk.fill("#chat-body", "Yes – fully waterproof.")
    desk.locator("#chat-reply button").click()
    frame.locator(".msg.from-agent", has_text="fully waterproof").wait_for()
    desk.locator(".msg.from-agent", has_text="fully waterproof").wait_for()
    page.screenshot(path=str(live.shots / "chat-phone-answered.png"))
    desk.screenshot(path=str(live.shots / "chat-console.png"), full_page=True)

    # The visitor gives an email; the agent's page then knows the customer's last order.
    frame.locator("#cx-email-input").fill(EMAIL)
    frame.locator("#cx-email button").click()
    frame.locator(".note", has_text="email").wait_for()
    desk.reload()
    assert "#1001" in desk.inner_text(".chat-customer")
    desk.screenshot(path=str(live.shots / "chat-console-journey.png"), full_page=True)
    assert problems == []
    agent_ctx.close()
    ctx.close()


def test_outside_hours_the_automatic_answer_appears_once(browser: Any, live: Live) -> None:
    set_hours(live.store, live.shop, ALWAYS_CLOSED)
    ctx, page, frame, problems = open_chat(browser, live, "de")
    assert "Gerade ist niemand da" in frame.locator("#cx-status").inner_text()
    for text in ("Hallo?", "Ist jemand da?"):
        frame.locator("#cx-input").fill(text)
        frame.locator("#cx-send button").click()
        frame.locator(".msg.from-visitor", has_text=text).wait_for()
    frame.locator(".msg.from-auto").wait_for()
    page.wait_for_timeout(300)
    assert frame.locator(".msg.from-auto").count() == 1
    assert "Gerade ist niemand online" in frame.locator(".msg.from-auto").inner_text()
    page.screenshot(path=str(live.shots / "chat-phone-away.png"))
    assert problems == []
    ctx.close()


def test_reload_resumes_the_conversation(browser: Any, live: Live) -> None:
    set_hours(live.store, live.shop, Hours(days=ALWAYS_OPEN.days))
    ctx, page, frame, _ = open_chat(browser, live, "en")
    frame.locator("#cx-input").fill("first")
    frame.locator("#cx-input").press("Enter")
    frame.locator(".msg.from-visitor", has_text="first").wait_for()
    page.reload()
    page.locator('[data-cx-widget="chat"][data-cx-state="ready"] button').click()
    frame = page.frame_locator('[data-cx-widget="chat"] iframe')
    frame.locator(".msg.from-visitor", has_text="first").wait_for()
    ctx.close()


def _serious(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
    )
    return [
        {"id": v["id"], "nodes": [n["html"][:120] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_panel_and_agent_desk_pass_axe(browser: Any, live: Live) -> None:
    set_hours(live.store, live.shop, ALWAYS_CLOSED)
    # axe is injected by the test, so these contexts ignore the pages' own CSP.
    ctx = browser.new_context(bypass_csp=True, viewport={"width": 360, "height": 640})
    panel = ctx.new_page()
    panel.goto(f"{live.url}/chat/{live.shop.shop.id}/panel?locale=de")
    panel.fill("#cx-input", "Hallo")
    panel.keyboard.press("Enter")
    panel.locator(".msg.from-auto").wait_for()
    assert _serious(panel) == []
    desk = ctx.new_page()
    desk.set_viewport_size({"width": 1280, "height": 900})
    desk.goto(f"{live.url}/console/?locale=de")
    desk.fill("input[name=token]", live.shop.admin_token)
    desk.locator("form button[type=submit]").first.click()
    desk.goto(f"{live.url}/console/chat?locale=de")
    desk.locator("#chat-conversations a").first.click()
    desk.locator(".msg.from-auto").wait_for()
    assert _serious(desk) == []
    ctx.close()


def test_pre_chat_email_is_sent_with_the_first_message_only(browser: Any, live: Live) -> None:
    from cx_sdk.chat.conversations import Chats

    set_hours(live.store, live.shop, ALWAYS_CLOSED)
    ctx, _page, frame, problems = open_chat(browser, live, "en")
    frame.locator("#cx-email-input").fill("anna@example.de")
    frame.locator("#cx-email button").click()
    assert Chats(live.store).listing(live.shop.shop.id) == []  # nothing sent yet
    frame.locator("#cx-input").fill("Hello")
    frame.locator("#cx-input").press("Enter")
    frame.locator(".msg.from-auto").wait_for()
    assert "email" not in frame.locator(".msg.from-auto").inner_text()
    [conversation] = Chats(live.store).listing(live.shop.shop.id)
    assert conversation.email == "anna@example.de"
    assert problems == []
    ctx.close()


def _agent_replies(live: Live, conversation_id: str, *bodies: str) -> None:
    """The console's plain reply form, posted over HTTP (the desk's page is tested above)."""
    import re

    import httpx

    origin = {"Origin": live.url}
    with httpx.Client(base_url=live.url) as agent:
        agent.post("/console/login", data={"token": live.shop.admin_token}, headers=origin)
        page = agent.get("/console/chat")
        match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
        assert match, page.text
        for body in bodies:
            sent = agent.post(
                f"/console/chat/{conversation_id}/reply",
                data={"csrf": match.group(1), "body": body},
                headers=origin,
            )
            assert sent.status_code == 303, sent.text


def test_closed_launcher_counts_the_shops_answers_until_opened(browser: Any, live: Live) -> None:
    from cx_sdk.chat.conversations import Chats

    set_hours(live.store, live.shop, ALWAYS_OPEN)
    ctx, page, frame, problems = open_chat(browser, live, "de")
    frame.locator("#cx-input").fill("Wann kommt mein Paket?")
    frame.locator("#cx-input").press("Enter")
    frame.locator(".msg.from-visitor", has_text="Paket").wait_for()
    [conversation] = Chats(live.store).listing(live.shop.shop.id)

    chat = page.locator('[data-cx-widget="chat"]')
    chat.get_by_role("button", name="Chat schließen").click()
    launcher = chat.locator("[data-cx-show]")
    launcher.wait_for()
    assert chat.locator("[data-cx-panel]").is_hidden()
    assert launcher.evaluate("el => el === document.activeElement")
    # While closed, the panel's socket stays open: the shop's answers are counted.
    _agent_replies(live, conversation.id, "Heute noch.", "Sendungsnummer folgt per E-Mail.")
    badge = launcher.locator("[data-cx-unread]")
    badge.wait_for()
    page.wait_for_function(
        """() => document.querySelector('[data-cx-unread-count]').textContent === '2'"""
    )
    assert chat.get_by_role("button", name="2 neue Nachrichten").count() == 1
    page.screenshot(path=str(live.shots / "chat-phone-unread.png"))

    launcher.click()
    assert badge.is_hidden() and launcher.is_hidden()
    frame.locator(".msg.from-agent", has_text="Sendungsnummer").wait_for()
    assert frame.locator(".msg.from-agent").count() == 2
    # Answers while the panel is open are not counted on the launcher.
    _agent_replies(live, conversation.id, "Noch Fragen?")
    frame.locator(".msg.from-agent", has_text="Noch Fragen").wait_for()
    chat.get_by_role("button", name="Chat schließen").click()
    launcher.wait_for()
    assert badge.is_hidden()
    # Counted in memory only: no cookie, and the one stored item is the conversation's token
    # (kept since the first message; the demo page shares the collector's origin).
    assert ctx.cookies() == []
    stored = page.evaluate("() => [localStorage.length, Object.keys(sessionStorage)]")
    assert stored[0] == 0 and [key.split(":")[0] for key in stored[1]] == ["cx-chat"]
    assert problems == []
    ctx.close()
