"""``GET /api/v1/kpis``: the journey KPIs of a period, for the shop of the admin token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from ..server import follower
from ..server.http import JSONResponse, admin_shop
from ..server.store import Store
from .kpis import Period, PeriodError, choose_bucket, parse_period, report


def period_of(request: Request) -> tuple[Period, str]:
    """The requested period and trend bucket; 400 names what is wrong."""
    try:
        period = parse_period(
            request.query_params.get("from"),
            request.query_params.get("to"),
            datetime.now(UTC).date(),
        )
        return period, choose_bucket(period, request.query_params.get("bucket"))
    except PeriodError as error:
        raise HTTPException(400, str(error)) from None


def read_report(store: Store, shop_id: str, period: Period, bucket: str) -> dict[str, Any]:
    """The report over everything acknowledged so far (the backlog is projected first)."""
    follower.settle(store, shop_id)
    with store.engine.connect() as conn:
        return report(conn, shop_id, period, bucket)


async def kpis(request: Request) -> JSONResponse:
    shop_id = await admin_shop(request)
    period, bucket = period_of(request)
    store: Store = request.app.state.store
    return JSONResponse(await run_in_threadpool(read_report, store, shop_id, period, bucket))


def routes() -> list[Route]:
    return [Route("/api/v1/kpis", kpis, methods=["GET"])]
