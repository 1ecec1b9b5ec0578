"""``client.search`` against the real server."""

from __future__ import annotations

import pytest

from clickclack_sdk import Client, InvalidRequest, PermissionDenied
from tests.conftest import World
from tests.sdk.conftest import ClientFactory


async def test_pages_and_iteration(world: World, owner: Client) -> None:
    for index in range(7):
        await owner.messages.send(world.channel_id, f"deploy number {index}")
    await owner.messages.send(world.channel_id, "unrelated chatter")
    first = await owner.search.page(world.workspace_id, "deploy", sort="newest", limit=3)
    assert len(first.results) == 3 and first.next_cursor
    assert first.results[0].snippet == "deploy number 6"
    assert first.results[0].highlights[0].start == 0
    hits = [
        hit.snippet
        async for hit in owner.search.iter(world.workspace_id, "deploy", sort="newest", page_size=3)
    ]
    assert hits == [f"deploy number {i}" for i in range(6, -1, -1)]
    capped = await owner.search.iter(world.workspace_id, "deploy", page_size=2, limit=3).collect()
    assert len(capped) == 3
    scoped = await owner.search.page(world.workspace_id, "chatter", channel=world.channel_id)
    assert [h.channel_id for h in scoped.results] == [world.channel_id]
    assert (await owner.search.page(world.workspace_id, "")).results == []
    with pytest.raises(InvalidRequest):
        await owner.search.page(world.workspace_id, "deploy", sort="oldest")


async def test_dm_scope(world: World, owner: Client, client_for: ClientFactory) -> None:
    pal = await world.user("Pal")
    conversation = await owner.dms.create(world.workspace_id, [pal.user_id])
    await owner.dms.send(conversation, "secret plans")
    assert (await owner.search.page(world.workspace_id, "secret")).results == []
    found = await owner.search.page(world.workspace_id, "secret", conversation=conversation)
    assert [h.direct_conversation_id for h in found.results] == [conversation.id]
    bot = await world.bot(["messages:read"])
    async with client_for(bot) as client:
        with pytest.raises(PermissionDenied):
            await client.search.page(world.workspace_id, "secret", conversation=conversation)
