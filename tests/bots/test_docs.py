"""docs/bots.md stays true: its tutorial bot and its tests run, its config file loads."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import trio

from clickclack_bots import load_config

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "bots.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def named(language: str, name: str) -> str:
    for block in blocks(language):
        if block.startswith(f"# {name}\n"):
            return block
    raise AssertionError(f"docs/bots.md has no {name} block")


async def test_tutorial_bot_and_its_tests_pass(tmp_path: Path) -> None:
    (tmp_path / "echo.py").write_text(named("python", "echo.py"))
    (tmp_path / "deploybot.py").write_text(named("python", "deploybot.py"))
    extra = [b for b in blocks("python") if b.startswith("async def test_")]
    (tmp_path / "test_deploybot.py").write_text(
        named("python", "test_deploybot.py") + "\n\n" + "\n\n".join(extra)
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\ntrio_mode = true\n")
    env = {
        **os.environ,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # load exactly the plugins named below
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT), str(ROOT / "server")]),
    }
    result = await trio.run_process(
        [sys.executable, "-m", "pytest", "-q", "-p", "trio", "-p", "clickclack_bots.testing"],
        cwd=tmp_path,
        env=env,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    output = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, output
    assert re.search(r"\b5 passed\b", output), output


def test_config_example_loads(tmp_path: Path) -> None:
    text = named("toml", "bots.toml").replace('"echo:bot"', '"tests.bots._target_bot:bot"')
    text = text.replace('"deploybot:bot"', '"tests.bots._target_bot:make_bot"')
    (tmp_path / "secret").write_text("ccb_file")
    text = text.replace("/run/secrets/deploybot", str(tmp_path / "secret"))
    path = tmp_path / "bots.toml"
    path.write_text(text)
    loaded = load_config(path, env={"ECHO_TOKEN": "ccb_env"})
    assert [(a.name, a.token, a.start) for a in loaded.accounts] == [
        ("echo", "ccb_env", "now"),
        ("deploy", "ccb_file", "now"),
    ]
