"""The ``cx`` command. SDK subcommands work with the base install; collector subcommands
need the ``server`` extra and say so instead of failing with a traceback."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Subcommands served by cx_sdk.server.cli (the collector); listed here so that `cx --help`
# shows them even when the server extra is not installed.
SERVER_COMMANDS = {
    "serve": "run the collector (HTTP ingest, webhooks, widgets, console)",
    "db": "database migrations (cx db upgrade)",
    "shops": "create and list shops",
    "keys": "rotate a shop's keys",
    "demo": "seed a demo shop on embedded SQLite and serve it",
    "shopify": "Shopify integration: backfill and app set-up",
    "woocommerce": "WooCommerce integration: backfill and plugin",
    "widgets": "switch storefront widgets on and off per shop",
    "recs": "recommendations: rebuild the precomputed neighbours",
    "analytics": "journey analytics: rebuild aggregates, rescore personas, print KPIs",
}

SERVER_EXTRA_HINT = (
    "cx {command}: the collector is not installed.\n"
    "Install it with:  pip install 'cx-sdk[server]'   (missing module: {missing})"
)


def _schema_export(args: argparse.Namespace) -> int:
    from .events.schema import export

    written = export(args.directory)
    print(f"wrote {len(written)} JSON Schemas to {args.directory}")
    return 0


def _catalog(args: argparse.Namespace) -> int:
    from .events.schema import catalog_table

    print(catalog_table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cx", description="cx — customer-experience toolkit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    schema = sub.add_parser("schema", help="JSON Schemas of the event catalog")
    schema_sub = schema.add_subparsers(dest="schema_command", metavar="ACTION", required=True)
    export = schema_sub.add_parser("export", help="write one JSON Schema per event type")
    export.add_argument("directory", help="target directory (created if missing)")
    export.set_defaults(func=_schema_export)
    catalog = sub.add_parser("catalog", help="print the event catalog as a Markdown table")
    catalog.set_defaults(func=_catalog)
    for name, text in SERVER_COMMANDS.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in SERVER_COMMANDS:
        try:
            server_cli = importlib.import_module("cx_sdk.server.cli")
        except ImportError as error:
            missing = error.name or str(error)
            print(SERVER_EXTRA_HINT.format(command=args_list[0], missing=missing), file=sys.stderr)
            return 2
        code: int = server_cli.main(args_list)
        return code
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not hasattr(args, "func"):
        parser.print_help()
        return 0
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
