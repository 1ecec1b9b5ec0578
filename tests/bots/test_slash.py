"""Slash commands and event deliveries served by CallbackServer, against a real server."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio

from clickclack_bots import (
    Account,
    Bot,
    BotRuntime,
    CallbackServer,
    DeliveryContext,
    MemoryCursorStore,
    SlashContext,
    run_with_callbacks,
)
from clickclack_bots.testing import BotAccount, ClickClackHarness, TcpRelay
from clickclack_sdk import Client, Event, Message
from clickclack_sdk.signing import DEFAULT_TOLERANCE, signature_headers

SECRET = "ccs_test_secret"


@pytest.fixture
async def harness(nursery: trio.Nursery, tmp_path: Path) -> ClickClackHarness:
    """Like the plugin's server, but loopback callbacks are allowed."""
    from clickclack_server.config import Config
    from clickclack_server.runner import run_server
    from clickclack_server.store import users as user_store

    data = tmp_path / "data"
    running = await nursery.start(
        run_server,
        Config(
            addr="127.0.0.1:0", data=str(data), dev_bootstrap=False, allow_private_callbacks=True
        ),
    )
    boot = await running.server.db.write(
        user_store.bootstrap, name="Owner", email="owner@example.com"
    )
    host, _, port = running.url.removeprefix("http://").rpartition(":")
    relay = TcpRelay(host, int(port))
    await nursery.start(relay.run)
    return ClickClackHarness(
        nursery, running, relay, boot.workspace_id, boot.channel_id, boot.user_id, data
    )


@attrs.define
class Setup:
    harness: ClickClackHarness
    server: CallbackServer
    account: BotAccount
    client: Client


def make_bot() -> tuple[Bot, dict[str, Any]]:
    """A bot with a few slash commands; ``state`` lets tests steer and observe them."""
    bot = Bot("slashy")
    state: dict[str, Any] = {
        "release": trio.Event(),
        "posted": [],
        "done": trio.Event(),
        "deliveries": [],
        "delivered": trio.Event(),
    }

    @bot.slash("/deploy")
    async def deploy(ctx: SlashContext, service: str, *, force: bool = False) -> str:
        """Deploy a service."""
        return f"deploying {service} force={force} for {ctx.user_id == ctx.request.user_id}"

    @bot.slash("/secret")
    async def secret(ctx: SlashContext) -> None:
        await ctx.respond("only you see this", ephemeral=True)

    @bot.slash("/slow")
    async def slow(ctx: SlashContext, what: str = "job") -> None:
        await state["release"].wait()
        state["deferred"] = ctx.deferred
        message = await ctx.respond(f"{what} finished")
        state["posted"].append(message)
        state["done"].set()

    @bot.slash("/slowprivate")
    async def slow_private(ctx: SlashContext) -> None:
        await state["release"].wait()
        state["posted"].append(await ctx.respond("private result", ephemeral=True))
        state["done"].set()

    @bot.slash("/boom")
    async def boom(ctx: SlashContext) -> str:
        raise RuntimeError("kaput")

    @bot.on_delivery("message.created")
    async def created(ctx: DeliveryContext) -> None:
        state["deliveries"].append((ctx.subscription_id, ctx.event))
        state["delivered"].set()

    @bot.on_delivery("reaction.added")
    async def reacted(ctx: DeliveryContext) -> None:
        state["deliveries"].append(("reaction", ctx.event))

    return bot, state


@pytest.fixture
async def state_and_setup(
    harness: ClickClackHarness, nursery: trio.Nursery
) -> AsyncIterator[tuple[dict[str, Any], Setup]]:
    bot, state = make_bot()
    account = await harness.create_bot_account("Slashy")
    async with harness.client(account.token) as client:
        server = CallbackServer(bot, client, secrets=[SECRET], budget=0.5)
        await nursery.start(server.run)
        yield state, Setup(harness, server, account, client)


async def register(setup: Setup, command: str) -> None:
    owner = await setup.harness.owner()
    created = await owner.client.hooks.create_slash_command(
        setup.harness.workspace_id, command, setup.server.url, setup.account.user_id
    )
    setup.server.add_secret(created["signing_secret"])


async def test_in_channel_reply_with_parsed_arguments(
    state_and_setup: tuple[dict[str, Any], Setup],
) -> None:
    _, setup = state_and_setup
    await register(setup, "/deploy")
    owner = await setup.harness.owner()
    with trio.fail_after(10):
        result = await owner.client.hooks.slash(setup.harness.general_id, "/deploy", "api --force")
    assert result.response_type == "in_channel"
    assert result.text == "deploying api force=True for True"
    assert result.message is not None and result.message.author_id == setup.account.user_id
    assert result.message.body == result.text


async def test_ephemeral_reply_posts_nothing(
    state_and_setup: tuple[dict[str, Any], Setup],
) -> None:
    _, setup = state_and_setup
    await register(setup, "/secret")
    owner = await setup.harness.owner()
    with trio.fail_after(10):
        result = await owner.client.hooks.slash(setup.harness.general_id, "/secret")
    assert (result.response_type, result.text) == ("ephemeral", "only you see this")
    assert result.message is None or result.message.id == ""


