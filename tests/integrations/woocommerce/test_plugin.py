"""The WordPress plugin: ``php -l`` on every file, the php-cli smoke test of its pure functions,
and static checks of its texts and escaping."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cx_sdk.integrations.woocommerce import signature

ROOT = Path(__file__).parents[3]
PLUGIN = ROOT / "cx_sdk" / "integrations" / "woocommerce" / "wordpress-plugin"
SMOKE = Path(__file__).parent / "plugin_smoke.php"
FIXTURES = Path(__file__).parents[2] / "fixtures" / "woocommerce"
PHP_FILES = sorted(PLUGIN.rglob("*.php"))
TRANSLATED = re.compile(
    r"\b(?:__|_e|esc_html__|esc_html_e|esc_attr__|esc_attr_e)\(\s*'((?:[^'\\]|\\.)*)'\s*,"
    r"\s*'cx-woocommerce'"
)


@pytest.fixture(scope="module")
def php() -> str:
    found = shutil.which("php")
    if found is None:
        if os.environ.get("CX_REQUIRE_SERVICES") == "1":
            pytest.fail("CX_REQUIRE_SERVICES=1 but php-cli is not installed")
        pytest.skip("php-cli is not installed")
    return found


def run(php: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([php, *args], capture_output=True, text=True, timeout=60, check=False)


def test_plugin_has_the_files_wordpress_expects() -> None:
    names = {path.relative_to(PLUGIN).as_posix() for path in PHP_FILES}
    assert {
        "cx-woocommerce.php",
        "uninstall.php",
        "includes/functions.php",
        "languages/cx-woocommerce-de_DE.l10n.php",
    } <= names
    header = (PLUGIN / "cx-woocommerce.php").read_text()
    for field in ("Plugin Name:", "Text Domain:          cx-woocommerce", "Requires Plugins:"):
        assert field in header


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: p.relative_to(PLUGIN).as_posix())
def test_php_lint_passes(php: str, path: Path) -> None:
    result = run(php, "-l", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_smoke_test_of_the_pure_functions_passes(php: str) -> None:
    assert run(php, "-l", str(SMOKE)).returncode == 0
    result = run(php, str(SMOKE), str(PLUGIN))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.fullmatch(r"ok \d+\n", result.stdout)
    assert int(result.stdout.split()[1]) >= 40


def test_pure_functions_load_without_wordpress(php: str) -> None:
    """functions.php must not call WordPress at load time (the smoke test depends on it)."""
    code = f"require '{PLUGIN / 'includes' / 'functions.php'}'; echo cx_wc_locale('de_AT');"
    result = run(php, "-d", "display_errors=stderr", "-r", code)
    assert (result.returncode, result.stdout, result.stderr) == (0, "de", "")


def test_secret_and_signature_from_php_verify_in_the_collector(php: str) -> None:
    """A secret the plugin generates, signing a real order body as WooCommerce does, is
    accepted by the collector's check."""
    body_path = FIXTURES / "order_v3_retrieve_727.json"
    result = run(php, str(SMOKE), str(PLUGIN), "sign", str(body_path))
    assert result.returncode == 0, result.stderr
    secret, header, status = result.stdout.splitlines()
    assert status.startswith("ok")
    assert signature.verify(body_path.read_bytes(), secret, header)
    assert not signature.verify(body_path.read_bytes() + b" ", secret, header)


def test_every_merchant_text_has_a_german_translation(php: str) -> None:
    texts: set[str] = set()
    for path in PHP_FILES:
        if "languages" not in path.parts:
            texts |= {m.replace("\\'", "'") for m in TRANSLATED.findall(path.read_text())}
    assert len(texts) > 20
    dump = run(
        php,
        "-r",
        "echo json_encode(array_keys((require $argv[1])['messages']));",
        str(PLUGIN / "languages" / "cx-woocommerce-de_DE.l10n.php"),
    )
    translated = set(json.loads(dump.stdout))
    assert texts - translated == set()
    formal = run(
        php,
        "-r",
        "echo (require $argv[1])['language'];",
        str(PLUGIN / "languages" / "cx-woocommerce-de_DE_formal.l10n.php"),
    )
    assert formal.stdout == "de_DE_formal"


def test_every_echo_is_escaped_or_sanitised() -> None:
    checked = 0
    for path in PHP_FILES:
        text = path.read_text()
        for match in re.finditer(r"\b(?:echo|printf|print)\b(.*?)(?:;|\?>)", text, re.S):
            checked += 1
            statement = match.group(1).strip().lstrip("(").strip()
            line = text.count("\n", 0, match.start()) + 1
            assert re.match(r"(esc_(html|attr|url)|cx_wc_widget)\(", statement) or (
                statement.startswith("'<div class=\"notice")
                and "esc_attr( $class ), esc_html( $notice[1] )" in statement
            ), f"{path.name}:{line} echoes unescaped output: {statement[:80]}"
    assert checked >= 15


def test_state_changing_admin_actions_check_nonce_and_capability() -> None:
    settings = (PLUGIN / "includes" / "settings.php").read_text()
    handler = settings.split("function cx_wc_test_connection()", 1)[1].split("\nfunction ", 1)[0]
    assert "check_admin_referer( 'cx_wc_test_connection' )" in handler
    assert "current_user_can( 'manage_woocommerce' )" in handler
    assert "wp_nonce_field( 'cx_wc_test_connection' )" in settings
    assert "settings_fields( 'cx_wc' )" in settings


def test_view_order_tracking_is_for_the_logged_in_owner_only() -> None:
    widgets = (PLUGIN / "includes" / "widgets.php").read_text()
    view = widgets.split("function cx_wc_view_order(", 1)[1].split("\nfunction ", 1)[0]
    assert "is_user_logged_in()" in view
    assert "get_customer_id() !== get_current_user_id()" in view
