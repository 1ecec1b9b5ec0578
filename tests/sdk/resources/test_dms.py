"""``client.dms`` against the real server."""

from __future__ import annotations

import pytest

from clickclack_sdk import Client, Conflict, InvalidRequest, PermissionDenied
from tests.conftest import World
from tests.sdk.conftest import ClientFactory


async def test_conversation_lifecycle(
    world: World, owner: Client, client_for: ClientFactory
) -> None:
    pal = await world.user("Pal")
    conversation = await owner.dms.create(world.workspace_id, [pal.user_id])
    assert {m.id for m in conversation.members} == {world.owner.user_id, pal.user_id}
    assert conversation.can_send and conversation.id.startswith("dm_")
    assert (await owner.dms.create(world.workspace_id, [pal.user_id])).id == conversation.id
    assert [c.id for c in await owner.dms.list(world.workspace_id)] == [conversation.id]
    assert (await owner.dms.get(conversation)).route_id.startswith("D")
    await owner.dms.hide(conversation)
    assert await owner.dms.list(world.workspace_id) == []
    assert (await owner.dms.open(conversation)).id == conversation.id
    assert [c.id for c in await owner.dms.list(world.workspace_id)] == [conversation.id]
    with pytest.raises(InvalidRequest) as caught:
        await owner.dms.create(world.workspace_id, [])
    assert caught.value.error == "direct conversation needs at least two members"


async def test_send_page_iterate_read(
    world: World, owner: Client, client_for: ClientFactory
) -> None:
    pal = await world.user("Pal")
    conversation = await owner.dms.create(world.workspace_id, [pal.user_id])
    sent = await owner.dms.send(conversation, "psst")
    assert sent.message.direct_conversation_id == conversation.id
    assert sent.message.channel_id is None and sent.message.channel_seq == 1
    assert sent.event is not None and sent.event.channel_id is None
    replay = await owner.dms.send(conversation, "psst", nonce=sent.message.nonce)
    assert replay.replayed
    for index in range(2, 6):
        await owner.dms.send(conversation.id, f"dm {index}")
    page = await owner.dms.page(conversation, limit=2)
    assert [m.channel_seq for m in page.messages] == [4, 5]
    assert [m.channel_seq for m in (await owner.dms.page(conversation, after_seq=3)).messages] == [
        4,
        5,
    ]
    back = [m.channel_seq async for m in owner.dms.iter_backward(conversation, page_size=2)]
    assert back == [5, 4, 3, 2, 1]
    forward = [m.channel_seq async for m in owner.dms.iter_forward(conversation, after_seq=2)]
    assert forward == [3, 4, 5]
    async with client_for(pal) as client:
        receipt = await client.dms.mark_read(conversation, 4)
        assert (receipt.scope_id, receipt.last_read_seq) == (conversation.id, 4)
        reply = await client.threads.reply(sent.message, "in a DM thread")
        assert reply.message.direct_conversation_id == conversation.id


async def test_dm_rules(world: World, owner: Client, client_for: ClientFactory) -> None:
    bot = await world.bot(["bot:read"])
    async with client_for(bot) as client:
        with pytest.raises(PermissionDenied) as caught:
            await client.dms.create(world.workspace_id, [world.owner.user_id])
    assert caught.value.error == "bot token is missing scope dms:write"
    writer = await world.bot()
    conversation = await owner.dms.create(world.workspace_id, [writer.user_id])
    async with client_for(writer) as client:
        with pytest.raises(PermissionDenied):
            await client.dms.hide(conversation)
    outsider = await world.user("Leaver")
    group = await owner.dms.create(world.workspace_id, [outsider.user_id, writer.user_id])
    assert len(group.members) == 3


async def test_no_active_recipient_is_a_conflict(world: World, owner: Client) -> None:
    bot = await world.bot()
    conversation = await owner.dms.create(world.workspace_id, [bot.user_id])
    await owner.bots.delete(bot.user_id)
    with pytest.raises(Conflict) as caught:
        await owner.dms.send(conversation, "anyone?")
    assert caught.value.error == "direct conversation has no active recipient"
