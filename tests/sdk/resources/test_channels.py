"""``client.channels`` against the real server."""

from __future__ import annotations

import pytest

from clickclack_sdk import Client, InvalidRequest, NotFound, PermissionDenied
from tests.conftest import World
from tests.sdk.conftest import ClientFactory


async def test_create_list_find(world: World, owner: Client) -> None:
    created = await owner.channels.create(
        world.workspace_id,
        "Dev Ops!",
        display_title="Dev & Ops",
        sidebar_section="Teams",
        external_managed=True,
        external_ref="ext-1",
        external_url="https://example.com/x",
    )
    channel = created.channel
    assert (channel.name, channel.display_title, channel.kind) == ("dev-ops", "Dev & Ops", "public")
    assert channel.external_managed and channel.external_ref == "ext-1"
    assert created.event.type == "channel.created"
    assert created.event.channel_id == channel.id
    names = [c.name for c in await owner.channels.list(world.workspace_id)]
    assert names == ["dev-ops", "general"]
    assert (await owner.channels.find("#DEV-OPS", workspace=world.workspace_id)).id == channel.id
    assert (await owner.channels.find("general", workspace=world.workspace_id)).id == (
        world.channel_id
    )
    assert (await owner.channels.find(channel.id)).name == "dev-ops"
    with pytest.raises(NotFound):
        await owner.channels.find("#missing", workspace=world.workspace_id)
    with pytest.raises(NotFound):
        await owner.channels.find("chn_" + "0" * 26)
    with pytest.raises(ValueError):
        await owner.channels.find("general")
    with pytest.raises(InvalidRequest):
        await owner.channels.create(world.workspace_id, "dev ops")


async def test_update_archive_and_read_pointer(world: World, owner: Client) -> None:
    renamed = await owner.channels.update(
        world.channel_id, name="lobby", display_title="Lobby", sidebar_section=""
    )
    assert renamed.channel.name == "lobby" and renamed.event.type == "channel.updated"
    archived = await owner.channels.archive(world.channel_id)
    assert archived.channel.archived_at is not None
    payload = archived.event.typed_payload()
    assert getattr(payload, "archived", None) is True
    restored = await owner.channels.unarchive(world.channel_id)
    assert restored.channel.archived_at is None
    for index in range(3):
        await owner.messages.send(world.channel_id, f"m{index}")
    receipt = await owner.channels.mark_read(world.channel_id, 99)
    assert (receipt.scope_id, receipt.user_id, receipt.last_read_seq) == (
        world.channel_id,
        world.owner.user_id,
        3,
    )
    assert (await owner.channels.mark_read(world.channel_id, 1)).last_read_seq == 3


async def test_channel_scopes_for_bots(world: World, client_for: ClientFactory) -> None:
    reader = await world.bot(["bot:read"])
    async with client_for(reader) as client:
        assert [c.id for c in await client.channels.list(world.workspace_id)] == [world.channel_id]
        with pytest.raises(PermissionDenied) as caught:
            await client.channels.create(world.workspace_id, "bots")
    assert caught.value.error == "bot token is missing scope channels:write"
    moderator = await world.user("Mod", role="moderator")
    async with client_for(moderator) as client:
        with pytest.raises(PermissionDenied):
            await client.channels.update(world.channel_id, name="nope")
