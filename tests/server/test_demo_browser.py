"""``cx demo`` as a person meets it: the printed storefront URL in a real Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from ..widgets.test_browser import CHROMIUM, _require_browser
from .served import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str]]:
    _require_browser()
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cx_sdk.cli",
            "demo",
            "--port",
            str(port),
            "--db",
            f"sqlite:///{tmp_path / 'demo.db'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    printed = ""
    deadline = time.monotonic() + 60
    while "Ctrl-C" not in printed and time.monotonic() < deadline:
        printed += process.stdout.readline()
    token = re.search(r"admin token\s+(\S+)", printed)
    url = re.search(r"storefront\s+(\S+)", printed)
    assert token and url, printed
    while time.monotonic() < deadline:
        try:
            httpx.get(url.group(1), timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield url.group(1), token.group(1)
    finally:
        process.terminate()
        process.wait(10)


def test_the_printed_demo_url_shows_tracking_and_takes_a_survey_answer(
    demo: tuple[str, str], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, admin_token = demo
    before = _answers(url, admin_token)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1000, "height": 1500})
        page.goto(url)
        page.wait_for_selector('[data-cx-widget="tracking"][data-cx-state="ready"]')
        page.wait_for_selector('[data-cx-widget="survey"][data-cx-state="ready"]')
        assert "Zugestellt" in page.locator('div[data-cx-widget="tracking"]').inner_text()
        # The demo's recommendations and chat launcher are live too.
        page.wait_for_selector('div[data-cx-widget="recommendations"][data-cx-state="ready"]')
        assert page.locator("li.cx-rec").count() > 0
        page.wait_for_selector('div[data-cx-widget="chat"][data-cx-state="ready"] button')
        assert "noch nicht verfügbar" not in page.content()
        page.locator('.cx-option:has-text("10")').first.click()
        page.get_by_role("button", name="Antwort senden").click()
        page.wait_for_selector("text=Vielen Dank für Ihr Feedback!")
        page.screenshot(path=str(tmp_path / "demo-de.png"), full_page=True)
        browser.close()
    after = _answers(url, admin_token)
    assert len(after) == len(before) + 1
    assert after[-1]["score"] == 10 and after[-1]["survey_type"] == "nps"


def _answers(url: str, admin_token: str) -> list[dict[str, object]]:
    base = url.rsplit("/demo", 1)[0]
    response = httpx.get(
        f"{base}/api/v1/events",
        params={"event": "Survey Answered", "limit": 10000},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    return [orjson.loads(line)["properties"] for line in response.text.splitlines()]
