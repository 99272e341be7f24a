"""``cx woocommerce …``: backfill, webhook set-up without the plugin, the RMA status table."""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...server.settings import Settings
from ...server.store import Store
from . import signature
from .backfill import BackfillError, WooClient, backfill
from .mapping import DEFAULT_RETURN_STATUSES, RETURN_EVENTS, MappingConfig, MappingError
from .webhooks import CONFIG_KEY, CONFIG_KIND

# The topics cx maps; the plugin creates the same set.
TOPICS = (
    "order.created",
    "order.updated",
    "order.deleted",
    "order.restored",
    "customer.created",
    "customer.updated",
)


def delivery_url(collector_url: str, shop_id: str) -> str:
    return f"{collector_url.rstrip('/')}/integrations/woocommerce/webhooks/{shop_id}"


def ensure_webhook_secret(store: Store, shop_id: str) -> str:
    """The shop's webhook secret, generated (alphanumeric) and saved when it has none.

    The lead's ``cx shops create --platform woocommerce`` can call this too.
    """
    shop = store.get_shop(shop_id)
    if shop is None:
        raise BackfillError(f"unknown shop {shop_id!r} (cx shops list)")
    secret = shop.secrets.get("webhook_secret")
    if isinstance(secret, str) and secret:
        return secret
    secret = signature.generate_secret()
    store.update_shop_secrets(shop_id, webhook_secret=secret)
    return secret


def _store(args: argparse.Namespace) -> Store:
    return Store.open(args.db or Settings.from_env().database_url)


def _backfill(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    store = _store(args)
    client = WooClient(args.url, args.key, args.secret)
    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=False,
        ) as bar:
            task = bar.add_task("orders pages", total=None)

            def advance(page: int, total: int) -> None:
                bar.update(task, completed=page, total=total)

            report = backfill(
                store,
                args.shop,
                client,
                restart=args.restart,
                trackings=args.trackings,
                notes=args.notes,
                progress=advance,
            )
    finally:
        client.close()
        store.close()
    print(
        f"{report.orders} orders on {report.pages} pages: {report.events} new events, "
        f"{report.duplicates} already stored"
    )
    for line in report.skipped:
        print(f"skipped: {line}", file=sys.stderr)
    return 0


def _connect(args: argparse.Namespace) -> int:
    store = _store(args)
    client = WooClient(args.url, args.key, args.secret)
    try:
        secret = ensure_webhook_secret(store, args.shop)
        url = delivery_url(args.collector_url, args.shop)
        for topic in TOPICS:
            created: dict[str, Any] = client.post(
                "/webhooks",
                {
                    "name": f"cx {topic}",
                    "topic": topic,
                    "delivery_url": url,
                    "secret": secret,
                    "status": "active",
                },
            )
            print(f"webhook {created.get('id')}: {created.get('topic')} → {url}")
    finally:
        client.close()
        store.close()
    return 0


def _replay(args: argparse.Namespace) -> int:
    from .webhooks import replay

    store = _store(args)
    try:
        if store.get_shop(args.shop) is None:
            raise BackfillError(f"unknown shop {args.shop!r} (cx shops list)")
        report = replay(store, args.shop)
    finally:
        store.close()
    print(f"{report.processed} deliveries processed, {report.events} events")
    for line in report.failed:
        print(f"still failing: {line}", file=sys.stderr)
    return 1 if report.failed else 0


