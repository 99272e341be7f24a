"""The theme app extension: valid config and schemas, every label in German and English,
JavaScript under the 10 KB (gzip) budget, and fragments reached through the app proxy."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cx_sdk.integrations import shopify

EXTENSION = Path(shopify.__file__).parent / "extension"
BLOCKS = {"tracking", "recommendations", "survey", "chat-launcher"}
SCHEMA = re.compile(r"{%\s*schema\s*%}(.*?){%\s*endschema\s*%}", re.DOTALL)


def schema(block: str) -> dict[str, Any]:
    text = (EXTENSION / "blocks" / f"{block}.liquid").read_text()
    match = SCHEMA.search(text)
    assert match, f"{block} has no schema"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def lookup(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        node = node[part]
    return node


def translation_keys(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value[2:]] if value.startswith("t:") else []
    if isinstance(value, dict):
        return [key for item in value.values() for key in translation_keys(item)]
    if isinstance(value, list):
        return [key for item in value for key in translation_keys(item)]
    return []


def test_extension_config_is_a_theme_extension() -> None:
    config = tomllib.loads((EXTENSION / "shopify.extension.toml").read_text())
    (extension,) = config["extensions"]
    assert extension["type"] == "theme"


def test_blocks_and_app_embed_are_declared_with_valid_schemas() -> None:
    assert {p.stem for p in (EXTENSION / "blocks").glob("*.liquid")} == BLOCKS
    for block in BLOCKS - {"chat-launcher"}:
        assert schema(block)["target"] == "section"
    assert schema("chat-launcher")["target"] == "body"  # an app embed
    for block in BLOCKS:
        javascript = schema(block)["javascript"]
        assert (EXTENSION / "assets" / javascript).is_file()


@pytest.mark.parametrize("locale", ["en.default", "de"])
def test_every_merchant_and_shopper_label_exists_in_german_and_english(locale: str) -> None:
    editor = json.loads((EXTENSION / "locales" / f"{locale}.schema.json").read_text())
    storefront = json.loads((EXTENSION / "locales" / f"{locale}.json").read_text())
    for block in BLOCKS:
        for key in translation_keys(schema(block)):
            assert isinstance(lookup(editor, key), str), (locale, key)
        liquid = (EXTENSION / "blocks" / f"{block}.liquid").read_text()
        for key in re.findall(r"'([a-z_.]+)'\s*\|\s*t\b", liquid):
            assert isinstance(lookup(storefront, key), str), (locale, key)


def test_german_labels_are_translated() -> None:
    english = json.loads((EXTENSION / "locales" / "en.default.schema.json").read_text())
    german = json.loads((EXTENSION / "locales" / "de.schema.json").read_text())
    assert lookup(german, "blocks.tracking.name") != lookup(english, "blocks.tracking.name")


def test_storefront_javascript_is_under_10_kb_compressed() -> None:
    total = sum(
        len(gzip.compress(path.read_bytes(), compresslevel=9))
        for path in (EXTENSION / "assets").glob("*.js")
    )
    assert total < 10 * 1024


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_storefront_javascript_parses() -> None:
    for path in (EXTENSION / "assets").glob("*.js"):
        subprocess.run(["node", "--check", str(path)], check=True)


def test_blocks_load_fragments_through_the_app_proxy_and_escape_settings() -> None:
    for block in BLOCKS:
        text = (EXTENSION / "blocks" / f"{block}.liquid").read_text()
        assert "data-cx-proxy=" in text
        for setting in re.findall(r"block\.settings\.(\w+)\s*\|", text):
            assert re.search(rf"block\.settings\.{setting}\s*\|\s*escape", text), setting


def test_proxy_serves_the_widget_stylesheet(client: TestClient) -> None:
    response = client.get("/integrations/shopify/proxy/assets/widgets.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert ".cx-" in response.text
