"""The tracking fragment against a bare Starlette app, same load, same run.

    .venv/bin/python bench/widgets.py [--seconds 5] [--rounds 3] [--connections 32] [--big N]

Each server runs alone in a uvicorn subprocess (one worker, access log off); this process is
the load generator: ``--connections`` keep-alive HTTP/1.1 connections issuing requests back
to back. Bare and tracking rounds alternate (median of ``--rounds`` each), first with 10k
stored events, then with ``--big`` (filler events of other customers bulk-inserted into the
events table; the looked-up order is ingested through the real path). Targets (issue 7):
tracking >= 40% of bare throughput, p99 < 30 ms at 32 connections, the big store within 10%
of the small one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EMAIL = "bench@example.de"
SHOP_ID = "shop_bench"


# --- servers (run in subprocesses) -----------------------------------------------------------


def serve_bare(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def hello(request: Request) -> HTMLResponse:
        return HTMLResponse("<section>ok</section>")

    app = Starlette(routes=[Route("/", hello)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_collector(port: int, url: str) -> None:
    import uvicorn

    from cx_sdk.server import Settings, Store, create_app

    settings = Settings(
        database_url=url,
        migrate_on_start=False,
        secret_key="bench-secret",
        public_url=f"http://127.0.0.1:{port}",
    )
    app = create_app(settings, Store.open(url, migrate=False))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- data ------------------------------------------------------------------------------------


def seed_order(url: str) -> None:
    from cx_sdk.events import (
        OrderCompleted,
        ShipmentCreated,
        ShipmentDelivered,
        ShipmentStatusUpdated,
    )
    from cx_sdk.privacy import hash_email
    from cx_sdk.server import Store

    store = Store.open(url)
    if store.get_shop(SHOP_ID) is None:
        store.create_shop("Bench-Laden", shop_id=SHOP_ID)
    t0 = datetime.now(UTC) - timedelta(days=5)
    common: dict[str, Any] = {"order_id": "b-1", "shipment_id": "sh-b-1"}
    messages = [
        OrderCompleted(
            user_id="bench-user",
            timestamp=t0,
            properties={
                "order_id": "b-1",
                "order_number": "#4711",
                "email_hash": hash_email(EMAIL),
                "total": "129.00",
                "currency": "EUR",
            },
        ),
        ShipmentCreated(
            user_id="bench-user",
            timestamp=t0 + timedelta(days=1),
            properties={
                **common,
                "carrier": "DHL",
                "tracking_number": "0034043",
                "tracking_url": "https://www.dhl.de/?piececode=0034043",
                "promised_delivery_date": (t0 + timedelta(days=4)).date().isoformat(),
            },
        ),
        *[
            ShipmentStatusUpdated(
                user_id="bench-user",
                timestamp=t0 + timedelta(days=1, hours=4 * i),
                properties={
                    **common,
                    "status": "in_transit",
                    "location": {"city": f"Hub {i}", "country": "DE"},
                },
            )
            for i in range(1, 6)
        ],
        ShipmentDelivered(
            user_id="bench-user", timestamp=t0 + timedelta(days=3), properties=common
        ),
    ]
    result = store.ingest(SHOP_ID, [message.to_wire() for message in messages])
    assert not result.rejected, result.rejected
    # Orders of 40 products for the recommendations fragment (its counts, not the log).
    baskets = [
        OrderCompleted(
            user_id=f"rec-{i}",
            timestamp=t0,
            properties={
                "order_id": f"rec-{i}",
                "currency": "EUR",
                "products": [
                    {
                        "product_id": f"p-{(i * k) % 40}",
                        "name": f"Produkt {(i * k) % 40}",
                        "price": "19.90",
                        "url": f"https://laden.example/p/{(i * k) % 40}",
                    }
                    for k in (1, 3, 7)
                ],
            },
        ).to_wire()
        for i in range(1, 400)
    ]
    assert not store.ingest(SHOP_ID, baskets).rejected
    store.close()


def fill_events(url: str, total: int) -> int:
    """Bulk-insert other customers' events until the shop holds ``total`` events."""
    from sqlalchemy import func, select

    from cx_sdk.server import Store
    from cx_sdk.server.tables import events

    store = Store.open(url, migrate=False)
    with store.engine.connect() as conn:
        have = int(conn.execute(select(func.count()).select_from(events)).scalar_one())
    now = datetime.now(UTC).replace(tzinfo=None)
    chunk = 20_000
    while have < total:
        rows = []
        for i in range(min(chunk, total - have)):
            n = have + i
            at = now - timedelta(seconds=n)
            body = json.dumps(
                {"type": "track", "event": "Product Viewed", "properties": {"product_id": n}}
            )
            rows.append(
                {
                    "shop_id": SHOP_ID,
                    "message_id": str(uuid.uuid4()),
                    "type": "track",
                    "event": "Product Viewed",
                    "stage": "consideration",
                    "channel": "web",
                    "user_id": f"filler-{n % 50_000}",
                    "anonymous_id": None,
                    "timestamp": at,
                    "original_timestamp": at,
                    "sent_at": None,
                    "received_at": at,
                    "body": body,
                }
            )
        with store.engine.begin() as conn:
            conn.execute(events.insert(), rows)
        have += len(rows)
    store.close()
    return have


