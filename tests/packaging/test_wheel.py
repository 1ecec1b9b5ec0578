"""``python -m build`` makes an sdist and a wheel (built from that sdist); the wheel installs
cleanly in a fresh venv: the base install gives the client side only, ``[callbacks]`` adds
what a bot needs to serve slash commands, ``[server]`` a working ``clickclack serve``
(issue 8, packaging).

Slow (builds, creates venvs), so the build runs once per module. No package index is reached:
pip installs with ``--no-index`` from the wheel built here and a wheelhouse packed from this
environment's installed dependencies (``_wheelhouse``).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import pytest

from tests.packaging._wheelhouse import build_wheelhouse

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its output when it fails."""
    done = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output of ``python -m build`` (sdist, then the wheel built from the sdist), without
    build isolation: the build backend comes from the test extra."""
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT)
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    wheels = list(dist.glob("clickclack-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_build_makes_an_sdist_with_the_sources_tests_and_examples(dist: Path) -> None:
    [sdist] = dist.glob("clickclack-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for expected in (
        "pyproject.toml",
        "README.md",
        "clickclack_sdk/py.typed",
        "clickclack_bots/py.typed",
        "server/clickclack_server/app.py",
        "server/clickclack_server/db/migrations/0001_core.sql",
        "examples/slash_bot/deploy.py",
        "tests/examples/test_slash_bot.py",
        "docs/cli.md",
    ):
        assert expected in names, expected


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's dependencies (server and callbacks extras) as wheels from this venv."""
    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"), extras={"server", "callbacks"})


def _pip_install(bin_dir: Path, requirement: str | Path, wheelhouse: Path) -> None:
    """``pip install`` offline: only the wheelhouse, never an index."""
    _run(
        bin_dir / "python",
        "-m",
        "pip",
        "install",
        "--no-input",
        "--no-index",
        "--find-links",
        wheelhouse,
        requirement,
    )


def _fresh_venv(path: Path) -> Path:
    """A new venv without the project's packages; returns its bin directory."""
    venv.create(path, with_pip=True, clear=True)
    return path / ("Scripts" if sys.platform == "win32" else "bin")


def _installed(bin_dir: Path) -> set[str]:
    listing = _run(bin_dir / "python", "-m", "pip", "list", "--format=freeze").stdout
    return {line.split("==")[0].lower() for line in listing.splitlines() if "==" in line}


def test_base_install_is_client_only(wheel: Path, wheelhouse: Path, tmp_path: Path) -> None:
    bin_dir = _fresh_venv(tmp_path / "base")
    _pip_install(bin_dir, wheel, wheelhouse)
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
        "clickclack: the server is not installed (starlette); run: pip install 'clickclack[server]'"
    ]
    # The callbacks extra: Hypercorn for a bot's slash/delivery endpoint, still no server.
    _pip_install(bin_dir, f"{wheel}[callbacks]", wheelhouse)
    installed = _installed(bin_dir)
    assert "hypercorn" in installed and "starlette" not in installed, installed
    _run(bin_dir / "python", "-c", CALLBACK_SMOKE, cwd=tmp_path)


CALLBACK_SMOKE = """
import httpx, trio
from clickclack_bots import Bot, CallbackServer, SlashContext
from clickclack_sdk import Client
from clickclack_sdk.signing import signature_headers

bot = Bot("smoke")

@bot.slash("/ping")
async def ping(ctx: SlashContext) -> str:
    return "pong"

async def main() -> None:
    async with Client("http://127.0.0.1:9", token="ccb_x") as client:
        server = CallbackServer(bot, client, secrets=["s"])
        async with trio.open_nursery() as nursery:
            url = await nursery.start(server.run)
            body = (
                b'{"command": "/ping", "text": "", "trigger_id": "inv_1", "channel_id": "chn_1",'
                b' "workspace_id": "wsp_1", "user_id": "usr_1", "bot_user_id": "usr_2",'
                b' "command_id": "cmd_1"}'
            )
            async with httpx.AsyncClient() as http:
                answer = await http.post(url, content=body, headers=signature_headers("s", body))
            assert answer.json() == {"response_type": "in_channel", "text": "pong"}, answer.text
            nursery.cancel_scope.cancel()

trio.run(main)
"""


def test_server_extra_gives_serve(wheel: Path, wheelhouse: Path, tmp_path: Path) -> None:
    bin_dir = _fresh_venv(tmp_path / "server")
    _pip_install(bin_dir, f"{wheel}[server]", wheelhouse)
    assert {"starlette", "hypercorn"} <= _installed(bin_dir)
    help_text = _run(bin_dir / "clickclack", "serve", "--help", cwd=tmp_path).stdout
    assert "--dev-bootstrap" in help_text
    _run(bin_dir / "python", "-c", "import clickclack_server.app", cwd=tmp_path)
