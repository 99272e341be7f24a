"""``cx analytics``: rebuild the aggregates from the event log, rescore personas, print KPIs.

cx analytics rebuild [--shop ID]            (every shop when none is given)
cx analytics rescore [--shop ID]
cx analytics kpis --shop ID [--from DAY] [--to DAY] [--bucket day|week|month]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from ..server.settings import DEFAULT_DATABASE_URL, Settings
from ..server.store import Store
from .api import read_report
from .jobs import rescore_shop
from .kpis import PeriodError, choose_bucket, parse_period
from .rebuild import rebuild


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cx analytics", description="journey analytics")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    db_help = f"database URL (default $CX_DATABASE_URL or {DEFAULT_DATABASE_URL})"
    for action, text in (
        ("rebuild", "drop a shop's aggregates and replay its event log"),
        ("rescore", "rescore the RFM personas now"),
    ):
        command = sub.add_parser(action, help=text)
        command.add_argument("--shop", help="shop id (default: every shop)")
        command.add_argument("--db", help=db_help)
    kpis = sub.add_parser("kpis", help="print the KPIs of a period as JSON")
    kpis.add_argument("--shop", required=True, help="shop id")
    kpis.add_argument("--from", dest="start", help="first day, e.g. 2026-11-01")
    kpis.add_argument("--to", dest="end", help="last day (default today)")
    kpis.add_argument("--bucket", choices=("day", "week", "month"))
    kpis.add_argument("--db", help=db_help)
    return parser


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    store = Store.open(args.db or Settings.from_env().database_url or DEFAULT_DATABASE_URL)
    try:
        if args.shop and store.get_shop(args.shop) is None:
            print(f"cx analytics: no shop {args.shop!r} (see cx shops list)", file=sys.stderr)
            return 1
        shop_ids = [args.shop] if args.shop else [shop.id for shop in store.list_shops()]
        if args.action == "rebuild":
            for shop_id in shop_ids:
                started = time.perf_counter()
                count = rebuild(store, shop_id)
                seconds = time.perf_counter() - started
                print(f"{shop_id}: {count} events replayed in {seconds:.1f} s")
        elif args.action == "rescore":
            for shop_id in shop_ids:
                print(f"{shop_id}: {rescore_shop(store, shop_id, force=True)} customers rescored")
        else:
            try:
                period = parse_period(args.start, args.end, datetime.now(UTC).date())
                bucket = choose_bucket(period, args.bucket)
            except PeriodError as error:
                print(f"cx analytics: {error}", file=sys.stderr)
                return 2
            data = read_report(store, args.shop, period, bucket)
            print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    finally:
        store.close()
