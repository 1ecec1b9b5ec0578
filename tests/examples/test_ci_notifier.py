"""examples/ci_notifier: the webhook script run as CI would run it, against a real server."""

from __future__ import annotations

import subprocess
import sys

import trio

from clickclack_bots.testing import ClickClackHarness, clickclack_server
from tests.cli.conftest import CLI, cli_env
from tests.examples._load import EXAMPLES

__all__ = ["clickclack_server"]

NOTIFY = EXAMPLES / "ci_notifier" / "notify.py"


async def notify(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    with trio.fail_after(30):
        return await trio.run_process(
            [sys.executable, str(NOTIFY), *args],
            env=cli_env(**env),
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )


async def test_the_readme_way(clickclack_server: ClickClackHarness) -> None:
    """A bot token from `clickclack admin bot create`, the channel id from `clickclack
    channels list`, then the script: the message is posted as the bot."""
    data = ["--data", str(clickclack_server.data_dir)]
    env = cli_env(CLICKCLACK_SERVER=clickclack_server.url)
    created = await trio.run_process(
        [
            *CLI,
            "admin",
            "bot",
            "create",
            "--workspace",
            "clickclack",
            "--name",
            "CI",
            "--plain",
            *data,
        ],
        capture_stdout=True,
        env=env,
    )
    token = created.stdout.decode().strip()
    env["CLICKCLACK_TOKEN"] = token
    listed = await trio.run_process([*CLI, "channels", "list"], capture_stdout=True, env=env)
    [channel] = [
        line.split("\t")[0]
        for line in listed.stdout.decode().splitlines()
        if line.split("\t")[1] == "general"
    ]
    assert channel == clickclack_server.general_id
    done = await notify(
        {"CLICKCLACK_SERVER": clickclack_server.url, "CLICKCLACK_TOKEN": token,
         "CLICKCLACK_CHANNEL": channel},
        "build #42 passed on main",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    owner = await clickclack_server.owner()
    message = await owner.client.messages.get(done.stdout.decode().strip())
    assert message.body == "build #42 passed on main"
    authors = {
        member.user.id: member.user
        async for member in owner.client.workspaces.iter_members(clickclack_server.workspace_id)
    }
    author = authors[message.author_id]
    assert (author.kind, author.display_name) == ("bot", "CI")


async def test_channel_flag_and_refusal(clickclack_server: ClickClackHarness) -> None:
    account = await clickclack_server.create_bot_account("CI")
    env = {"CLICKCLACK_SERVER": clickclack_server.url, "CLICKCLACK_TOKEN": account.token}
    done = await notify(env, "--channel", clickclack_server.general_id, "deployed")
    assert done.returncode == 0, done.stderr
    bad = await notify({**env, "CLICKCLACK_TOKEN": "ccb_bad"}, "--channel", "chn_x", "nope")
    assert bad.returncode == 1
    assert bad.stderr.decode().startswith("notify: AuthenticationError")
    unknown = await notify(env, "--channel", "chn_00000000000000000000000000", "nope")
    assert unknown.returncode == 1 and b"notify: " in unknown.stderr


async def test_missing_settings() -> None:
    done = await notify({}, "hello")
    assert done.returncode == 2
    assert done.stderr.decode().strip() == (
        "notify: missing CLICKCLACK_SERVER (or --server), CLICKCLACK_TOKEN, "
        "CLICKCLACK_CHANNEL (or --channel)"
    )
