"""The public surface: ``__all__`` complete and sorted, ``py.typed`` shipped."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import clickclack_sdk


def _isort_key(name: str) -> tuple[int, str]:
    """RUF022's order: SCREAMING_CASE, then CamelCase, then everything else."""
    if re.fullmatch(r"[A-Z0-9_]+", name) and not name.startswith("_"):
        return 0, name
    if name[:1].isupper():
        return 1, name
    return 2, name


def test_all_is_sorted_and_unique() -> None:
    names = clickclack_sdk.__all__
    assert names == sorted(names, key=_isort_key)
    assert len(names) == len(set(names))


def test_all_is_complete() -> None:
    public = {
        name
        for name in dir(clickclack_sdk)
        if not name.startswith("_")
        and not inspect.ismodule(getattr(clickclack_sdk, name))
        and name not in {"annotations", "importlib", "TYPE_CHECKING"}
    }
    assert public | {"__version__"} == set(clickclack_sdk.__all__)
    for name in clickclack_sdk.__all__:
        assert getattr(clickclack_sdk, name) is not None
    with pytest.raises(AttributeError):
        _ = clickclack_sdk.NoSuchName  # type: ignore[attr-defined]


def test_importing_the_package_stays_light() -> None:
    """The CLI lives inside this package: importing it must not pull in the client stack."""
    code = (
        "import sys, clickclack_sdk; "
        "print(sorted(m for m in ('httpx', 'trio', 'trio_websocket', 'clickclack_sdk._client') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_public_classes_live_in_private_modules() -> None:
    for name in clickclack_sdk.__all__:
        value = getattr(clickclack_sdk, name)
        module = getattr(value, "__module__", "")
        if inspect.isclass(value):
            assert module.startswith("clickclack_sdk."), name
            assert any(part.startswith("_") for part in module.split(".")[1:]) or (
                module.startswith("clickclack_sdk.resources.")
            ), name


def test_py_typed_is_shipped() -> None:
    package = Path(clickclack_sdk.__file__).parent
    assert (package / "py.typed").is_file()
