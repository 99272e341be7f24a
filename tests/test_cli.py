"""The `cx` command's SDK-side subcommands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cx_sdk import cli
from cx_sdk.events import CATALOG


def test_schema_export_writes_one_file_per_event_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["schema", "export", str(tmp_path / "schemas")]) == 0
    files = sorted((tmp_path / "schemas").glob("*.json"))
    assert len(files) == len(CATALOG) + 4
    assert (
        json.loads((tmp_path / "schemas" / "survey-answered.json").read_text())["title"]
        == "Survey Answered"
    )
    assert "wrote 53 JSON Schemas" in capsys.readouterr().out


def test_catalog_prints_the_markdown_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["catalog"]) == 0
    out = capsys.readouterr().out
    assert "| Order Completed | purchase | 1 | `order_id`, `currency` |" in out


def test_readme_catalog_table_is_up_to_date() -> None:
    from cx_sdk.events.schema import catalog_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert catalog_table() in readme, "run `cx catalog` and paste the table into README.md"
