"""The KPI endpoint and the dashboard page over a big event log, against a bare Starlette route.

    .venv/bin/python bench/dashboard.py [--events 1000000] [--requests 200] [--db PATH]

Generation (SQLite): a year of customer journeys (the demo's journey model, plus chats and
recommendations) is bulk-inserted into the event log with the collector's own order and
shipment projections, then ``cx analytics rebuild`` folds it into the aggregates; both steps
are timed. A kept ``--db`` is reused (no regeneration).

Measurement: one uvicorn subprocess serves the collector (one worker, access log off); this
process sends ``--requests`` sequential requests per endpoint after a warm-up and prints
p50/p95 of GET /api/v1/kpis (default period: the last 30 days), of a 365-day KPI call, of
/console/dashboard, and of a bare Starlette JSON route served by another subprocess in the same
run, with the ratios, and the server process's CPU time per request (from /proc on Linux: on a
shared machine wall times grow with the load, CPU time hardly). Target (issue I): dashboard
answers in < 300 ms (p95) with 1M events.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHOP_ID = "shop_bench"


# --- generation -------------------------------------------------------------------------------


def _journeys(rng: random.Random, today: date, index: int) -> list[dict[str, Any]]:
    from cx_sdk.server.demo import customer_journey

    end = today - timedelta(days=rng.randint(0, 300))
    messages = customer_journey(index, rng, end)
    anonymous = messages[0]["anonymousId"]
    at = messages[-1]["timestamp"]
    if rng.random() < 0.3:
        strategy = rng.choice(["similar", "popular", "bought_together"])
        for n in range(rng.randint(1, 3)):
            messages.append(
                {
                    "type": "track",
                    "event": "Recommendation Shown",
                    "messageId": f"rec-{index}-{n}",
                    "timestamp": at,
                    "anonymousId": anonymous,
                    "properties": {"strategy": strategy},
                    "context": {"channel": "web"},
                }
            )
        if rng.random() < 0.3:
            messages.append(
                {
                    "type": "track",
                    "event": "Recommendation Clicked",
                    "messageId": f"recc-{index}",
                    "timestamp": at,
                    "anonymousId": anonymous,
                    "properties": {"strategy": strategy, "product_id": "sku-1001"},
                    "context": {"channel": "web"},
                }
            )
    if rng.random() < 0.1:
        messages.append(
            {
                "type": "track",
                "event": "Live Chat Conversation Ended",
                "messageId": f"chat-{index}",
                "timestamp": at,
                "anonymousId": anonymous,
                "properties": {
                    "conversation_id": f"conv-{index}",
                    "first_response_seconds": rng.randint(5, 300),
                    "conversation_duration": rng.randint(60, 3600),
                },
                "context": {"channel": "chat"},
            }
        )
    return messages


def _prepared(message: dict[str, Any], received: datetime) -> Any:
    from cx_sdk.events import CATALOG
    from cx_sdk.server.ingest_rules import Prepared

    moment = datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))
    moment = moment.astimezone(UTC).replace(tzinfo=None)
    model = CATALOG.get(message.get("event") or "")
    stage = model.stage.value if model is not None and model.stage else None
    if message["type"] == "page":
        stage = None
    return Prepared(
        message_id=message["messageId"],
        type=message["type"],
        event=message.get("event"),
        stage=stage,
        channel=(message.get("context") or {}).get("channel", "web"),
        user_id=message.get("userId"),
        anonymous_id=message.get("anonymousId"),
        timestamp=moment,
        original_timestamp=moment,
        sent_at=None,
        received_at=received,
        wire=message,
        traits=dict(message.get("traits") or {}),
        consent=None,
    )


def generate(url: str, total: int) -> dict[str, float]:
    """Bulk-insert about ``total`` events with the core projections, then rebuild analytics."""
    from cx_sdk.analytics.rebuild import rebuild
    from cx_sdk.server import projections
    from cx_sdk.server.store import Store
    from cx_sdk.server.tables import events

    store = Store.open(url)
    if store.get_shop(SHOP_ID) is None:
        store.create_shop("Bench", shop_id=SHOP_ID)
    rng = random.Random(20261123)
    today = datetime.now(UTC).date()
    received = datetime.now(UTC).replace(tzinfo=None)
    started = time.perf_counter()
    stored, index = 0, 0
    while stored < total:
        chunk: list[Any] = []
        while len(chunk) < 20_000 and stored + len(chunk) < total:
            chunk += [_prepared(m, received) for m in _journeys(rng, today, index)]
            index += 1
        with store.begin() as conn:
            conn.execute(events.insert(), [item.row(SHOP_ID) for item in chunk])
            store._link_identities(conn, SHOP_ID, chunk)
            projections.project(conn, SHOP_ID, chunk, store.upsert)
        stored += len(chunk)
        print(f"\r  stored {stored:,} events", end="", flush=True)
    inserted = time.perf_counter() - started
    print()
    started = time.perf_counter()
    rebuild(store, SHOP_ID, progress=lambda n: print(f"\r  rebuilt {n:,}", end="", flush=True))
    rebuilt = time.perf_counter() - started
    print()
    store.close()
    return {"events": stored, "insert_s": inserted, "rebuild_s": rebuilt}


# --- servers (subprocesses) ----------------------------------------------------------------


def serve_bare(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/", hello)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_collector(port: int, url: str) -> None:
    import uvicorn

    from cx_sdk.server import Settings, Store, create_app

    settings = Settings(
        database_url=url,
        migrate_on_start=False,
        public_url=f"http://127.0.0.1:{port}",
        secret_key="bench-secret",
        periodic_seconds=0,
    )
    app = create_app(settings, Store.open(url, migrate=False))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _start(kind: str, port: int, url: str = "") -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port), "--db-url", url]
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{kind} server did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process (Linux): unlike wall time, it does not grow with
    what else runs on a shared machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def measure(
    client: httpx.Client, path: str, count: int, pid: int | None = None, **kwargs: Any
) -> dict[str, float]:
    for _ in range(5):
        client.get(path, **kwargs).raise_for_status()
    times = []
    cpu_before = _cpu_seconds(pid)
    for _ in range(count):
        started = time.perf_counter()
        client.get(path, **kwargs).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    cpu_after = _cpu_seconds(pid)
    times.sort()
    cpu = (
        float("nan")
        if cpu_before is None or cpu_after is None
        else (cpu_after - cpu_before) * 1000 / count
    )
    return {
        "p50": statistics.median(times),
        "p95": times[min(len(times) - 1, int(len(times) * 0.95))],
        "cpu": cpu,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--db", help="SQLite file to create or reuse (default: a temp file)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "bare":
        serve_bare(args.port)
        return 0
    if args.serve == "collector":
        serve_collector(args.port, args.db_url)
        return 0

    from cx_sdk.server.store import Store

    path = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "bench.db"
    url = f"sqlite:///{path}"
    fresh = not path.exists()
    if fresh:
        print(f"generating ~{args.events:,} events into {path} …")
        made = generate(url, args.events)
        print(
            f"  {made['events']:,.0f} events: bulk insert with core projections "
            f"{made['insert_s']:.0f} s, cx analytics rebuild {made['rebuild_s']:.0f} s "
            f"({made['events'] / made['rebuild_s']:,.0f} events/s)"
        )
    store = Store.open(url)
    stored = store.count_events(SHOP_ID)
    token = store.rotate_key(SHOP_ID, "admin")
    store.close()

    bare_port, app_port = _free_port(), _free_port()
    bare = _start("bare", bare_port)
    app = _start("collector", app_port, url)
    try:
        auth = {"Authorization": f"Bearer {token}"}
        today = datetime.now(UTC).date()
        year = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()}
        with httpx.Client(base_url=f"http://127.0.0.1:{app_port}", timeout=30) as client:
            login = client.post(
                "/console/login",
                data={"token": token},
                headers={"Origin": f"http://127.0.0.1:{app_port}"},
            )
            assert login.status_code in (200, 303), login.status_code
            results = {
                "GET /api/v1/kpis (30 days)": measure(
                    client, "/api/v1/kpis", args.requests, app.pid, headers=auth
                ),
                "GET /api/v1/kpis (365 days)": measure(
                    client,
                    "/api/v1/kpis",
                    max(20, args.requests // 5),
                    app.pid,
                    headers=auth,
                    params=year,
                ),
                "GET /console/dashboard (30 days)": measure(
                    client, "/console/dashboard", args.requests, app.pid
                ),
            }
        with httpx.Client(base_url=f"http://127.0.0.1:{bare_port}", timeout=30) as client:
            anchor = measure(client, "/", args.requests, bare.pid)
    finally:
        for process in (bare, app):
            process.terminate()
            process.wait(10)
    print(f"\n{stored:,} stored events, {args.requests} sequential requests each\n")
    print(
        f"{'endpoint':36} {'p50 ms':>8} {'p95 ms':>8} {'p50 / bare':>11} {'p95 / bare':>11} "
        f"{'server CPU ms/request':>22}"
    )
    for name, value in [*results.items(), ("bare Starlette JSON (anchor)", anchor)]:
        print(
            f"{name:36} {value['p50']:8.1f} {value['p95']:8.1f} "
            f"{value['p50'] / anchor['p50']:11.1f} {value['p95'] / anchor['p95']:11.1f} "
            f"{value['cpu']:22.1f}"
        )
    worst = max(v["p95"] for k, v in results.items() if "30 days" in k)
    print(f"\ntarget: dashboard and KPI p95 < 300 ms → {'met' if worst < 300 else 'NOT met'}")
    if not args.db:
        os.unlink(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
