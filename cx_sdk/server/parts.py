"""The collector's optional parts and the hooks they offer.

Each part is a package; a hook is a function of that name in its ``__init__`` (imported
lazily inside, so that finding the hooks never imports a part's heavy modules):

- ``routes()``: Starlette routes, mounted at the part's prefix ("" adds them at the root);
- ``fast_routes()``: handlers ``(path, scope, receive, send) -> bool`` for GETs under the
  part's prefix (``path`` is what follows it), tried before Starlette's middleware and
  routing (``app.Collector``); one returns False, having sent nothing, for a request its
  routes must answer instead;
- ``periodic()``: jobs ``(store, settings)`` every worker runs each ``CX_PERIODIC_SECONDS``;
- ``projectors()``: ``(conn, shop_id, fresh, upsert)`` called with newly stored events, for
  aggregates that must never scan the log: by the follower after ingest (``follower.py``),
  or inside the ingest transaction when projections are not deferred;
- ``customer_states()``: ``(conn, shop_id, user_ids, anonymous_ids, email_hash)`` returning the
  ``(kind, key)`` of the part's ``integration_state`` rows that name a customer: the collector's
  erase deletes them and its export lists them with everything else;
- ``widgets()``: storefront widgets for ``cx_sdk.widgets.registry``;
- ``console_routes()`` / ``console_nav()``: pages under ``/console`` and their menu entries;
- ``shutdown()``: coroutine functions ``(app_state)`` awaited when the application stops
  (connections a part opened, such as the chat's Redis hub).

A part that is not installed (ImportError) is left out, never an error.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

# In the order their routes are tried: the storefront's widgets first.
PARTS: dict[str, str] = {
    "/widgets": "cx_sdk.widgets",
    "/integrations/shopify": "cx_sdk.integrations.shopify",
    "/integrations/woocommerce": "cx_sdk.integrations.woocommerce",
    "/console": "cx_sdk.console",
    "/chat": "cx_sdk.chat",
    "/recommendations": "cx_sdk.recommend",
    "": "cx_sdk.analytics",
}


def folder(module_name: str) -> Path:
    """Where a part's package lives (its ``templates/`` and ``locales/`` sit beside its code)."""
    return Path(__file__).parent.parent.joinpath(*module_name.split(".")[1:])


@cache
def hooks(name: str) -> tuple[tuple[str, Callable[[], Any]], ...]:
    """``(prefix, hook)`` for every installed part whose module defines ``name()``."""
    found: list[tuple[str, Callable[[], Any]]] = []
    for prefix, module_name in PARTS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        hook = getattr(module, name, None)
        if callable(hook):
            found.append((prefix, hook))
    return tuple(found)


@cache
def collect(name: str) -> tuple[Any, ...]:
    """Everything the parts' ``name()`` hooks return, flattened, in part order."""
    return tuple(item for _, hook in hooks(name) for item in hook())
