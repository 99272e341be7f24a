"""The recommendations fragment of two checkouts against each other and bare Starlette.

    .venv/bin/python bench/widgets_ab.py OLD_CHECKOUT NEW_CHECKOUT [--rounds 5] [--seconds 5]

Before/after on a shared machine: one store (``bench/widgets.py`` data, 10 k events), each
checkout's own collector in a subprocess (``bench/widgets.py collector`` of that
checkout), bare Starlette as the anchor, the three alternating round by round; medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import widgets


def _round(command: list[str], port: int, path: str, seconds: float) -> dict[str, float]:
    process = subprocess.Popen([*command, "--port", str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command} did not start") from None
                time.sleep(0.1)
        return asyncio.run(widgets._load(port, path, seconds, 32))
    finally:
        process.terminate()
        process.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=19500)
    args = parser.parse_args()
    url = f"sqlite:///{tempfile.mkdtemp(prefix='cx-bench-ab-')}/cx.db"
    os.environ["CX_BENCH_DB"] = url
    widgets.seed_order(url)
    widgets.fill_events(url, 10_000)
    fragment = f"/widgets/{widgets.SHOP_ID}/recommendations?product=p-1&locale=de"
    servers = {
        "bare Starlette": ([sys.executable, widgets.__file__, "bare"], "/"),
        **{
            f"fragment, {name} ({tree})": (
                [sys.executable, str(Path(tree) / "bench" / "widgets.py"), "collector"],
                fragment,
            )
            for name, tree in (("old", args.old), ("new", args.new))
        },
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
    port = args.port
    for _ in range(args.rounds):
        for name, (command, path) in servers.items():
            port += 1
            results[name].append(_round(command, port, path, args.seconds))
    print(f"\n32 connections, {args.rounds} alternating rounds of {args.seconds:.0f} s, medians\n")
    print("| server | req/s | p99 ms | req/s per round |")
    print("|---|---|---|---|")
    for name, rows in results.items():
        rps = statistics.median(row["rps"] for row in rows)
        p99 = statistics.median(row["p99_ms"] for row in rows)
        each = ", ".join(f"{row['rps']:.0f}" for row in rows)
        print(f"| {name} | {rps:.0f} | {p99:.0f} | {each} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
