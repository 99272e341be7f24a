"""``cx analytics``: rebuild, rescore and kpis from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cx_sdk import cli
from cx_sdk.server import Store, parts

from .conftest import ingest_all
from .dataset import week


def test_cx_analytics_rebuilds_and_prints_the_kpis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = Store.open(url)
    shop = store.create_shop("Kommandozeile").shop.id
    ingest_all(store, shop, week())
    store.close()
    assert cli.main(["analytics", "rebuild", "--shop", shop, "--db", url]) == 0
    assert f"{shop}: {len(week())} events replayed" in capsys.readouterr().out
    assert cli.main(["analytics", "rescore", "--db", url]) == 0
    assert "customers rescored" in capsys.readouterr().out
    argv = ["analytics", "kpis", "--shop", shop, "--from", "2026-10-01", "--to", "2026-10-07"]
    assert cli.main([*argv, "--db", url]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["kpis"]["nps"] == 40.0 and printed["kpis"]["orders"] == 4


def test_cx_analytics_says_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert cli.main(["analytics", "kpis", "--shop", "nope", "--db", url]) == 1
    assert "no shop 'nope'" in capsys.readouterr().err
    store = Store.open(url)
    shop = store.create_shop("Fehler").shop.id
    store.close()
    assert cli.main(["analytics", "kpis", "--shop", shop, "--from", "x", "--db", url]) == 2
    assert "from: must be a date" in capsys.readouterr().err


def test_the_part_registers_its_hooks() -> None:
    names = {getattr(job, "__name__", "") for job in parts.collect("periodic")}
    assert "rescore_segments" in names
    assert any(
        getattr(p, "__module__", "") == "cx_sdk.analytics.aggregates"
        for p in parts.collect("projectors")
    )
    assert ("/dashboard", "Dashboard") in parts.collect("console_nav")
