"""Collector subcommands of ``cx``: serve, db, shops, keys, demo, and the integrations'."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from .settings import DEFAULT_DATABASE_URL, Settings
from .store import PLATFORMS, Store

# Subcommands an integration or widget module owns: ``<module>.cli.main(argv)``.
DELEGATED = {
    "shopify": "cx_sdk.integrations.shopify.cli",
    "woocommerce": "cx_sdk.integrations.woocommerce.cli",
    "widgets": "cx_sdk.widgets.cli",
    "recs": "cx_sdk.recommend.cli",
    "analytics": "cx_sdk.analytics.cli",
}


def database_url(explicit: str | None) -> str:
    return explicit or Settings.from_env().database_url or DEFAULT_DATABASE_URL


def _open(args: argparse.Namespace) -> Store:
    return Store.open(database_url(args.db))


def _use_redis(args: argparse.Namespace) -> None:
    """``--redis``: live chat fans out through Redis (read by every worker's settings)."""
    if args.redis:
        import os

        os.environ["CX_REDIS_URL"] = args.redis


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    _use_redis(args)
    settings = Settings.from_env(database_url=args.db)
    # Migrate once here, not again in the app or in every worker.
    Store.open(settings.database_url).close()
    settings = settings.model_copy(update={"migrate_on_start": False})
    served: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "access_log": args.access_log,
        # Chat frames are small: per-message deflate would compress each one once per
        # receiving socket and keep a compressor per socket, for a few bytes saved.
        "ws_per_message_deflate": False,
    }
    if args.workers > 1:
        import os

        os.environ["CX_DATABASE_URL"] = settings.database_url
        os.environ["CX_MIGRATE_ON_START"] = "false"
        uvicorn.run(
            "cx_sdk.server.app:create_app",
            factory=True,
            workers=args.workers,
            **served,
        )
    else:
        from .app import create_app

        uvicorn.run(create_app(settings), **served)
    return 0


def _db(args: argparse.Namespace) -> int:
    from . import db

    engine = db.make_engine(database_url(args.db))
    if args.db_command == "upgrade":
        db.upgrade(engine)
    print(f"database at revision {db.current_revision(engine)}")
    return 0


def _backlog(args: argparse.Namespace) -> int:
    from . import follower

    store = _open(args)
    try:
        if args.retry:
            print(f"{follower.retry(store)} batch(es) set aside are queued again")
        waiting, aside = follower.backlog(store)
    finally:
        store.close()
    if args.json:
        rows = [
            {
                "id": row.id,
                "shop_id": row.shop_id,
                "attempts": row.attempts,
                "created_at": row.created_at.isoformat(),
                "last_error": row.last_error,
            }
            for row in aside
        ]
        print(json.dumps({"waiting": waiting, "set_aside": rows}))
        return 0
    print(f"{waiting} batch(es) waiting for the projectors, {len(aside)} set aside")
    for row in aside:
        print(f"  #{row.id} shop {row.shop_id}, {row.attempts} attempts: {row.last_error}")
    if aside and not args.retry:
        print("fix the cause, then `cx db backlog --retry` queues them again")
    return 0


def _follow(args: argparse.Namespace) -> int:
    """Project the backlog as it grows until SIGTERM or Ctrl-C (``cx serve`` runs one per
    worker on SQLite; the migrations are the server's to run)."""
    import logging
    import signal

    from . import follower

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    store = Store.open(database_url(args.db), migrate=False)
    following = follower.Follower(store, polling=True)
    for name in (signal.SIGTERM, signal.SIGINT):
        signal.signal(name, lambda *_: following.halt())
    try:
        following.run()
    finally:
        store.close()
    return 0


def _shops_create(args: argparse.Namespace) -> int:
    store = _open(args)
    secrets = None
    if args.platform == "woocommerce" or args.webhook_secret:
        from ..integrations.woocommerce.signature import generate_secret, is_valid_secret

        if args.webhook_secret and not is_valid_secret(args.webhook_secret):
            print(
                "cx shops create: --webhook-secret must be 32+ letters and digits "
                "(WooCommerce alters other characters and its signatures then fail)",
                file=sys.stderr,
            )
            return 2
        secrets = {"webhook_secret": args.webhook_secret or generate_secret()}
    try:
        created = store.create_shop(
            args.name, args.platform, args.domain, secrets, default_locale=args.locale
        )
    except ValueError as error:
        print(f"cx shops create: {error}", file=sys.stderr)
        return 2
    out = {
        "shop_id": created.shop.id,
        "write_key": created.write_key,
        "admin_token": created.admin_token,
    }
    if args.platform == "woocommerce" and secrets:
        out["webhook_secret"] = secrets["webhook_secret"]
    if args.json:
        print(json.dumps(out))
    else:
        print(f"shop {created.shop.name!r} created. Keep these; they are shown once:")
        for key, value in out.items():
            print(f"  {key:15} {value}")
    return 0


