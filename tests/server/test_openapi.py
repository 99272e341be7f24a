"""schemathesis explores every operation of /openapi.json: no input gets a 5xx."""

from __future__ import annotations

import base64

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from cx_sdk.server import Settings, Store, create_app


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def test_no_input_makes_the_collector_fail(sqlite_store: Store, settings: Settings) -> None:
    app = create_app(settings, sqlite_store)
    keys = sqlite_store.create_shop("Schema")
    sqlite_store.ingest(keys.shop.id, [{"type": "track", "event": "X", "userId": "u1"}])
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    strategy = st.one_of(*(operation.as_strategy() for operation in operations))

    @given(case=strategy)
    @hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    def explore(case: schemathesis.Case) -> None:
        auth = _basic(keys.write_key) if case.path.startswith("/v1/") else None
        auth = auth or f"Bearer {keys.admin_token}"
        case.headers = {**(case.headers or {}), "Authorization": auth}
        response = case.call()
        assert response.status_code < 500, f"{case.method} {case.path}: {response.text}"

    explore()
