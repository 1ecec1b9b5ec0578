"""Import an example's module from ``examples/<dir>/<module>.py`` (examples are scripts,
not packages, so they are loaded by path under a private module name)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(directory: str, module: str) -> ModuleType:
    """The module ``examples/<directory>/<module>.py``, imported once per session."""
    name = f"_example_{directory}_{module}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / directory / f"{module}.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    spec.loader.exec_module(loaded)
    return loaded
