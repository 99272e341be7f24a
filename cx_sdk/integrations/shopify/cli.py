"""``cx shopify …``: backfill, abandoned checkouts, and the app configuration file."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from ...server.clock import utcnow
from ...server.db import erasure_lock
from ...server.settings import Settings
from ...server.store import Store
from ...server.tables import integration_state
from .backfill import BackfillError, backfill, client_for
from .mapping import MappingError, abandoned_event, parse_time

TEMPLATE = Path(__file__).parent / "shopify.app.toml"
EXTENSION = Path(__file__).parent / "extension"


def app_toml(public_url: str, client_id: str) -> str:
    """``shopify.app.toml`` for a collector reachable at ``public_url``."""
    url = public_url.rstrip("/")
    if not url.startswith("https://"):
        raise ValueError("--url must be the collector's https:// address (Shopify requires it)")
    text = TEMPLATE.read_text(encoding="utf-8")
    return text.replace("{{PUBLIC_URL}}", url).replace("{{CLIENT_ID}}", client_id)


def write_app_folder(target: Path, public_url: str, client_id: str) -> list[Path]:
    """A Shopify CLI app folder: ``shopify.app.toml`` plus ``extensions/cx-theme``."""
    config = app_toml(public_url, client_id)
    if target.exists() and any(target.iterdir()):
        raise ValueError(f"{target} is not empty; choose a new folder")
    target.mkdir(parents=True, exist_ok=True)
    (target / "shopify.app.toml").write_text(config, encoding="utf-8")
    shutil.copytree(EXTENSION, target / "extensions" / "cx-theme")
    return sorted(path for path in target.rglob("*") if path.is_file())


def sweep_abandoned(
    store: Store, shop_id: str, after: timedelta, now: datetime | None = None
) -> int:
    """Checkout Abandoned for every checkout no order followed within ``after``; once each."""
    current = now or datetime.now(UTC)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(integration_state.c.key, integration_state.c.value).where(
                integration_state.c.shop_id == shop_id,
                integration_state.c.kind == "checkout",
            )
        ).all()
    events: dict[str, dict[str, Any]] = {}
    for token, value in rows:
        state = dict(value)
        if state.get("completed") or state.get("abandoned") or not state.get("started"):
            continue
        last = parse_time(state.get("updated_at"))
        if last is None or current - last < after:
            continue
        events[token] = abandoned_event(shop_id, token, state).to_wire()
    while events:
        try:
            result = store.ingest(
                shop_id, list(events.values()), check=_still_open(store, shop_id, set(events))
            )
        except _Changed as changed:  # completed, or erased, since they were read
            events = {
                token: event for token, event in events.items() if token not in changed.tokens
            }
            continue
        if result.rejected:
            raise MappingError(f"events rejected by the catalog: {result.rejected}")
        break
    return len(events)


class _Changed(Exception):
    def __init__(self, tokens: set[str]) -> None:
        super().__init__(f"{len(tokens)} checkouts changed")
        self.tokens = tokens


def _still_open(store: Store, shop_id: str, tokens: set[str]) -> Callable[[Connection], None]:
    """Inside the ingest transaction: the checkouts are still stored and still open (an erase
    or an order may have come since the sweep read them); marked abandoned with their events."""

    def check(conn: Connection) -> None:
        erasure_lock(conn, shop_id, exclusive=False)
        # A write first: it takes SQLite's writer (a SELECT would begin no transaction there)
        # and PostgreSQL's row locks, and returns only the checkouts still stored.
        found = {
            row.key: dict(row.value)
            for row in conn.execute(
                update(integration_state)
                .where(
                    integration_state.c.shop_id == shop_id,
                    integration_state.c.kind == "checkout",
                    integration_state.c.key.in_(sorted(tokens)),
                )
                .values(updated_at=utcnow())
                .returning(integration_state.c.key, integration_state.c.value)
            )
        }
        changed = {
            token
            for token in tokens
            if token not in found or found[token].get("completed") or found[token].get("abandoned")
        }
        if changed:
            raise _Changed(changed)
        now = utcnow()
        store.upsert(
            conn,
            integration_state,
            [
                {
                    "shop_id": shop_id,
                    "kind": "checkout",
                    "key": token,
                    "value": {**state, "abandoned": True},
                    "updated_at": now,
                }
                for token, state in found.items()
            ],
            ("shop_id", "kind", "key"),
            ("value", "updated_at"),
        )

    return check


def _store(args: argparse.Namespace) -> Store:
    return Store.open(args.db or Settings.from_env().database_url)


def _since(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _backfill(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    store = _store(args)
    try:
        shop_id, client = client_for(store, args.shop)
        try:
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
            ) as bar:
                task = bar.add_task("orders", total=None)

                def advance(done: int, total: int | None) -> None:
                    bar.update(task, completed=done, total=total)

                report = backfill(
                    store,
                    shop_id,
                    client,
                    since=args.since,
                    restart=args.restart,
                    progress=advance,
                )
        finally:
            client.close()
    finally:
        store.close()
    print(
        f"{report.orders} orders on {report.pages} pages: {report.events} new events "
        f"(waited {report.waited_seconds:.1f} s for Shopify's rate limit)"
    )
    for line in report.skipped:
        print(f"skipped: {line}", file=sys.stderr)
    return 0


def _abandoned(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        shop = store.get_shop(args.shop) or store.shop_by_domain(args.shop)
        if shop is None:
            print(f"error: unknown shop {args.shop!r} (cx shops list)", file=sys.stderr)
            return 1
        count = sweep_abandoned(store, shop.id, timedelta(minutes=args.after))
    finally:
        store.close()
    print(f"{count} checkouts marked abandoned")
    return 0


def _app_toml(args: argparse.Namespace) -> int:
    url = args.url or Settings.from_env().public_url
    client_id = args.client_id or Settings.from_env().shopify_api_key or ""
    if not client_id:
        print("error: --client-id (or CX_SHOPIFY_API_KEY) is required", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(app_toml(url, client_id))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _app_folder(args: argparse.Namespace) -> int:
    url = args.url or Settings.from_env().public_url
    client_id = args.client_id or Settings.from_env().shopify_api_key or ""
    if not client_id:
        print("error: --client-id (or CX_SHOPIFY_API_KEY) is required", file=sys.stderr)
        return 2
    try:
        files = write_app_folder(Path(args.folder), url, client_id)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"{len(files)} files in {args.folder}; deploy with: cd {args.folder} && shopify app deploy"
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cx shopify",
        description="Shopify integration: backfill, abandoned checkouts, app configuration.",
    )
    parser.add_argument("--db", help="database URL (default: CX_DATABASE_URL)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("backfill", help="import past orders through the GraphQL Admin API")
    run.add_argument("--shop", required=True, help="shop id or *.myshopify.com domain")
    run.add_argument("--since", type=_since, help="only orders created on/after YYYY-MM-DD")
    run.add_argument("--restart", action="store_true", help="start over instead of resuming")
    run.add_argument("--db", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    run.set_defaults(handler=_backfill)

    sweep = sub.add_parser("abandoned", help="emit Checkout Abandoned for stale checkouts")
    sweep.add_argument("--shop", required=True, help="shop id or *.myshopify.com domain")
    sweep.add_argument(
        "--after", type=int, default=60, help="minutes without an order (default 60)"
    )
    sweep.add_argument("--db", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sweep.set_defaults(handler=_abandoned)

    toml = sub.add_parser("app-toml", help="print shopify.app.toml for this collector")
    toml.add_argument("--url", help="the collector's public https:// URL (CX_PUBLIC_URL)")
    toml.add_argument("--client-id", help="the app's client id (CX_SHOPIFY_API_KEY)")
    toml.set_defaults(handler=_app_toml)

    folder = sub.add_parser(
        "app-folder", help="write a Shopify CLI app folder (configuration + theme extension)"
    )
    folder.add_argument("folder", help="a new or empty folder")
    folder.add_argument("--url", help="the collector's public https:// URL (CX_PUBLIC_URL)")
    folder.add_argument("--client-id", help="the app's client id (CX_SHOPIFY_API_KEY)")
    folder.set_defaults(handler=_app_folder)
    return parser


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    try:
        return int(args.handler(args))
    except (BackfillError, MappingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
