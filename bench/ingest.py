"""Ingest throughput: ``cx serve`` against a parse-only Starlette sink, same load, same run.

    .venv/bin/python bench/ingest.py [--batches 400] [--rounds 3] [--postgres URL]

Both servers run as uvicorn with one worker in their own process; a third process (the load
generator) posts the same pre-built 100-event Segment batches to each and reports events/s.
The parse-only sink reads and JSON-parses each body and answers 200: the ceiling any
collector on this machine, with this generator, can reach. cx additionally authenticates,
validates every event against the catalog, dedupes, stores and updates projections.

cx answers once the events and the core projections are stored; the analytics and
recommendations projectors follow from a backlog (``server/follower.py``; on SQLite in a child
process of the server). "projected/s" counts until that backlog is empty too, and the inline
row runs them inside ingest (``CX_DEFER_PROJECTIONS=false``) for comparison. "server CPU" is the
CPU time per event of the server process and its follower process over the load and the
backlog's drain (Linux): a sink that needs a few µs per event is not the limit of its own
rate, the load generator is.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def sink_app() -> Any:
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def batch(request: Request) -> Response:
        body = orjson.loads(await request.body())
        return Response(orjson.dumps({"success": True, "accepted": len(body["batch"])}))

    return Starlette(routes=[Route("/v1/batch", batch, methods=["POST"])])


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited")
        try:
            httpx.get(f"{base}/v1/batch", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _batches(count: int, run: str) -> list[bytes]:
    bodies = []
    for b in range(count):
        batch = [
            {
                "type": "track",
                "event": "Order Completed" if n % 10 == 0 else "Product Viewed",
                "messageId": f"{run}-{b}-{n}",
                "userId": f"user-{(b * 100 + n) % 5000}",
                "timestamp": "2026-11-23T10:00:00.000Z",
                "properties": (
                    {"order_id": f"{run}-{b}-{n}", "total": 59.9, "currency": "EUR"}
                    if n % 10 == 0
                    else {
                        "product_id": f"p{n}",
                        "name": "Wanderschuh",
                        "price": 129.9,
                        "currency": "EUR",
                    }
                ),
                "context": {"library": {"name": "bench", "version": "1"}},
            }
            for n in range(100)
        ]
        bodies.append(json.dumps({"batch": batch, "sentAt": "2026-11-23T10:00:00Z"}).encode())
    return bodies


def load(url: str, key: str, bodies_path: str, concurrency: int) -> None:
    """The load generator (run in its own process): post every body, print the rate."""
    bodies = json.loads(Path(bodies_path).read_text())
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()

    async def main() -> None:
        queue = list(reversed(bodies))
        failures = 0
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:

            async def worker() -> None:
                nonlocal failures
                while queue:
                    body = queue.pop().encode()
                    response = await client.post(url, content=body, headers={"Authorization": auth})
                    if response.status_code != 200 or response.json().get("accepted") != 100:
                        failures += 1

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - start
        print(json.dumps({"seconds": elapsed, "events": len(bodies) * 100, "failures": failures}))

    asyncio.run(main())


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU so far of a process and its live children (the follower process of
    ``cx serve`` on SQLite); Linux ``/proc``, None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            children = [int(child) for child in handle.read().split()]
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_cpu_seconds(child) or 0.0 for child in children)


def _backlog(database: str) -> int:
    """Batches the projectors have yet to see."""
    from cx_sdk.server import Store, follower

    store = Store.open(database, migrate=False)
    try:
        return follower.backlog(store)[0]
    finally:
        store.close()


def measure(
    target: str, database: str | None, args: argparse.Namespace, extra_env: dict[str, str]
) -> dict[str, Any]:
    port = _port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, **extra_env}
    key = "sink"
    if target == "sink":
        command = [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
            "import uvicorn; from bench.ingest import sink_app; "
            f"uvicorn.run(sink_app(), port={port}, log_level='warning')",
        ]
    else:
        assert database is not None
        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "cx_sdk.cli",
                "shops",
                "create",
                "Bench",
                "--json",
                "--db",
                database,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        key = json.loads(created.stdout)["write_key"]
        command = [
            sys.executable,
            "-m",
            "cx_sdk.cli",
            "serve",
            "--db",
            database,
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        _wait(base, server)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            run = uuid.uuid4().hex[:8]
            json.dump([body.decode() for body in _batches(args.batches, run)], handle)
        started = _cpu_seconds(server.pid)
        result = subprocess.run(
            [
                sys.executable,
                __file__,
                "--load",
                f"{base}/v1/batch",
                key,
                handle.name,
                str(args.concurrency),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        os.unlink(handle.name)
        data: dict[str, Any] = json.loads(result.stdout)
        data["rate"] = data["events"] / data["seconds"]
        data["projected"] = data["rate"]
        if database is not None:
            waited = time.monotonic()
            while _backlog(database) and time.monotonic() - waited < 600:
                time.sleep(0.05)
            data["projected"] = data["events"] / (data["seconds"] + time.monotonic() - waited)
        ended = _cpu_seconds(server.pid)
        # The server's own CPU per event, projection included: how far the server is from
        # being the limit (the sink's is a few µs: its rate is the load generator's).
        data["cpu_us"] = (
            None if started is None or ended is None else (ended - started) / data["events"] * 1e6
        )
        return data
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("CX_BENCH_POSTGRES_URL"),
        help="also measure cx serve on this PostgreSQL URL (empty schema)",
    )
    parser.add_argument("--load", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        url, key, path, concurrency = args.load
        load(url, key, path, int(concurrency))
        return
    # Rounds alternate the targets and each keeps its median: on a shared machine a burst of
    # load then hits all of them alike instead of one.
    inline = {"CX_DEFER_PROJECTIONS": "false"}
    targets: list[tuple[str, str, str | None, dict[str, str]]] = [
        ("parse-only sink", "sink", None, {})
    ]
    rounds: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        targets.append(("cx serve, SQLite", "cx", f"sqlite:///{tmp}/bench.db", {}))
        targets.append(("cx, SQLite, inline", "cx", f"sqlite:///{tmp}/inline.db", inline))
        if args.postgres:
            targets.append(("cx serve, PostgreSQL", "cx", args.postgres, {}))
            targets.append(("cx, PostgreSQL, inline", "cx", args.postgres, inline))
        for _ in range(args.rounds):
            for name, target, database, env in targets:
                rounds.setdefault(name, []).append(measure(target, database, args, env))
    rows = [(name, _median(rounds[name])) for name, *_ in targets]
    ceiling = rows[0][1]["rate"]
    print(
        f"{args.batches} batches × 100 events, {args.concurrency} connections, 1 worker each, "
        f"median of {args.rounds} alternating rounds"
    )
    print(
        f"{'target':24} {'stored/s':>10} {'ratio':>7} {'projected/s':>12} {'ratio':>7} "
        f"{'server CPU µs/event':>20} {'failed batches':>15}"
    )
    for name, data in rows:
        cpu = "—" if data["cpu_us"] is None else f"{data['cpu_us']:.1f}"
        print(
            f"{name:24} {data['rate']:10,.0f} {data['rate'] / ceiling:7.2f} "
            f"{data['projected']:12,.0f} {data['projected'] / ceiling:7.2f} {cpu:>20} "
            f"{data['failures']:>15}"
        )


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(results, key=lambda data: float(data["rate"]))
    return ordered[(len(ordered) - 1) // 2]


if __name__ == "__main__":
    main()
