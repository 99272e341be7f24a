"""``cx widgets``: the console's switches for scripts.

cx widgets list --shop ID [--json]
cx widgets enable NAME --shop ID
cx widgets disable NAME --shop ID
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict

from ..server.settings import DEFAULT_DATABASE_URL, Settings
from ..server.store import Store
from .config import ConfigError
from .registry import WIDGETS, settings_for


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cx widgets", description="switch storefront widgets")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--shop", required=True, help="shop id")
        p.add_argument(
            "--db", help=f"database URL (default $CX_DATABASE_URL or {DEFAULT_DATABASE_URL})"
        )
        return p

    listing = common(sub.add_parser("list", help="show every widget's switch and settings"))
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    for action in ("enable", "disable"):
        switch = common(sub.add_parser(action, help=f"{action} a widget for the shop"))
        switch.add_argument("name", choices=sorted(WIDGETS), metavar="NAME")
    return parser


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    url = args.db or Settings.from_env().database_url or DEFAULT_DATABASE_URL
    store = Store.open(url)
    try:
        if store.get_shop(args.shop) is None:
            print(f"cx widgets: no shop {args.shop!r} (see cx shops list)", file=sys.stderr)
            return 1
        widgets = settings_for(store)
        if args.action == "list":
            configs = widgets.all(args.shop)
            surveys = widgets.surveys(args.shop)
            if args.json:
                payload = {
                    "shop_id": args.shop,
                    "widgets": [asdict(config) for config in configs],
                    "surveys": [asdict(survey) for survey in surveys],
                }
                print(json.dumps(payload, indent=2, ensure_ascii=False))
            else:
                for config in configs:
                    state = "on " if config.enabled else "off"
                    print(f"{state}  {config.widget:<12} {config.placement}")
                for survey in surveys:
                    state = "on " if survey.enabled else "off"
                    print(
                        f"{state}  survey {survey.survey_id}: {survey.survey_type}, "
                        f"{survey.trigger} +{survey.delay_days}d, cap {survey.cap_days}d"
                    )
            return 0
        try:
            widgets.set_enabled(args.shop, args.name, args.action == "enable")
        except ConfigError as error:
            print(f"cx widgets: {error}", file=sys.stderr)
            return 1
        print(f"{args.name} {'enabled' if args.action == 'enable' else 'disabled'} for {args.shop}")
        return 0
    finally:
        store.close()