async def test_usage_error_is_ephemeral(state_and_setup: tuple[dict[str, Any], Setup]) -> None:
    _, setup = state_and_setup
    await register(setup, "/deploy")
    owner = await setup.harness.owner()
    with trio.fail_after(10):
        result = await owner.client.hooks.slash(setup.harness.general_id, "/deploy", "")
    assert result.response_type == "ephemeral"
    assert "missing argument <service>" in result.text
    assert "Usage: `/deploy <service> [--force]`" in result.text


async def test_failing_handler_answers_privately(
    state_and_setup: tuple[dict[str, Any], Setup],
) -> None:
    _, setup = state_and_setup
    await register(setup, "/boom")
    owner = await setup.harness.owner()
    with trio.fail_after(10):
        result = await owner.client.hooks.slash(setup.harness.general_id, "/boom")
    assert (result.response_type, result.text) == ("ephemeral", "Sorry, /boom failed.")


async def test_slow_handler_is_acknowledged_then_posts(
    state_and_setup: tuple[dict[str, Any], Setup],
) -> None:
    state, setup = state_and_setup
    await register(setup, "/slow")
    owner = await setup.harness.owner()
    with trio.fail_after(10):
        result = await owner.client.hooks.slash(setup.harness.general_id, "/slow", "backup")
    assert (result.response_type, result.text) == ("ephemeral", "Working on /slow…")
    assert not state["done"].is_set()
    state["release"].set()
    with trio.fail_after(10):
        await state["done"].wait()
    assert state["deferred"] is True
    posted: Message = state["posted"][0]
    fetched = await owner.client.messages.get(posted.id)
    assert fetched.body == "backup finished"
    assert fetched.author_id == setup.account.user_id
    assert fetched.channel_id == setup.harness.general_id


async def test_slow_ephemeral_result_goes_to_a_dm(
    state_and_setup: tuple[dict[str, Any], Setup],
) -> None:
    state, setup = state_and_setup
    await register(setup, "/slowprivate")
    owner = await setup.harness.owner()
    with trio.fail_after(10):
        result = await owner.client.hooks.slash(setup.harness.general_id, "/slowprivate")
    assert result.response_type == "ephemeral"
    state["release"].set()
    with trio.fail_after(10):
        await state["done"].wait()
    posted: Message = state["posted"][0]
    fetched = await owner.client.messages.get(posted.id)
    assert fetched.body == "private result"
    assert fetched.direct_conversation_id


async def test_delivery_reaches_typed_handler(
    state_and_setup: tuple[dict[str, Any], Setup],
) -> None:
    state, setup = state_and_setup
    owner = await setup.harness.owner()
    created = await owner.client.hooks.create_event_subscription(
        setup.harness.workspace_id, ["message.created"], setup.server.url
    )
    setup.server.add_secret(created["signing_secret"])
    said = await owner.say("#general", "hello subscribers")
    with trio.fail_after(10):
        await state["delivered"].wait()
    subscription_id, event = state["deliveries"][0]
    assert subscription_id == created["id"]
    assert isinstance(event, Event)
    assert event.type == "message.created"
    assert (event.payload or {})["message_id"] == said.id
    assert all(kind != "reaction" for kind, _ in state["deliveries"])


# Direct requests: signature checks and malformed input.


def slash_body(trigger: str = "sci_1", command: str = "/deploy", text: str = "api") -> bytes:
    return json.dumps(
        {
            "command_id": "cmd_1",
            "command": command,
            "text": text,
            "workspace_id": "W1",
            "channel_id": "C1",
            "user_id": "U1",
            "bot_user_id": "B1",
            "trigger_id": trigger,
        }
    ).encode()


async def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(url, content=body, headers=headers)


async def test_valid_signature_is_accepted_and_replay_refused(
    state_and_setup: tuple[dict[str, Any], Setup],
) -> None:
    _, setup = state_and_setup
    body = slash_body()
    headers = signature_headers(SECRET, body)
    first = await post(setup.server.url, body, headers)
    assert first.status_code == 200
    assert first.json() == {
        "response_type": "in_channel",
        "text": "deploying api force=False for True",
    }
    again = await post(setup.server.url, body, headers)
    assert again.status_code == 409


OUTSIDE_WINDOW = DEFAULT_TOLERANCE + 30


