"""The wheel: SDK-only install works with httpx + pydantic alone; no generic top-level names."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("cx_sdk-*.whl")
    return built


def test_wheel_maps_integrations_and_widgets_under_cx_sdk(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/", 1)[0] for name in names}
    assert top_level == {"cx_sdk", f"cx_sdk-{wheel.name.split('-')[1]}.dist-info"}
    assert "cx_sdk/integrations/shopify/__init__.py" in names
    assert "cx_sdk/integrations/woocommerce/__init__.py" in names
    assert "cx_sdk/widgets/__init__.py" in names
    assert not any(name.startswith(("integrations/", "widgets/", "tests/")) for name in names)


def test_sdk_installs_and_imports_without_server_dependencies(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "import importlib.util, cx_sdk, cx_sdk.events\n"
        "from cx_sdk.events import OrderCompleted\n"
        "m = OrderCompleted(user_id='u', properties={'order_id': '1', 'currency': 'EUR'})\n"
        "assert m.to_wire()['event'] == 'Order Completed'\n"
        "for absent in ('starlette', 'jinja2', 'sqlalchemy', 'uvicorn'):\n"
        "    assert importlib.util.find_spec(absent) is None, absent\n"
        "for generic in ('integrations', 'widgets'):\n"
        "    assert importlib.util.find_spec(generic) is None, generic\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    cli = subprocess.run(
        [str(env_dir / "bin" / "cx"), "serve"], capture_output=True, text=True, cwd=tmp_path
    )
    assert cli.returncode == 2
    assert "pip install 'cx-sdk[server]'" in cli.stderr
    assert "Traceback" not in cli.stderr