def _secret(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        if args.set is not None:
            if store.get_shop(args.shop) is None:
                raise BackfillError(f"unknown shop {args.shop!r} (cx shops list)")
            if not signature.is_valid_secret(args.set):
                raise BackfillError(
                    "the webhook secret must be at least 32 letters and digits: WooCommerce "
                    "decodes HTML entities in secrets, so other characters can break signatures"
                )
            store.update_shop_secrets(args.shop, webhook_secret=args.set)
            secret = args.set
        else:
            secret = ensure_webhook_secret(store, args.shop)
    finally:
        store.close()
    print(secret)
    return 0


PLUGIN_DIR = Path(__file__).parent / "wordpress-plugin"
PLUGIN_SLUG = "cx-woocommerce"


def build_plugin_zip(target: Path) -> Path:
    """The WordPress plugin as an uploadable zip (Plugins › Add New › Upload)."""
    target = target / f"{PLUGIN_SLUG}.zip" if target.is_dir() else target
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(PLUGIN_DIR.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, f"{PLUGIN_SLUG}/{path.relative_to(PLUGIN_DIR).as_posix()}")
    return target


def _plugin_zip(args: argparse.Namespace) -> int:
    print(build_plugin_zip(Path(args.target)))
    return 0


def _returns(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        if store.get_shop(args.shop) is None:
            raise BackfillError(f"unknown shop {args.shop!r} (cx shops list)")
        current = MappingConfig.from_state(store.get_state(args.shop, CONFIG_KIND, CONFIG_KEY))
        table = dict(current.return_statuses)
        if args.action == "reset":
            table = dict(DEFAULT_RETURN_STATUSES)
        elif args.action == "set":
            for pair in args.pairs:
                status, sep, event = pair.partition("=")
                if not sep or not status.strip():
                    raise MappingError(f"{pair!r}: write STATUS=EVENT, e.g. wc-return-ok=…")
                table[status.strip()] = event.strip()
        elif args.action == "remove":
            for status in args.pairs:
                table.pop(status.strip().removeprefix("wc-"), None)
        checked = MappingConfig.from_state({"return_statuses": table})
        if args.action != "show":
            store.put_state(
                args.shop, CONFIG_KIND, CONFIG_KEY, {"return_statuses": checked.return_statuses}
            )
    finally:
        store.close()
    for status, event in sorted(checked.return_statuses.items()):
        print(f"{status}\t{event}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cx woocommerce", description="WooCommerce integration")
    parser.add_argument("--db", help="database URL (default: CX_DATABASE_URL or embedded SQLite)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # --db is accepted after the subcommand too, as in ``cx shops create … --db URL``.
    db_after = argparse.ArgumentParser(add_help=False)
    db_after.add_argument("--db", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def shop_api(p: argparse.ArgumentParser) -> None:
        p.add_argument("--shop", required=True, help="cx shop id")
        p.add_argument("--url", required=True, help="the shop's https:// address")
        p.add_argument("--key", required=True, help="WooCommerce REST consumer key (ck_…)")
        p.add_argument("--secret", required=True, help="WooCommerce REST consumer secret (cs_…)")

    fill = sub.add_parser(
        "backfill", parents=[db_after], help="import past orders and refunds from the REST API"
    )
    shop_api(fill)
    fill.add_argument("--restart", action="store_true", help="start at page 1, not where it left")
    fill.add_argument(
        "--trackings",
        action="store_true",
        help="also read the Shipment Tracking extension's tracking numbers (one call per order)",
    )
    fill.add_argument(
        "--notes",
        action="store_true",
        help="time past orders by their status-change notes (one call per order)",
    )
    fill.set_defaults(func=_backfill)

    connect = sub.add_parser(
        "connect", parents=[db_after], help="create the webhooks through the REST API"
    )
    shop_api(connect)
    connect.add_argument(
        "--collector-url", required=True, help="public URL of this collector (https://…)"
    )
    connect.set_defaults(func=_connect)

    secret = sub.add_parser(
        "secret",
        parents=[db_after],
        help="print the shop's webhook secret (generated if none), or --set one",
    )
    secret.add_argument("--shop", required=True)
    secret.add_argument("--set", help="use this secret (letters and digits, 32 or more)")
    secret.set_defaults(func=_secret)

    again = sub.add_parser(
        "replay", parents=[db_after], help="process again deliveries that failed or never finished"
    )
    again.add_argument("--shop", required=True)
    again.set_defaults(func=_replay)

    plugin = sub.add_parser(
        "plugin-zip", parents=[db_after], help="write the WordPress plugin as an uploadable zip"
    )
    plugin.add_argument("target", nargs="?", default=".", help="directory or .zip path")
    plugin.set_defaults(func=_plugin_zip)

    returns = sub.add_parser(
        "returns", parents=[db_after], help="the RMA order status → return event table"
    )
    returns.add_argument("--shop", required=True)
    returns.add_argument("action", choices=["show", "set", "remove", "reset"])
    returns.add_argument(
        "pairs",
        nargs="*",
        help=f"STATUS=EVENT for set, STATUS for remove; events: {', '.join(RETURN_EVENTS)}",
    )
    returns.set_defaults(func=_returns)
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        result: int = args.func(args)
    except (BackfillError, MappingError) as error:
        print(f"cx woocommerce {args.command}: {error}", file=sys.stderr)
        return 1
    return result
