"""Live chat fan-out: 1,000 visitor sockets on one worker, an agent reaching them one at a
time and in bursts; the same through Redis with the visitors and the agent on two workers;
against a bare Starlette WebSocket relay (the anchor) in the same run.

    .venv/bin/python bench/chat.py [--sockets 1000] [--samples 300] [--burst 100]
                                   [--redis redis://127.0.0.1:6379/0]

Servers run in uvicorn subprocesses (``cx serve``; the anchor from this file), this process is
the load generator. Latency is from the agent's send to the visitor socket's receive:
``typing`` frames go through the hub only, ``message`` frames are stored and emit journey
events first. Target (issue G): p99 < 50 ms for the fan-out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-chat-secret"
AGENTS = 40


def serve_anchor(port: int) -> None:
    """The anchor: a bare Starlette relay. Each visitor socket registers under an id; the
    agent socket sends {"to": id} and the server forwards the frame to that socket."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    sockets: dict[str, WebSocket] = {}

    async def visitor(ws: WebSocket) -> None:
        await ws.accept()
        key = ws.path_params["key"]
        sockets[key] = ws
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            sockets.pop(key, None)

    async def agent(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                raw = await ws.receive_text()
                target = sockets.get(json.loads(raw)["to"])
                if target is not None:
                    await target.send_text(raw)
        except WebSocketDisconnect:
            pass

    app = Starlette(routes=[WebSocketRoute("/v/{key}", visitor), WebSocketRoute("/agent", agent)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


def _cx(db: str, port: int, public: str, redis: str | None, prefix: str) -> subprocess.Popen[Any]:
    env = {
        **os.environ,
        "CX_SECRET_KEY": SECRET,
        "CX_PUBLIC_URL": public,
        "CX_PERIODIC_SECONDS": "0",
        "CX_CHAT_REDIS_PREFIX": prefix,
        # All the bench's sockets come from one address.
        "CX_CHAT_SOCKETS_PER_IP": "0",
    }
    args = [sys.executable, "-m", "cx_sdk.cli", "serve", "--db", db, "--port", str(port)]
    args += ["--log-level", "warning"] + (["--redis", redis] if redis else [])
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)


def _seed(db: str, count: int) -> tuple[str, str, list[str]]:
    """A shop with ``count`` open conversations (rows written directly: this is setup)."""
    from datetime import UTC, datetime

    from cx_sdk.chat.conversations import Chats
    from cx_sdk.chat.hours import Day, Hours
    from cx_sdk.chat.tables import chat_conversations
    from cx_sdk.server import Store
    from cx_sdk.widgets.config import WidgetConfig
    from cx_sdk.widgets.registry import settings_for

    store = Store.open(db)
    created = store.create_shop("Bench")
    # The chat starts switched off for a new shop.
    settings_for(store).save(created.shop.id, WidgetConfig("chat", enabled=True))
    Chats(store).save_hours(created.shop.id, Hours(days=(Day("open"),) * 7))
    now = datetime.now(UTC).replace(tzinfo=None)
    ids = [uuid.uuid4().hex[:16] for _ in range(count)]
    with store.engine.begin() as conn:
        conn.execute(
            chat_conversations.insert(),
            [
                {
                    "id": cid,
                    "shop_id": created.shop.id,
                    "anonymous_id": f"chat-{cid}",
                    "locale": "de",
                    "status": "open",
                    "started_at": now,
                    "last_activity_at": now,
                }
                for cid in ids
            ],
        )
    store.close()
    return created.shop.id, created.admin_token, ids


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(
    sockets: dict[str, Any],
    send: Callable[[str], Awaitable[None]],
    samples: int,
    burst: int,
) -> dict[str, float]:
    """Latency of one frame to one socket, sequentially and in bursts to distinct sockets."""
    keys = list(sockets)
    waiting: dict[str, asyncio.Future[float]] = {}

    async def reader(key: str, ws: Any) -> None:
        async for _ in ws:
            future = waiting.pop(key, None)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())

    readers = [asyncio.create_task(reader(k, ws)) for k, ws in sockets.items()]
    loop = asyncio.get_running_loop()
    single: list[float] = []
    for _ in range(samples):
        key = random.choice(keys)
        waiting[key] = loop.create_future()
        start = time.perf_counter()
        await send(key)
        single.append((await asyncio.wait_for(waiting[key], 10)) - start)
    bursts: list[float] = []
    for _ in range(max(1, samples // burst)):
        chosen = random.sample(keys, burst)
        futures = {key: loop.create_future() for key in chosen}
        waiting.update(futures)
        start = time.perf_counter()
        for key in chosen:
            await send(key)
        done = await asyncio.wait_for(asyncio.gather(*futures.values()), 30)
        bursts += [at - start for at in done]
    for task in readers:
        task.cancel()
    ms = 1000.0
    return {
        "p50": statistics.median(single) * ms,
        "p99": _pct(single, 0.99) * ms,
        "burst_p50": statistics.median(bursts) * ms,
        "burst_p99": _pct(bursts, 0.99) * ms,
    }


async def _anchor_run(port: int, count: int, samples: int, burst: int) -> dict[str, float]:
    from websockets.asyncio.client import connect

    sockets = {str(i): await connect(f"ws://127.0.0.1:{port}/v/{i}") for i in range(count)}
    agent = await connect(f"ws://127.0.0.1:{port}/agent")

    async def send(key: str) -> None:
        await agent.send(json.dumps({"to": key, "type": "typing"}))

    try:
        return await _measure(sockets, send, samples, burst)
    finally:
        for ws in [*sockets.values(), agent]:
            await ws.close()


async def _cx_run(
    visitor_port: int,
    agent_port: int,
    shop_id: str,
    admin_token: str,
    ids: list[str],
    samples: int,
    burst: int,
) -> dict[str, dict[str, float]]:
    import httpx
    from websockets.asyncio.client import connect

    from cx_sdk.chat.visitor import conversation_token
    from cx_sdk.server import Settings
    from cx_sdk.widgets.tokens import shop_key

    key = shop_key(None, Settings(secret_key=SECRET), _Shop(shop_id))  # type: ignore[arg-type]
    public = f"http://127.0.0.1:{visitor_port}"
    sockets = {}
    for cid in ids:
        token = conversation_token(key, shop_id, cid)
        sockets[cid] = await connect(
            f"ws://127.0.0.1:{visitor_port}/chat/{shop_id}/ws?t={token}&after=0",
            origin=public,  # type: ignore[arg-type]
        )
    async with httpx.AsyncClient() as http:
        login = await http.post(
            f"http://127.0.0.1:{agent_port}/console/login",
            data={"token": admin_token},
            headers={"Origin": f"http://127.0.0.1:{agent_port}"},
        )
    # Each agent socket may send 30 frames at once, then 5 a second: the load is spread over
    # a pool of agents, as a busy shop's team would be.
    agents = [
        await connect(
            f"ws://127.0.0.1:{agent_port}/console/chat/ws",
            origin=f"http://127.0.0.1:{agent_port}",  # type: ignore[arg-type]
            additional_headers={"Cookie": f"cx_console={login.cookies['cx_console']}"},
        )
        for _ in range(AGENTS)
    ]
    drains = [asyncio.create_task(_drain(agent)) for agent in agents]
    turn = iter(range(10**9))

    def agent() -> Any:
        return agents[next(turn) % AGENTS]

    async def typing(cid: str) -> None:
        await agent().send(json.dumps({"type": "typing", "c": cid}))

    async def message(cid: str) -> None:
        await agent().send(json.dumps({"type": "msg", "c": cid, "body": "Danke für Ihre Geduld"}))

    try:
        return {
            "typing": await _measure(sockets, typing, samples, burst),
            "message": await _measure(sockets, message, samples, burst),
        }
    finally:
        for task in drains:
            task.cancel()
        for ws in [*sockets.values(), *agents]:
            await ws.close()


class _Shop:
    def __init__(self, shop_id: str) -> None:
        self.id = shop_id
        self.secrets: dict[str, str] = {}


async def _drain(ws: Any) -> None:
    async for _ in ws:
        pass


def _row(name: str, result: dict[str, float], anchor: dict[str, float]) -> str:
    return (
        f"| {name} | {result['p50']:.2f} | {result['p99']:.2f} "
        f"| {result['p99'] / anchor['p99']:.1f} "
        f"| {result['burst_p50']:.1f} | {result['burst_p99']:.1f} "
        f"| {result['burst_p99'] / anchor['burst_p99']:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--redis", default=os.environ.get("CX_TEST_REDIS_URL"))
    parser.add_argument("--anchor", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.anchor:
        serve_anchor(args.anchor)
        return
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        anchor = subprocess.Popen([sys.executable, __file__, "--anchor", str(port)])
        try:
            time.sleep(1.5)
            results["anchor"] = asyncio.run(
                _anchor_run(port, args.sockets, args.samples, args.burst)
            )
        finally:
            anchor.terminate()
            anchor.wait()

        db = f"sqlite:///{tmp}/chat.db"
        shop_id, admin, ids = _seed(db, args.sockets)
        port = _free_port()
        public = f"http://127.0.0.1:{port}"
        server = _cx(db, port, public, None, "")
        try:
            _wait(port)
            one = asyncio.run(_cx_run(port, port, shop_id, admin, ids, args.samples, args.burst))
            results["cx typing, 1 worker"] = one["typing"]
            results["cx message, 1 worker"] = one["message"]
        finally:
            server.terminate()
            server.wait()

        if args.redis:
            db = f"sqlite:///{tmp}/chat-redis.db"
            shop_id, admin, ids = _seed(db, args.sockets)
            first, second = _free_port(), _free_port()
            public = f"http://127.0.0.1:{first}"
            prefix = f"cx-bench-{uuid.uuid4().hex}:"
            servers = [
                _cx(db, first, public, args.redis, prefix),
                _cx(db, second, public, args.redis, prefix),
            ]
            try:
                _wait(first)
                _wait(second)
                two = asyncio.run(
                    _cx_run(first, second, shop_id, admin, ids, args.samples, args.burst)
                )
                results["cx typing, Redis, 2 workers"] = two["typing"]
                results["cx message, Redis, 2 workers"] = two["message"]
            finally:
                for server in servers:
                    server.terminate()
                for server in servers:
                    server.wait()

    base = results["anchor"]
    print(
        f"\n{args.sockets} visitor sockets, {args.samples} sequential samples, "
        f"bursts of {args.burst} (latency in ms)\n"
    )
    print("| path | p50 | p99 | p99 ratio | burst p50 | burst p99 | burst p99 ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, result in results.items():
        print(_row(name, result, base))


if __name__ == "__main__":
    main()