@pytest.mark.parametrize(
    "tamper",
    ["body", "secret", "stale", "future", "missing", "scheme"],
)
async def test_bad_signatures_are_401(
    state_and_setup: tuple[dict[str, Any], Setup], tamper: str
) -> None:
    _, setup = state_and_setup
    body = slash_body(trigger=f"sci_{tamper}")
    headers = signature_headers(SECRET, body)
    if tamper == "body":
        body = slash_body(trigger=f"sci_{tamper}", text="prod --force")
    elif tamper == "secret":
        headers = signature_headers("ccs_other", body)
    elif tamper == "stale":
        headers = signature_headers(SECRET, body, timestamp=int(time.time()) - OUTSIDE_WINDOW)
    elif tamper == "future":
        # Whole seconds: int() floors, so a margin of one second could land inside the window.
        headers = signature_headers(SECRET, body, timestamp=int(time.time()) + OUTSIDE_WINDOW)
    elif tamper == "missing":
        headers = {}
    else:
        headers["X-ClickClack-Signature"] = "md5=abc"
    response = await post(setup.server.url, body, headers)
    assert response.status_code == 401
    assert response.json()["error"].startswith("invalid signature")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (json.dumps({"command": "/deploy"}).encode(), 400),
        (json.dumps({"command": 5, "trigger_id": "x", "channel_id": "C"}).encode(), 400),
        (json.dumps({"subscription_id": "sub_1", "event": {"id": 3}}).encode(), 400),
    ],
)
async def test_malformed_signed_bodies_are_400(
    state_and_setup: tuple[dict[str, Any], Setup], body: bytes, status: int
) -> None:
    _, setup = state_and_setup
    response = await post(setup.server.url, body, signature_headers(SECRET, body))
    assert response.status_code == status


async def test_unknown_command_is_ephemeral(
    state_and_setup: tuple[dict[str, Any], Setup],
) -> None:
    _, setup = state_and_setup
    body = slash_body(command="/nope")
    response = await post(setup.server.url, body, signature_headers(SECRET, body))
    assert response.json() == {"response_type": "ephemeral", "text": "Unknown command /nope."}


async def test_wrong_path_and_method(state_and_setup: tuple[dict[str, Any], Setup]) -> None:
    _, setup = state_and_setup
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(setup.server.url)).status_code == 405
        other = setup.server.url.rsplit("/", 1)[0] + "/other"
        assert (await client.post(other, content=b"{}")).status_code == 404


async def test_duplicate_delivery_is_refused(
    state_and_setup: tuple[dict[str, Any], Setup],
) -> None:
    state, setup = state_and_setup
    event = {
        "id": "evt_1",
        "cursor": "cur_1",
        "type": "message.created",
        "workspace_id": "W1",
        "created_at": "2026-01-01T00:00:00Z",
        "payload": {"message_id": "M1"},
    }
    body = json.dumps({"subscription_id": "sub_1", "event": event}).encode()
    first = await post(setup.server.url, body, signature_headers(SECRET, body))
    assert first.status_code == 200
    with trio.fail_after(10):
        await state["delivered"].wait()
    assert state["deliveries"][0][1].id == "evt_1"
    second = await post(setup.server.url, body, signature_headers(SECRET, body))
    assert second.status_code == 409
    assert len(state["deliveries"]) == 1


async def test_run_with_callbacks_serves_beside_the_runtime(
    harness: ClickClackHarness, nursery: trio.Nursery
) -> None:
    bot, _ = make_bot()
    account = await harness.create_bot_account("Together")
    async with harness.client(account.token) as client:
        runtime = BotRuntime(
            Account(
                bot=bot,
                server=harness.url,
                token=account.token,
                start="now",
                store=MemoryCursorStore(),
            ),
            client=client,
        )
        finished = trio.Event()

        async def supervised(*, task_status: trio.TaskStatus[CallbackServer]) -> None:
            await run_with_callbacks(runtime, budget=1.0, task_status=task_status)
            finished.set()

        with trio.fail_after(10):
            server: CallbackServer = await nursery.start(supervised)
        assert server.client is client
        setup = Setup(harness, server, account, client)
        await register(setup, "/deploy")
        owner = await harness.owner()
        with trio.fail_after(10):
            result = await owner.client.hooks.slash(harness.general_id, "/deploy", "web")
        assert result.text == "deploying web force=False for True"
        runtime.stop(1.0)
        with trio.fail_after(10):
            await finished.wait()
        with pytest.raises(httpx.TransportError):  # the endpoint went away with the runtime
            await post(server.url, b"{}", {})


# Registration checks.


def test_slash_names_are_validated() -> None:
    bot = Bot("b")

    async def handler(ctx: SlashContext) -> None:
        return None

    bot.slash("Deploy")(handler)
    assert "/deploy" in bot.slash_routes
    with pytest.raises(ValueError):
        bot.slash("/deploy")(handler)
    with pytest.raises(ValueError):
        bot.slash("/has space")
    with pytest.raises(ValueError):
        bot.slash("/" + "x" * 33)


def test_on_delivery_without_types_matches_everything() -> None:
    bot = Bot("b")

    @bot.on_delivery()
    async def anything(ctx: DeliveryContext) -> None:
        return None

    route = bot.delivery_routes[0]
    assert route.matches("message.created") and route.matches("reaction.added")


@pytest.mark.parametrize("budget", [0, 3, 5, -1])
def test_budget_must_stay_below_the_server_timeout(budget: float) -> None:
    with pytest.raises(ValueError):
        CallbackServer(Bot("b"), Client("http://127.0.0.1:1"), budget=budget)
