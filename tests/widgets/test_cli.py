"""``cx widgets`` through the real ``cx`` entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cx_sdk import cli
from cx_sdk.server import Store
from cx_sdk.widgets.registry import settings_for


@pytest.fixture
def db(tmp_path: Path) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'cx.db'}"
    store = Store.open(url)
    shop_id = store.create_shop("CLI-Laden").shop.id
    store.close()
    return url, shop_id


def test_disable_and_enable_switch_the_widget(
    db: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url, shop_id = db
    assert cli.main(["widgets", "disable", "survey", "--shop", shop_id, "--db", url]) == 0
    assert "survey disabled" in capsys.readouterr().out
    store = Store.open(url)
    assert not settings_for(store).get(shop_id, "survey").enabled
    assert settings_for(store).get(shop_id, "tracking").enabled
    store.close()
    assert cli.main(["widgets", "enable", "survey", "--shop", shop_id, "--db", url]) == 0
    store = Store.open(url)
    assert settings_for(store).get(shop_id, "survey").enabled
    store.close()


def test_list_json_reports_widgets_and_surveys(
    db: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url, shop_id = db
    cli.main(["widgets", "disable", "tracking", "--shop", shop_id, "--db", url])
    capsys.readouterr()
    assert cli.main(["widgets", "list", "--shop", shop_id, "--db", url, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["shop_id"] == shop_id
    state = {w["widget"]: w["enabled"] for w in payload["widgets"]}
    assert {"tracking": False, "survey": True}.items() <= state.items()
    assert payload["surveys"][0]["survey_type"] == "nps"
    assert payload["surveys"][0]["cap_days"] == 30


def test_unknown_shop_and_widget_are_clear_errors(
    db: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = db
    assert cli.main(["widgets", "list", "--shop", "shop_nope", "--db", url]) == 1
    assert "no shop 'shop_nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["widgets", "enable", "carousel", "--shop", "x", "--db", url])
    assert exit_info.value.code == 2
    assert "invalid choice: 'carousel'" in capsys.readouterr().err
