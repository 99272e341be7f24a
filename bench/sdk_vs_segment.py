"""cx_sdk.Client against Segment's analytics-python, same events, same sink, same run.

    .venv/bin/python bench/sdk_vs_segment.py [-n 20000]

A parse-only sink (gzip aware, counts events per write key) runs in a subprocess so the
clients do not share its GIL. For each client: the caller loop is timed (µs per ``track``
including cx's catalog validation), then end-to-end is the time until the sink has parsed
every event.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROPERTIES: dict[str, Any] = {
    "order_id": "o-1001",
    "total": 59.9,
    "revenue": 50.0,
    "shipping": 5.0,
    "tax": 4.9,
    "currency": "EUR",
    "products": [
        {"product_id": "p1", "sku": "S1", "name": "Shirt", "price": 19.95, "quantity": 2},
        {"product_id": "p2", "sku": "S2", "name": "Cap", "price": 10.0, "quantity": 1},
    ],
}


def run_sink() -> None:
    counts: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, data: dict[str, Any]) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            batch = json.loads(raw)["batch"]
            key = self.headers.get("Authorization", "")
            counts[key] = counts.get(key, 0) + len(batch)
            self._answer(200, {"success": True})

        def do_GET(self) -> None:
            self._answer(200, {"counts": counts})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def received(port: int, key: str) -> int:
    import base64

    header = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
        counts: dict[str, int] = json.loads(response.read())["counts"]
    return counts.get(header, 0)


def wait_for(port: int, key: str, n: int, start: float, limit: float = 60.0) -> float:
    while received(port, key) < n:
        if time.perf_counter() - start > limit:
            raise SystemExit(f"{key}: only {received(port, key)} of {n} events arrived")
        time.sleep(0.005)
    return time.perf_counter() - start


def bench_segment(port: int, n: int) -> tuple[float, float]:
    from segment.analytics import Client

    client = Client("segment", host=f"http://127.0.0.1:{port}", max_queue_size=n + 1)
    start = time.perf_counter()
    for i in range(n):
        client.track(f"user-{i % 100}", "Order Completed", PROPERTIES)
    caller = time.perf_counter() - start
    client.flush()
    total = wait_for(port, "segment", n, start)
    client.join()
    return caller / n * 1e6, n / total


def bench_cx(port: int, n: int, key: str, **options: Any) -> tuple[float, float]:
    import cx_sdk

    client = cx_sdk.Client(key, f"http://127.0.0.1:{port}", max_queue_size=n + 1, **options)
    start = time.perf_counter()
    for i in range(n):
        client.track("Order Completed", user_id=f"user-{i % 100}", properties=PROPERTIES)
    caller = time.perf_counter() - start
    client.flush()
    total = wait_for(port, key, n, start)
    stats = client.stats()
    client.close()
    assert stats["dropped_total"] == 0, stats
    return caller / n * 1e6, n / total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20_000, help="events per client")
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        run_sink()
        return 0
    sink = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--sink"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline())
        seg_caller, seg_rate = bench_segment(port, args.n)
        cx_caller, cx_rate = bench_cx(port, args.n, "cx")
        extra = {
            "cx, validate_in='caller'": bench_cx(port, args.n, "cx-caller", validate_in="caller"),
        }
        with tempfile.TemporaryDirectory() as tmp:
            extra["cx, spool_path=… (SQLite)"] = bench_cx(
                port, args.n, "cx-spool", spool_path=os.path.join(tmp, "outbox.db")
            )
    finally:
        sink.terminate()
        sink.wait()
    print(f"events per client: {args.n} typed Order Completed (2 products), one local sink")
    print(f"{'client':<32}{'caller µs/event':>16}{'end-to-end ev/s':>17}")
    print(f"{'segment-analytics-python':<32}{seg_caller:>16.1f}{seg_rate:>17,.0f}")
    print(f"{'cx_sdk.Client (default)':<32}{cx_caller:>16.1f}{cx_rate:>17,.0f}")
    for label, (caller, rate) in extra.items():
        print(f"{label:<32}{caller:>16.1f}{rate:>17,.0f}")
    print(f"caller cost ratio cx/segment: {cx_caller / seg_caller:.2f} (target ≤ 0.20)")
    print(f"end-to-end ratio cx/segment:  {cx_rate / seg_rate:.2f}x (target ≥ 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
