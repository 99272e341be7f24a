"""The recommendations fragment rendered in one process: microseconds per render.

    .venv/bin/python bench/recs_render.py [--tree CHECKOUT] [--renders 400] [--rounds 5]
                                          [--url DATABASE_URL] [--query QUERY]

The collector app of ``--tree`` (default: this checkout) is called as ASGI in a loop, the
render in the thread pool as under uvicorn, on ``bench/widgets.py``'s data (40 products, 399
orders; seeded into a fresh SQLite file unless ``--url`` names a seeded store). No sockets and
no load generator: on a shared machine this is steadier than ``bench/widgets_ab.py``. Prints
each round's mean and their median; run it on two checkouts alternately for a before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


async def _render(app: Any, path: str, query: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    status: list[int] = []
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await app(scope, receive, send)
    return status[0], b"".join(body)


async def _measure(app: Any, query: bytes, renders: int, rounds: int) -> list[float]:
    import widgets

    path = f"/widgets/{widgets.SHOP_ID}/recommendations"
    results = []
    # Started and stopped as under uvicorn (the impressions' writer, the follower).
    async with app.router.lifespan_context(app):
        status, body = await _render(app, path, query)
        if status != 200:
            raise RuntimeError(f"the fragment answered {status}: {body[:200]!r}")
        for _ in range(50):
            await _render(app, path, query)
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(renders):
                await _render(app, path, query)
            results.append((time.perf_counter() - start) / renders * 1e6)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT)
    parser.add_argument("--renders", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--url", default="")
    parser.add_argument("--query", default="product=p-1&locale=de")
    args = parser.parse_args()
    # The checkout's cx_sdk (imported first: ``widgets`` puts this checkout on the path),
    # this checkout's data: both sides of a comparison seed alike.
    sys.path[:0] = [str(args.tree.resolve()), str(ROOT / "bench")]
    import cx_sdk
    from cx_sdk.server import Settings, Store, create_app

    widgets = importlib.import_module("widgets")
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='cx-bench-recs-')}/cx.db"
    if not args.url:
        widgets.seed_order(url)
    settings = Settings(
        database_url=url,
        migrate_on_start=False,
        secret_key="bench-secret",
        public_url="http://127.0.0.1:1",
    )
    app = create_app(settings, Store.open(url, migrate=False))
    results = asyncio.run(_measure(app, args.query.encode(), args.renders, args.rounds))
    each = " ".join(f"{value:.0f}" for value in results)
    tree = Path(cx_sdk.__file__).parent.parent
    print(f"{tree}: {statistics.median(results):.0f} us per render (rounds: {each})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
