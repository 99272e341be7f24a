"""Fan-out through the real Redis: two `cx serve` processes, the visitor on one, the agent on
the other. Needs CX_TEST_REDIS_URL (skips locally without it, fails in CI)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from cx_sdk.chat.hub import RedisHub, hub_of
from cx_sdk.server import Settings, Store, create_app
from cx_sdk.widgets.config import WidgetConfig
from cx_sdk.widgets.registry import settings_for

from ..conftest import service_missing
from ..widgets.test_browser import _free_port
from .conftest import ALWAYS_OPEN

pytestmark = pytest.mark.redis
REDIS_URL = os.environ.get("CX_TEST_REDIS_URL", "")


def _redis_url() -> str:
    if not REDIS_URL:
        service_missing("CX_TEST_REDIS_URL is not set")
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as error:
        service_missing(f"Redis is not reachable at {REDIS_URL}: {error}")
    return REDIS_URL


def test_redis_hub_delivers_to_subscribers_of_the_channel_only() -> None:
    url = _redis_url()

    async def scenario() -> tuple[str, bool]:
        prefix = f"cx-test-{uuid.uuid4().hex}:"
        sender, receiver = RedisHub(url, prefix), RedisHub(url, prefix)
        inbox: asyncio.Queue[str] = asyncio.Queue(10)
        other: asyncio.Queue[str] = asyncio.Queue(10)
        await receiver.subscribe("conv:s:1", inbox)
        await receiver.subscribe("conv:s:2", other)
        await sender.publish("conv:s:1", "hello")
        got = await asyncio.wait_for(inbox.get(), 5)
        await receiver.unsubscribe("conv:s:1", inbox)
        await sender.publish("conv:s:1", "after unsubscribe")
        await asyncio.sleep(0.2)
        quiet = inbox.empty() and other.empty()
        await sender.close()
        await receiver.close()
        return got, quiet

    assert asyncio.run(scenario()) == ("hello", True)


def _serve(db: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "cx_sdk.cli", "serve", "--db", db, "--port", str(port)),
            *("--redis", env["CX_REDIS_URL"], "--log-level", "warning"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode() if process.stderr else "died")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"cx serve on {port} did not start")


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[int, int, str, str]]:
    url = _redis_url()
    db = f"sqlite:///{tmp_path / 'cx.db'}"
    store = Store.open(db)
    created = store.create_shop("Zwei Worker")
    from cx_sdk.chat.conversations import Chats

    Chats(store).save_hours(created.shop.id, ALWAYS_OPEN)
    settings_for(store).save(created.shop.id, WidgetConfig("chat", enabled=True))
    store.close()
    first, second = _free_port(), _free_port()
    env = {
        **os.environ,
        "CX_REDIS_URL": url,
        "CX_CHAT_REDIS_PREFIX": f"cx-test-{uuid.uuid4().hex}:",
        "CX_SECRET_KEY": "two-workers",
        "CX_PUBLIC_URL": f"http://127.0.0.1:{first}",
        "CX_PERIODIC_SECONDS": "0",
    }
    processes = [_serve(db, first, env), _serve(db, second, env)]
    try:
        _wait_up(first, processes[0])
        _wait_up(second, processes[1])
        yield first, second, created.shop.id, created.admin_token
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


def test_visitor_on_one_worker_and_agent_on_another_talk_through_redis(
    two_workers: tuple[int, int, str, str],
) -> None:
    from websockets.sync.client import connect

    first, second, shop_id, admin_token = two_workers
    login = httpx.post(
        f"http://127.0.0.1:{second}/console/login",
        data={"token": admin_token},
        headers={"Origin": f"http://127.0.0.1:{second}"},
    )
    assert login.status_code == 303, login.text
    cookie = f"cx_console={login.cookies['cx_console']}"
    with (
        connect(
            f"ws://127.0.0.1:{second}/console/chat/ws",
            origin=f"http://127.0.0.1:{second}",  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
        ) as desk,
        connect(
            f"ws://127.0.0.1:{first}/chat/{shop_id}/ws?locale=en",
            origin=f"http://127.0.0.1:{first}",  # type: ignore[arg-type]
        ) as chat,
    ):
        chat.send(json.dumps({"type": "msg", "body": "hello from worker one"}))
        token = json.loads(chat.recv(5))
        assert token["type"] == "token"
        seen = json.loads(desk.recv(5))
        assert seen["body"] == "hello from worker one" and seen["c"] == token["c"]
        desk.send(json.dumps({"type": "msg", "c": token["c"], "body": "hi from worker two"}))
        frames = [json.loads(chat.recv(5)) for _ in range(2)]
        assert [f["body"] for f in frames] == ["hello from worker one", "hi from worker two"]


def test_the_redis_hub_is_closed_when_the_app_stops(settings: Settings, store: Store) -> None:
    app = create_app(settings.model_copy(update={"redis_url": _redis_url()}), store)
    with TestClient(app):
        hub = hub_of(app.state)
        assert isinstance(hub, RedisHub)
    assert app.state.chat_hub is None
    assert hub._listener is None or hub._listener.done()
