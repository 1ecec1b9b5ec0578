"""``client.hooks`` against the real server: incoming hooks, slash commands, subscriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from clickclack_sdk import Client, InvalidRequest, PermissionDenied
from tests.conftest import World
from tests.sdk.conftest import ClientFactory
from tests.server.test_hooks import (
    CallbackServer,
    integration_world,
    json_reply,
    open_callback_server,
)


@pytest.fixture
async def endpoint(nursery: trio.Nursery) -> CallbackServer:
    return await open_callback_server(nursery)


@pytest.fixture
async def private_world(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[World]:
    async for world in integration_world(nursery, tmp_path, allow_private_callbacks=True):
        yield world


async def test_mattermost_hook(world: World, owner: Client) -> None:
    posted = await owner.hooks.mattermost(world.channel_id, "from CI", username="ignored")
    assert posted.message.body == "from CI"
    assert posted.event is not None and posted.event.type == "message.created"
    with pytest.raises(InvalidRequest) as caught:
        await owner.hooks.mattermost(world.channel_id, " ")
    assert caught.value.error == "message body is required"


async def test_unregistered_slash_command_posts_as_the_caller(world: World, owner: Client) -> None:
    result = await owner.hooks.slash(world.channel_id, "/shrug", "  why not ")
    assert (result.response_type, result.text) == ("in_channel", "/shrug why not")
    assert result.message is not None and result.message.body == "/shrug why not"
    assert result.message.author_id == world.owner.user_id


async def test_registered_slash_command_round_trip(
    private_world: World, endpoint: CallbackServer, client_for: ClientFactory
) -> None:
    world = private_world
    bot = await world.bot(name="Deployer")
    async with client_for(world.owner, base_url=world.url) as owner:
        command = await owner.hooks.create_slash_command(
            world.workspace_id, "/deploy", endpoint.url("/slash"), bot.user_id, description="Ship"
        )
        assert command["command"] == "/deploy" and command["signing_secret"]
        listed = await owner.hooks.slash_commands(world.workspace_id)
        assert [c["id"] for c in listed] == [command["id"]]
        endpoint.respond = json_reply(200, b'{"response_type": "in_channel", "text": "On it"}')
        result = await owner.hooks.slash(world.channel_id, "/deploy", "staging")
        assert result.message is not None and result.message.author_id == bot.user_id
        assert result.invocation is not None and result.invocation.text == "staging"
        endpoint.respond = json_reply(200, b'{"response_type": "ephemeral", "text": "psst"}')
        quiet = await owner.hooks.slash(world.channel_id, "/deploy")
        assert quiet.text == "psst" and quiet.message is not None and quiet.message.id == ""
        rotated = await owner.hooks.rotate_slash_command_secret(command["id"])
        assert rotated["signing_secret"] != command["signing_secret"]
        revoked = await owner.hooks.revoke_slash_command(command["id"])
        assert revoked["revoked_at"]


async def test_event_subscriptions(world: World, owner: Client, client_for: ClientFactory) -> None:
    types = await owner.hooks.event_types()
    assert "message.created" in types
    created = await owner.hooks.create_event_subscription(
        world.workspace_id, ["message.created"], "https://hooks.example.com/events"
    )
    assert created["signing_secret"]
    assert [s["id"] for s in await owner.hooks.event_subscriptions(world.workspace_id)] == [
        created["id"]
    ]
    page = await owner.hooks.deliveries(created["id"], limit=5)
    assert page["deliveries"] == [] and page["next_cursor"] is None
    assert (await owner.hooks.rotate_event_subscription_secret(created["id"]))["signing_secret"]
    assert (await owner.hooks.revoke_event_subscription(created["id"]))["revoked_at"]
    bot = await world.bot()
    async with client_for(bot) as client:
        with pytest.raises(PermissionDenied):
            await client.hooks.slash_commands(world.workspace_id)