# --- load generator --------------------------------------------------------------------------


async def _worker(
    port: int, request: bytes, deadline: float, latencies: list[float], errors: list[str]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status != b"200":
                errors.append(status.decode())
    finally:
        writer.close()


async def _load(port: int, path: str, seconds: float, connections: int) -> dict[str, float]:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept-Language: de\r\n\r\n"
    ).encode()
    warm: list[float] = []
    await asyncio.gather(
        *[_worker(port, request, time.perf_counter() + 1.0, warm, []) for _ in range(4)]
    )
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *[_worker(port, request, deadline, latencies, errors) for _ in range(connections)]
    )
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} non-200 answers, e.g. {errors[0]}")
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "rps": len(ordered) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
    }


def _median(rounds: list[dict[str, float]]) -> dict[str, float]:
    return sorted(rounds, key=lambda row: row["rps"])[len(rounds) // 2]


def _start(args: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, __file__, *args, "--port", str(port)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            asyncio.run(asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1))
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def _measure(
    server: list[str], port: int, path: str, seconds: float, connections: int
) -> dict[str, float]:
    process = _start(server, port)
    try:
        return asyncio.run(_load(port, path, seconds, connections))
    finally:
        process.terminate()
        process.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--port", type=int, default=18731)
    parser.add_argument("mode", nargs="?", default="bench", choices=("bench", "bare", "collector"))
    args = parser.parse_args()
    if args.mode == "bare":
        serve_bare(args.port)
        return 0
    if args.mode == "collector":
        serve_collector(args.port, os.environ["CX_BENCH_DB"])
        return 0

    workdir = tempfile.mkdtemp(prefix="cx-bench-widgets-")
    url = args.db or f"sqlite:///{workdir}/cx.db"
    os.environ["CX_BENCH_DB"] = url
    seed_order(url)
    path = f"/widgets/{SHOP_ID}/tracking?order={quote('#4711')}&email={quote(EMAIL)}&locale=de"
    recs_path = f"/widgets/{SHOP_ID}/recommendations?product=p-1&locale=de"
    rows: list[tuple[str, dict[str, float]]] = []
    recs_rows: list[tuple[str, dict[str, float]]] = []
    n = args.connections
    for size in (args.small, args.big):
        started = time.perf_counter()
        stored = fill_events(url, size)
        print(f"stored events: {stored} (filled in {time.perf_counter() - started:.0f} s)")
        # Alternate the two servers and keep each one's median round: the box is shared, so
        # a single round says more about the neighbours than about the code.
        bare_rounds, tracking_rounds, recs_rounds = [], [], []
        for _ in range(args.rounds):
            bare_rounds.append(_measure(["bare"], args.port, "/", args.seconds, n))
            tracking_rounds.append(_measure(["collector"], args.port + 1, path, args.seconds, n))
            recs_rounds.append(_measure(["collector"], args.port + 2, recs_path, args.seconds, n))
        recs_rows.append((f"recommendations fragment, {stored} events", _median(recs_rounds)))
        bare = _median(bare_rounds)
        tracking = _median(tracking_rounds)
        rows.append((f"bare Starlette ({stored} events stored)", bare))
        rows.append((f"tracking fragment, {stored} events", tracking))
        print(f"  bare     {bare['rps']:8.0f} req/s  p99 {bare['p99_ms']:6.1f} ms")
        print(f"  tracking {tracking['rps']:8.0f} req/s  p99 {tracking['p99_ms']:6.1f} ms")
    print(
        f"\n{n} connections, median of {args.rounds} alternating rounds of {args.seconds:.0f} s,"
        f" {url.split(':')[0]}\n"
    )
    print("| server | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    for name, row in [*rows, *recs_rows]:
        print(f"| {name} | {row['rps']:.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} |")
    small_ratio = rows[1][1]["rps"] / rows[0][1]["rps"]
    big_ratio = rows[3][1]["rps"] / rows[2][1]["rps"]
    print(
        f"\ntracking / bare: {small_ratio:.1%} at {args.small} events, {big_ratio:.1%} at "
        f"{args.big} (target >= 40%); big vs small store, relative to bare in the same "
        f"rounds: {big_ratio / small_ratio - 1:+.1%}; absolute: "
        f"{rows[3][1]['rps'] / rows[1][1]['rps'] - 1:+.1%} (target within 10%)"
    )
    print(
        "recommendations / bare: "
        + ", ".join(
            f"{recs[1]['rps'] / bare[1]['rps']:.1%}"
            for recs, bare in zip(recs_rows, rows[::2], strict=True)
        )
        + " (each render scores candidates from the precomputed counts; impressions are "
        "buffered and stored in the background)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
