"""``clickclack slash``: the real console script against a real server, with the legacy
(unregistered) path and commands answered by a ``clickclack_bots.CallbackServer``."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from clickclack_bots import Bot, CallbackServer, SlashContext
from clickclack_sdk import Client
from clickclack_sdk.cli._client_cmds import split_slash
from clickclack_sdk.cli._common import CliError
from clickclack_server.config import Config
from clickclack_server.runner import Running, run_server
from clickclack_server.store import sessions as session_store
from clickclack_server.store import users as user_store
from tests.cli.conftest import CLI, Ran, arun, cli_env
from tests.conftest import Caller, World

WAIT = 30


@pytest.fixture
async def world(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[World]:
    """Like the shared ``world``, but the server may call back to loopback addresses."""
    running: Running = await nursery.start(
        run_server,
        Config(addr="127.0.0.1:0", data=str(tmp_path / "data"), allow_private_callbacks=True),
    )
    boot = await running.server.db.write(
        user_store.bootstrap, name="Owner", email="owner@example.com"
    )
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
        session = await running.server.db.write(session_store.create_session, boot.user_id)
        owner = Caller(http, boot.user_id, session.token)
        yield World(running, http, tmp_path / "data", boot.workspace_id, boot.channel_id, owner)


@attrs.define
class Cli:
    world: World
    home: Path

    async def run(self, *args: str, token: str | None = None, stdin: str | None = None) -> Ran:
        argv = ["--server", self.world.url, "--token", token or str(self.world.owner.token)]
        env = cli_env(XDG_CONFIG_HOME=str(self.home / "config"))
        if stdin is None:
            return await arun(*argv, *args, env=env)
        done = await trio.run_process(
            [*CLI, *argv, *args],
            stdin=stdin.encode(),
            capture_stdout=True,
            capture_stderr=True,
            env=env,
            check=False,
        )
        return Ran(tuple(args), done.returncode, done.stdout.decode(), done.stderr.decode())

    async def ok(self, *args: str, **kwargs: Any) -> str:
        ran = await self.run(*args, **kwargs)
        assert ran.code == 0, f"{args}: exit {ran.code}: {ran.stderr}"
        assert ran.stderr == "", ran.stderr
        return ran.stdout


@pytest.fixture
def cli(world: World, tmp_path: Path) -> Cli:
    return Cli(world, tmp_path / "home")


async def fetch(world: World, message_id: str) -> dict[str, Any]:
    response = await world.owner.get(f"/api/messages/{message_id}")
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()["message"]
    return message


POSTED = re.compile(r"posted (msg_[0-9a-z]{26}) to #(\S+)")


# The legacy path: no command registered, the text is posted as the caller.


async def test_unregistered_command_posts_as_the_caller(cli: Cli, world: World) -> None:
    out = (await cli.ok("slash", "/shrug", "hello", "there")).splitlines()
    assert out[0] == "/shrug hello there"
    match = POSTED.fullmatch(out[1])
    assert match and match.group(2) == "general" and len(out) == 2
    message = await fetch(world, match.group(1))
    assert message["body"] == "/shrug hello there"
    assert message["author_id"] == world.owner.user_id
    assert message["channel_id"] == world.channel_id


async def test_one_quoted_argument_body_stdin_and_file(
    cli: Cli, world: World, tmp_path: Path
) -> None:
    assert await cli.ok("slash", "/deploy staging now", "--plain") == "/deploy staging now\n"
    assert await cli.ok("slash", "--body", "/deploy  prod", "--plain") == "/deploy prod\n"
    assert await cli.ok("slash", "--stdin", "--plain", stdin="/note\nline two\n") == (
        "/note line two\n"
    )
    path = tmp_path / "cmd.txt"
    path.write_text("/from-file a b\n")
    assert await cli.ok("slash", "--file", str(path), "--plain") == "/from-file a b\n"
    # The leading slash may be left out; a bare command has empty text.
    assert await cli.ok("slash", "wave", "--plain") == "/wave\n"
    # `--` lets the text carry option-like words.
    assert await cli.ok("slash", "--plain", "--", "/deploy", "api", "--force") == (
        "/deploy api --force\n"
    )


async def test_json_is_the_api_answer(cli: Cli, world: World) -> None:
    data = json.loads(await cli.ok("slash", "/ping", "x", "--json"))
    assert list(data)[:2] == ["response_type", "text"]
    assert (data["response_type"], data["text"]) == ("in_channel", "/ping x")
    assert data["message"]["body"] == "/ping x"
    assert data["event"]["type"] == "message.created"
    assert data["event"]["payload"]["message_id"] == data["message"]["id"]


async def test_other_channel_by_name(cli: Cli, world: World) -> None:
    created = await world.owner.post(
        f"/api/workspaces/{world.workspace_id}/channels", json={"name": "ops"}
    )
    assert created.status_code == 201
    out = await cli.ok("--channel", "#ops", "slash", "/page", "oncall")
    match = POSTED.search(out)
    assert match and match.group(2) == "ops"
    message = await fetch(world, match.group(1))
    assert message["channel_id"] == created.json()["channel"]["id"]


async def test_input_errors(cli: Cli, world: World) -> None:
    expected = "a slash command is required (words, --body, --file or --stdin)"
    assert (await cli.run("slash")).error(2) == expected
    assert (await cli.run("slash", "--body", "  ")).error(2) == expected
    assert (await cli.run("slash", "/")).error(
        2
    ) == "a slash command name is required, e.g. /deploy"
    assert (await cli.run("slash", "/x", "--body", "/y")).error(2) == (
        "give the body once, not with --body and a positional body"
    )
    assert (await cli.run("slash", "--channel", "nope", "/x")).error(4) == (
        "channel not found: nope"
    )
    assert (await cli.run("slash", "/x", token="sst_nope")).error(3).startswith("401: ")


async def test_bot_tokens_need_messages_write(cli: Cli, world: World) -> None:
    reader = await world.bot(["bot:read"])
    ran = await cli.run("slash", "/x", token=str(reader.token))
    assert ran.error(3) == "403: bot token is missing scope messages:write"
    writer = await world.bot(["bot:write"])
    out = await cli.ok("slash", "/x", "from a bot", token=str(writer.token))
    match = POSTED.search(out)
    assert match
    assert (await fetch(world, match.group(1)))["author_id"] == writer.user_id


# Registered commands answered by a callback server.


@attrs.define
class Registered:
    server: CallbackServer
    bot_id: str


@pytest.fixture
async def registered(world: World, nursery: trio.Nursery) -> AsyncIterator[Registered]:
    bot = Bot("opsbot")

    @bot.slash("/deploy")
    async def deploy(ctx: SlashContext, service: str) -> str:
        """Deploy a service."""
        return f"deploying {service}"

    @bot.slash("/whisper")
    async def whisper(ctx: SlashContext) -> None:
        await ctx.respond("only you see this", ephemeral=True)

    account = await world.bot(["bot:write"])
    async with Client(world.url, token=account.token) as client:
        server = CallbackServer(bot, client, budget=2.0)
        await nursery.start(server.run)
        async with Client(world.url, token=world.owner.token) as owner:
            for command in ("/deploy", "/whisper"):
                created = await owner.hooks.create_slash_command(
                    world.workspace_id, command, server.url, account.user_id
                )
                server.add_secret(created["signing_secret"])
        yield Registered(server, account.user_id)
        server.stop()


async def test_in_channel_answer_is_posted_by_the_bot(
    cli: Cli, world: World, registered: Registered
) -> None:
    with trio.fail_after(WAIT):
        out = (await cli.ok("slash", "/deploy", "api")).splitlines()
    assert out[0] == "deploying api"
    match = POSTED.fullmatch(out[1])
    assert match and match.group(2) == "general"
    message = await fetch(world, match.group(1))
    assert (message["body"], message["author_id"]) == ("deploying api", registered.bot_id)

    with trio.fail_after(WAIT):
        data = json.loads(await cli.ok("slash", "/deploy web", "--json"))
    assert (data["response_type"], data["text"]) == ("in_channel", "deploying web")
    assert data["message"]["author_id"] == registered.bot_id
    assert data["invocation"]["user_id"] == world.owner.user_id
    with trio.fail_after(WAIT):
        assert await cli.ok("slash", "/deploy", "db", "--plain") == "deploying db\n"


async def test_ephemeral_answer_posts_nothing(
    cli: Cli, world: World, registered: Registered
) -> None:
    before = await world.owner.get(f"/api/channels/{world.channel_id}/messages")
    with trio.fail_after(WAIT):
        assert await cli.ok("slash", "/whisper") == "only you see this\n"
    with trio.fail_after(WAIT):
        data = json.loads(await cli.ok("slash", "/whisper", "--json"))
    assert (data["response_type"], data["text"]) == ("ephemeral", "only you see this")
    assert data["message"]["id"] == ""
    after = await world.owner.get(f"/api/channels/{world.channel_id}/messages")
    assert after.json()["messages"] == before.json()["messages"]


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_failed_callback_is_a_502_error_line(cli: Cli, world: World) -> None:
    bot = await world.bot(["bot:write"])
    async with Client(world.url, token=world.owner.token) as owner:
        await owner.hooks.create_slash_command(
            world.workspace_id, "/broken", f"http://127.0.0.1:{closed_port()}/hook", bot.user_id
        )
    with trio.fail_after(WAIT):
        ran = await cli.run("slash", "/broken", "now")
    error = ran.error(5)
    assert error.startswith("502: slash command callback failed"), error


# Splitting the command from its text.


WORD = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    min_size=1,
).filter(lambda w: w.split() == [w])


@given(WORD.filter(lambda w: w != "/"), st.lists(WORD, max_size=5))
def test_first_word_is_the_command(command: str, words: list[str]) -> None:
    text = " ".join([command, *words])
    name, rest = split_slash("  " + text + "\n")
    assert name == (command if command.startswith("/") else "/" + command)
    assert rest == " ".join(words)


@given(st.text(alphabet=" \t\n/", max_size=6))
def test_no_command_name_is_a_usage_error(text: str) -> None:
    if text.strip() not in ("", "/"):
        return
    try:
        split_slash(text)
    except CliError as exc:
        assert exc.code == 2
    else:
        raise AssertionError(f"{text!r} was accepted")


def test_the_cli_module_is_importable_without_the_server() -> None:
    """``clickclack slash --help`` stays in the light import path (no Trio, no httpx)."""
    code = (
        "import sys, clickclack_sdk.cli as c\n"
        "assert 'trio' not in sys.modules and 'httpx' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([*CLI[:1], "-c", code], check=True, env=cli_env())
