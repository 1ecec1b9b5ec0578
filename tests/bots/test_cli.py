"""``python -m clickclack_bots module:bot`` and ``run_from_cli``: usage errors, a real run
against the test server, and a graceful stop on SIGINT that saves the cursor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from clickclack_bots import run_from_cli
from clickclack_bots._cli import build_parser
from clickclack_bots.testing import ClickClackHarness, TestUser

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("target", "kwargs", "message"),
    [
        (None, {}, "give a bot"),
        ("nocolon", {}, "module:attribute"),
        ("tests.bots._target_bot:bot", {"env": {}}, "no bot token"),
        ("tests.bots._target_bot:bot", {"token_env": "ABSENT", "env": {}}, "ABSENT"),
        (None, {"config": "/nonexistent/bots.toml"}, "cannot read config file"),
    ],
)
def test_usage_errors_exit_2(
    target: str | None, kwargs: dict[str, object], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_from_cli(target, **kwargs) == 2  # type: ignore[arg-type]
    assert message in capsys.readouterr().err


def test_parser() -> None:
    args = build_parser().parse_args(["m:bot", "--token-env", "X", "--start", "beginning"])
    assert (args.target, args.token_env, args.start, args.log_level) == (
        "m:bot",
        "X",
        "beginning",
        "INFO",
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["m:bot", "--token", "a", "--token-file", "b"])


@pytest.mark.parametrize(
    "launcher",
    [["-m", "clickclack_bots"], ["-m", "clickclack_sdk.cli", "bot", "run"]],
    ids=["python-m", "clickclack-bot-run"],
)
async def test_run_module_then_sigint(
    clickclack_server: ClickClackHarness, user: TestUser, tmp_path: Path, launcher: list[str]
) -> None:
    account = await clickclack_server.create_bot_account("Cli Bot")
    state = tmp_path / "state"
    env = {**os.environ, "CLI_BOT_TOKEN": account.token, "PYTHONPATH": str(ROOT)}
    process = await trio.lowlevel.open_process(
        [
            sys.executable,
            *launcher,
            "tests.bots._target_bot:bot",
            "--server",
            clickclack_server.url,
            "--token-env",
            "CLI_BOT_TOKEN",
            "--start",
            "now",
            "--state-dir",
            str(state),
            "--name",
            "cli",
            "--grace",
            "5",
        ],
        cwd=str(ROOT),
        env=env,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    log = b""
    try:
        with trio.fail_after(20):
            while b"running as" not in log:
                chunk = await process.stderr.receive_some()
                assert chunk, log.decode()
                log += chunk
        await user.say("#general", "hello")
        reply = await user.expect_reply(timeout=10)
        assert (reply.body, reply.author_id) == ("hello from target", account.user_id)
        process.send_signal(signal.SIGINT)
        with trio.fail_after(15):
            while chunk := await process.stderr.receive_some():
                log += chunk
            status = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert status == 0, log.decode()
    assert b"stopping (draining in-flight handlers)" in log
    saved = json.loads((state / "cli.cursor.json").read_text())
    assert saved["account"] == "cli" and saved["cursor"].startswith("cur_")


def test_clickclack_bot_run_refuses_a_bad_start() -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "clickclack_sdk.cli", "bot", "run", "m:bot", "--start", "later"],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        check=False,
    )
    assert ran.returncode == 2
    assert ran.stderr.strip() == "clickclack: --start must be 'now' or 'beginning'"
