"""GET /api/v1/kpis: the admin token's shop, clear 4xx on bad input."""

from __future__ import annotations

from datetime import date

from starlette.testclient import TestClient

from cx_sdk.server import CreatedShop, Store

from ..server.helpers import bearer


def test_kpis_of_a_period_for_the_admin_token(
    client: TestClient, store: Store, week_shop: CreatedShop
) -> None:
    response = client.get(
        "/api/v1/kpis",
        params={"from": "2026-10-01", "to": "2026-10-07"},
        headers=bearer(week_shop.admin_token),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"], body["bucket"]) == ("2026-10-01", "2026-10-07", "day")
    assert body["kpis"]["nps"] == 40.0 and body["kpis"]["orders"] == 4
    assert len(body["trend"]) == 7
    assert set(body["segments"]) >= {"champions", "lost"}


def test_kpis_need_an_admin_token_of_that_shop(
    client: TestClient, store: Store, week_shop: CreatedShop
) -> None:
    assert client.get("/api/v1/kpis").status_code == 401
    assert client.get("/api/v1/kpis", headers=bearer(week_shop.write_key)).status_code == 401
    other = store.create_shop("Andere")
    body = client.get(
        "/api/v1/kpis",
        params={"from": "2026-10-01", "to": "2026-10-07"},
        headers=bearer(other.admin_token),
    ).json()
    assert body["kpis"]["orders"] == 0 and body["kpis"]["nps"] is None  # nothing leaks across


def test_bad_periods_are_refused_with_what_is_wrong(
    client: TestClient, week_shop: CreatedShop
) -> None:
    headers = bearer(week_shop.admin_token)
    for params, message in (
        ({"from": "gestern"}, "from: must be a date"),
        ({"from": "2026-10-08", "to": "2026-10-01"}, "must not be after"),
        ({"from": "2020-01-01", "to": "2026-10-01"}, "longer than"),
        ({"bucket": "year"}, "bucket: must be one of"),
    ):
        response = client.get("/api/v1/kpis", params=params, headers=headers)
        assert response.status_code == 400
        assert message in response.json()["error"]


def test_the_default_period_is_the_last_30_days(client: TestClient, week_shop: CreatedShop) -> None:
    body = client.get("/api/v1/kpis", headers=bearer(week_shop.admin_token)).json()
    assert body["bucket"] == "week"
    assert [b["to"] for b in body["trend"]][-1] == body["to"]
    assert (
        sum(
            (date.fromisoformat(b["to"]) - date.fromisoformat(b["from"])).days + 1
            for b in body["trend"]
        )
        == 30
    )
