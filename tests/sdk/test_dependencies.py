"""Installing ``clickclack`` without extras pulls no server dependency, and importing the SDK
(every submodule) loads no server-only module.

A real install into a fresh virtualenv takes about ten seconds here, so this test does the real
thing rather than inspecting metadata alone.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY_PACKAGES = {"hypercorn", "starlette", "python-multipart", "python-ulid", "orjson"}
SERVER_ONLY_MODULES = {
    "hypercorn",
    "starlette",
    "multipart",
    "python_multipart",
    "ulid",
    "orjson",
    "clickclack_server",
}
IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
import clickclack_sdk
for info in pkgutil.walk_packages(clickclack_sdk.__path__, "clickclack_sdk."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower()


def test_base_dependencies_exclude_the_server() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {_name(requirement) for requirement in project["dependencies"]}
    assert base and not base & SERVER_ONLY_PACKAGES
    server = {_name(requirement) for requirement in project["optional-dependencies"]["server"]}
    assert server >= SERVER_ONLY_PACKAGES


def test_fresh_install_without_extras(tmp_path: Path) -> None:
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT)],
        check=True,
        timeout=600,
        capture_output=True,
    )
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    ).stdout
    installed = {line.split("==")[0].lower() for line in listed.splitlines() if line}
    assert "clickclack" in installed
    assert not installed & SERVER_ONLY_PACKAGES
    loaded = subprocess.run(
        [str(python), "-c", IMPORT_EVERYTHING],
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    modules = set(json.loads(loaded))
    assert "clickclack_sdk" in modules and "trio_websocket" in modules
    assert not modules & SERVER_ONLY_MODULES
    assert sys.executable != str(python)
