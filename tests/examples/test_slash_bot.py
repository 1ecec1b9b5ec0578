"""examples/slash_bot: slash commands through the server to the bot's callback endpoint:
an immediate in-channel answer with a later post, the framework's deferred acknowledgement,
private answers and usage errors; then the README's way, with `clickclack bot run`."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import trio

from clickclack_bots import Bot, CallbackOptions
from clickclack_bots.testing import (
    ClickClackHarness,
    RunningBot,
    TestUser,
    clickclack_server,
    running_bot,
    user,
)
from tests.cli.conftest import CLI, cli_env
from tests.examples._load import EXAMPLES, load_example

__all__ = ["clickclack_server", "running_bot", "user"]

deploy: Any = load_example("slash_bot", "deploy")


@pytest.fixture(autouse=True)
def quick_pipeline() -> Iterator[None]:
    """Short pipeline steps, and no versions left over from another test."""
    step, deploy.STEP_SECONDS = deploy.STEP_SECONDS, 0.05
    deploy.versions.clear()
    yield
    deploy.STEP_SECONDS = step
    deploy.versions.clear()


@pytest.fixture
def bot() -> Bot:
    bot: Bot = deploy.bot
    return bot


async def test_deploy_answers_in_channel_then_posts_the_outcome(
    running_bot: RunningBot, user: TestUser
) -> None:
    result = await user.slash("#general", "/deploy api --env production")
    assert (result.response_type, result.text) == ("in_channel", "Deploying api to production…")
    assert result.message is not None and result.message.author_id == running_bot.user_id
    done = await user.expect_reply(author=running_bot)
    assert done.body == "api v1 is live on production."
    await user.slash("#general", "/deploy api --env production")
    assert (await user.expect_reply(author=running_bot)).body == "api v2 is live on production."


async def test_versions_is_private(running_bot: RunningBot, user: TestUser) -> None:
    result = await user.slash("#general", "/versions")
    assert (result.response_type, result.text) == ("ephemeral", "nothing deployed yet")
    assert result.message is None or not result.message.id
    await user.slash("#general", "/deploy web")
    await user.expect_reply(author=running_bot)
    result = await user.slash("#general", "/versions")
    assert (result.response_type, result.text) == ("ephemeral", "web staging: v1")
    await user.expect_no_reply(running_bot)  # nothing was posted for /versions


async def test_usage_errors_are_private(running_bot: RunningBot, user: TestUser) -> None:
    result = await user.slash("#general", "/deploy api --env moon")
    assert result.response_type == "ephemeral" and "moon" in result.text
    assert "Usage: `/deploy <service> [--env ENV]`" in result.text
    result = await user.slash("#general", "/rollback api")
    assert result.response_type == "ephemeral"
    assert result.text.startswith("api has no earlier version on staging\nUsage: `/rollback")


async def test_slow_rollback_gets_the_deferred_acknowledgement(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    deploy.STEP_SECONDS = 0.4  # a rollback takes 0.8 s, over the 0.2 s budget below
    running = await clickclack_server.start_bot(
        deploy.bot, callbacks=CallbackOptions(port=0, budget=0.2)
    )
    deploy.versions[("api", deploy.Env.staging)] = 3
    result = await user.slash("#general", "/rollback api")
    assert (result.response_type, result.text) == ("ephemeral", "Working on /rollback…")
    later = await user.expect_reply(author=running, timeout=10)
    assert later.body == "api rolled back to v2 on staging."
    await running.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_the_readme_way_with_clickclack_bot_run(
    clickclack_server: ClickClackHarness, user: TestUser, nursery: trio.Nursery
) -> None:
    """`admin bot create`, `admin slash-command create`, `clickclack bot run --callback-addr`:
    the commands examples/slash_bot/README.md shows, against a running server."""
    data = ["--data", str(clickclack_server.data_dir)]
    env = cli_env()

    async def cli(*args: str) -> str:
        done = await trio.run_process(
            [*CLI, *args, *data], capture_stdout=True, capture_stderr=True, env=env
        )
        return str(done.stdout.decode().strip())

    token = await cli(
        "admin", "bot", "create", "--workspace", "clickclack", "--name", "Deployer",
        "--handle", "deployer", "--plain",
    )  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}/clickclack"
    register = ["admin", "slash-command", "create", "--workspace", "clickclack", "--plain"]
    secrets = [
        await cli(*register, "--command", name, "--bot", "@deployer", "--callback-url", url)
        for name in ("/deploy", "/versions")
    ]
    secrets_file = clickclack_server.data_dir / "secrets.txt"
    secrets_file.write_text("\n".join(secrets) + "\n")
    bot_env = {
        **env,
        "CLICKCLACK_SERVER": clickclack_server.url,
        "CLICKCLACK_TOKEN": token,
        "CLICKCLACK_BOTS_STATE_DIR": str(clickclack_server.data_dir / "bots"),
        "DEPLOY_STEP_SECONDS": "0.05",
    }
    process = await trio.lowlevel.open_process(
        [
            *CLI,
            "bot",
            "run",
            "deploy:bot",
            "--start",
            "now",
            "--callback-addr",
            f"127.0.0.1:{port}",
            "--callback-secret-file",
            str(secrets_file),
        ],
        cwd=EXAMPLES / "slash_bot",
        env=bot_env,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    log: list[str] = []
    try:
        with trio.fail_after(30):
            buffer = b""
            while not any("serving callbacks at " + url in line for line in log):
                chunk = await process.stderr.receive_some()
                assert chunk, "the bot exited:\n" + "".join(log)
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                log += [line.decode() + "\n" for line in lines]
        result = await user.slash("#general", "/deploy api")
        assert (result.response_type, result.text) == ("in_channel", "Deploying api to staging…")
        done = await user.expect_reply(timeout=10)
        assert done.body == "api v1 is live on staging."
        private = await user.slash("#general", "/versions")
        assert (private.response_type, private.text) == ("ephemeral", "api staging: v1")
        process.send_signal(signal.SIGINT)
        with trio.fail_after(20):
            code = await process.wait()
        assert code == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize(
    ("extra", "reasons"),
    [
        ([], ["has callback handlers (/deploy, /rollback, /versions)", "--callback-addr"]),
        (["--callback-addr", "127.0.0.1:1"], ["CLICKCLACK_CALLBACK_SECRET"]),
    ],
)
def test_bot_run_refuses_unreachable_callbacks(extra: list[str], reasons: list[str]) -> None:
    """No callback address, or an address without a signing secret: exit 2, before
    connecting (the token is never used)."""
    done = subprocess.run(
        [*CLI, "bot", "run", "deploy:bot", "--start", "now", *extra],
        cwd=EXAMPLES / "slash_bot",
        env={**cli_env(), "CLICKCLACK_TOKEN": "ccb_unused"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    for reason in reasons:
        assert reason in done.stderr
