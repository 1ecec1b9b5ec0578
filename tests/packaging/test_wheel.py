"""The wheel installs cleanly in a fresh venv: the base install gives the client side only,
the ``[server]`` extra adds a working ``clickclack serve`` (issue 8, packaging).

Slow (builds a wheel, creates two venvs, installs from the configured package index), so it
runs once per session through a module-scoped wheel.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its output when it fails."""
    done = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built with ``pip wheel --no-deps`` into a temp dir."""
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", out, ROOT)
    wheels = list(out.glob("clickclack-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _fresh_venv(path: Path) -> Path:
    """A new venv without the project's packages; returns its bin directory."""
    venv.create(path, with_pip=True, clear=True)
    return path / ("Scripts" if sys.platform == "win32" else "bin")


def _installed(bin_dir: Path) -> set[str]:
    listing = _run(bin_dir / "python", "-m", "pip", "list", "--format=freeze").stdout
    return {line.split("==")[0].lower() for line in listing.splitlines() if "==" in line}


def test_base_install_is_client_only(wheel: Path, tmp_path: Path) -> None:
    bin_dir = _fresh_venv(tmp_path / "base")
    _run(bin_dir / "python", "-m", "pip", "install", "--no-input", wheel)
    help_text = _run(bin_dir / "clickclack", "--help", cwd=tmp_path).stdout
    assert "Usage" in help_text and "bot" in help_text
    _run(
        bin_dir / "python",
        "-c",
        "import clickclack_sdk, clickclack_bots; print(clickclack_sdk.Client)",
        cwd=tmp_path,
    )
    installed = _installed(bin_dir)
    assert "clickclack" in installed
    assert not {"starlette", "hypercorn"} & installed, installed
    # Without the extra the server's runtime is absent (the package ships, its deps do not).
    missing = subprocess.run(
        [str(bin_dir / "python"), "-c", "import clickclack_server.runner"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode != 0
    assert "No module named 'hypercorn'" in missing.stderr
    # ... and `clickclack serve` says how to get it, in one line, instead of a traceback.
    serve = subprocess.run(
        [str(bin_dir / "clickclack"), "serve", "--addr", "127.0.0.1:0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert serve.returncode == 1
    assert serve.stderr.strip().splitlines() == [
        "clickclack: the server is not installed (hypercorn); run: pip install 'clickclack[server]'"
    ]


def test_server_extra_gives_serve(wheel: Path, tmp_path: Path) -> None:
    bin_dir = _fresh_venv(tmp_path / "server")
    _run(bin_dir / "python", "-m", "pip", "install", "--no-input", f"{wheel}[server]")
    assert {"starlette", "hypercorn"} <= _installed(bin_dir)
    help_text = _run(bin_dir / "clickclack", "serve", "--help", cwd=tmp_path).stdout
    assert "--dev-bootstrap" in help_text
    _run(bin_dir / "python", "-c", "import clickclack_server.app", cwd=tmp_path)