def _shops_list(args: argparse.Namespace) -> int:
    store = _open(args)
    shops = [
        {
            "shop_id": shop.id,
            "name": shop.name,
            "platform": shop.platform,
            "domain": shop.domain,
            "default_locale": shop.default_locale,
            "created_at": shop.created_at.isoformat(),
        }
        for shop in store.list_shops()
    ]
    if args.json:
        print(json.dumps(shops))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("shop id", "name", "platform", "domain", "locale", "created")
    for shop in shops:
        table.add_row(*(str(shop[key] or "") for key in list(shop)))
    Console().print(table)
    return 0


def _keys_rotate(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        key = store.rotate_key(args.shop, args.kind)
    except KeyError:
        print(f"cx keys rotate: no shop {args.shop!r}", file=sys.stderr)
        return 2
    name = "write_key" if args.kind == "write" else "admin_token"
    if args.json:
        print(json.dumps({"shop_id": args.shop, name: key}))
    else:
        print(f"new {name} for {args.shop} (the old one no longer works): {key}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    _use_redis(args)
    return run_demo(
        database_url(args.db) if args.db else "sqlite:///./cx-data/demo.db",
        host=args.host,
        port=args.port,
        serve=not args.no_serve,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cx")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--db", help=f"database URL (default $CX_DATABASE_URL or {DEFAULT_DATABASE_URL})"
        )
        return p

    def with_redis(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--redis", help="Redis URL for live chat fan-out (default $CX_REDIS_URL)")
        return p

    serve = with_redis(with_db(sub.add_parser("serve", help="run the collector")))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="log every request line; off by default because widget URLs carry shoppers' "
        "order numbers and emails",
    )
    serve.set_defaults(func=_serve)

    database = sub.add_parser("db", help="database migrations and the projection backlog")
    db_sub = database.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    with_db(db_sub.add_parser("upgrade", help="apply migrations")).set_defaults(func=_db)
    with_db(db_sub.add_parser("current", help="print the revision")).set_defaults(func=_db)
    backlog = with_db(
        db_sub.add_parser(
            "backlog", help="batches waiting for the analytics/recommendation projectors"
        )
    )
    backlog.add_argument(
        "--retry", action="store_true", help="queue the batches set aside after failures again"
    )
    backlog.add_argument("--json", action="store_true", help="machine-readable output")
    backlog.set_defaults(func=_backlog)
    with_db(
        db_sub.add_parser(
            "follow",
            help="project the backlog as it grows (cx serve runs this itself on SQLite)",
        )
    ).set_defaults(func=_follow)

    shops = sub.add_parser("shops", help="create and list shops")
    shops_sub = shops.add_subparsers(dest="shops_command", required=True, metavar="ACTION")
    create = with_db(shops_sub.add_parser("create", help="create a shop and its keys"))
    create.add_argument("name")
    create.add_argument("--platform", choices=PLATFORMS, default="custom")
    create.add_argument("--domain")
    create.add_argument("--webhook-secret", help="WooCommerce webhook secret (generated if unset)")
    create.add_argument("--locale", choices=("de", "en"), default="de")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=_shops_create)
    listing = with_db(shops_sub.add_parser("list", help="list shops"))
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_shops_list)

    keys = sub.add_parser("keys", help="rotate keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    rotate = with_db(keys_sub.add_parser("rotate", help="replace a shop's key"))
    rotate.add_argument("--shop", required=True)
    rotate.add_argument("--kind", choices=("write", "admin"), default="write")
    rotate.add_argument("--json", action="store_true")
    rotate.set_defaults(func=_keys_rotate)

    demo = with_redis(with_db(sub.add_parser("demo", help="seed a demo shop and serve it")))
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--no-serve", action="store_true", help="seed and print, do not serve")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str]) -> int:
    args_list = list(argv)
    if args_list and args_list[0] in DELEGATED:
        try:
            module = importlib.import_module(DELEGATED[args_list[0]])
        except ImportError:
            print(f"cx {args_list[0]}: not available in this installation", file=sys.stderr)
            return 2
        code: int = module.main(args_list[1:])
        return code
    args = build_parser().parse_args(args_list)
    result: int = args.func(args)
    return result
