"""``client.bots`` against the real server."""

from __future__ import annotations

import pytest

from clickclack_sdk import BotCommandSpec, Client, InvalidRequest, NotFound, PermissionDenied
from tests.conftest import World
from tests.sdk.conftest import ClientFactory


async def test_bot_and_token_lifecycle(
    world: World, owner: Client, client_for: ClientFactory
) -> None:
    created = await owner.bots.create(
        world.workspace_id,
        "Deploy Bot",
        handle="deployer",
        token_name="ci",
        scopes=["bot:read", "messages:write"],
    )
    bot, token = created.bot, created.bot_token
    assert bot.kind == "bot" and bot.handle == "deployer"
    assert token is not None and token.token and token.token.startswith("ccb_")
    assert token.name == "ci" and "messages:write" in token.scopes
    bare = await owner.bots.create(world.workspace_id, "No Token", initial_token=False)
    assert bare.bot_token is None
    listed = {entry.bot.id: entry for entry in await owner.bots.list(world.workspace_id)}
    assert set(listed) == {bot.id, bare.bot.id}
    assert [t.id for t in listed[bot.id].tokens] == [token.id]
    assert all(t.token is None for t in listed[bot.id].tokens)
    second = await owner.bots.create_token(
        bot, workspace=world.workspace_id, name="two", scopes=["bot:write"]
    )
    assert second.token and second.name == "two"
    legacy = await owner.bots.create_token(bot.id)
    assert legacy.token
    tokens = await owner.bots.tokens(bot, workspace=world.workspace_id)
    assert [t.id for t in tokens] == [legacy.id, second.id, token.id]
    assert [t.id for t in await owner.bots.tokens(bot.id)] == [t.id for t in tokens]
    revoked = await owner.bots.revoke_token(second.id)
    assert revoked.revoked_at is not None
    assert (await owner.bots.revoke_token(second.id)).revoked_at == revoked.revoked_at
    async with client_for(None, token=token.token) as as_bot:
        assert (await as_bot.me.get()).id == bot.id
        with pytest.raises(PermissionDenied):
            await as_bot.bots.list(world.workspace_id)
    await owner.bots.remove_from_workspace(world.workspace_id, bare.bot)
    with pytest.raises(NotFound):
        await owner.bots.remove_from_workspace(world.workspace_id, bare.bot)
    deleted = await owner.bots.delete(bot)
    assert (deleted.id, deleted.former_handle) == (bot.id, "deployer")
    with pytest.raises(NotFound):
        await owner.bots.delete(bot)
    with pytest.raises(InvalidRequest):
        await owner.bots.create(world.workspace_id, "Bad", scopes=["root"])


async def test_command_menus(world: World, owner: Client, client_for: ClientFactory) -> None:
    bot = await world.bot()
    async with client_for(bot) as client:
        saved = await client.bots.set_commands(
            [
                BotCommandSpec(command="/deploy", description="Ship it", args_hint="<env>"),
                BotCommandSpec(command="status", description="How is it going"),
            ]
        )
        assert [c.command for c in saved] == ["/deploy", "/status"]
        listed = await client.bots.commands(world.workspace_id)
        assert {c.command for c in listed} == {"/deploy", "/status"}
        assert all(c.bot.id == bot.user_id for c in listed)
        assert await client.bots.set_commands([]) == []
    with pytest.raises(PermissionDenied) as caught:
        await owner.bots.set_commands([BotCommandSpec(command="/x", description="x")])
    assert caught.value.error == "bot token required"
    assert await owner.bots.commands(world.workspace_id) == []
