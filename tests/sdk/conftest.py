"""One behavioural suite for both clients: tests take ``harness`` and run twice."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from cx_sdk import AsyncClient, Client
from cx_sdk._base import BaseClient

ENDPOINT = "http://cx.test"
URL = ENDPOINT + "/v1/batch"
FAST = {"flush_interval": 0.01, "backoff_base": 0.02, "backoff_max": 0.1}


class Harness:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.clients: list[BaseClient] = []

    def make(self, **options: Any) -> Any:
        settings = {**FAST, **options}
        endpoint = settings.pop("endpoint", ENDPOINT)
        client: BaseClient
        if self.kind == "thread":
            client = Client("wk", endpoint, drain_on_sigterm=False, **settings)
        else:
            client = AsyncClient("wk", endpoint, **settings)
        self.clients.append(client)
        return client

    async def flush(self, client: Any, timeout: float = 10.0) -> bool:
        if self.kind == "thread":
            return bool(client.flush(timeout))
        return bool(await client.flush(timeout))

    async def close(self, client: Any, timeout: float = 10.0) -> int:
        if self.kind == "thread":
            return int(client.close(timeout))
        return int(await client.close(timeout))


@pytest.fixture(params=["thread", "async"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    h = Harness(request.param)
    yield h
    for client in h.clients:
        await h.close(client, 2.0)


Respond = Callable[[list[dict[str, Any]], int], httpx.Response]


class Recorder:
    """A pytest-httpx callback that decodes each batch and answers via ``respond``."""

    def __init__(self, respond: Respond | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.bodies: list[dict[str, Any]] = []
        self.respond = respond

    def __call__(self, request: httpx.Request) -> httpx.Response:
        raw = request.content
        if request.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        body = json.loads(raw)
        self.requests.append(request)
        self.bodies.append(body)
        if self.respond is not None:
            return self.respond(body["batch"], len(self.bodies))
        return httpx.Response(200, json={"success": True})

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for body in self.bodies for event in body["batch"]]

    def names(self) -> list[str]:
        return [e.get("event") or e["type"] for e in self.events]


@pytest.fixture
def collector(httpx_mock: Any) -> Recorder:
    recorder = Recorder()
    httpx_mock.add_callback(recorder, url=URL, is_reusable=True)
    return recorder


ORDER = {
    "order_id": "o-1",
    "total": 59.9,
    "currency": "EUR",
    "products": [{"product_id": "p1", "price": 19.95, "quantity": 2}],
}
