"""``client.reactions`` against the real server."""

from __future__ import annotations

import pytest

from clickclack_sdk import Client, ReactionPayload, ReactionSummary
from tests.conftest import World
from tests.sdk.conftest import ClientFactory


@pytest.mark.parametrize("emoji", ["👍", ":tada:", "a/b", "100%", "🏳️‍🌈"])
async def test_add_and_remove(world: World, owner: Client, emoji: str) -> None:
    message = (await owner.messages.send(world.channel_id, "react to me")).message
    added = await owner.reactions.add(message, emoji)
    assert added.changed and added.event.type == "reaction.added"
    assert added.reactions == [ReactionSummary(emoji=emoji, count=1, reacted_by_me=True)]
    payload = added.event.typed_payload()
    assert isinstance(payload, ReactionPayload) and payload.emoji == emoji and payload.count == 1
    again = await owner.reactions.add(message, emoji)
    assert not again.changed and again.event.cursor == ""
    assert (await owner.messages.get(message)).reactions == added.reactions
    removed = await owner.reactions.remove(message, emoji)
    assert removed.changed and removed.event.type == "reaction.removed" and removed.reactions == []
    gone = await owner.reactions.remove(message, emoji)
    assert not gone.changed


async def test_reactions_on_replies_and_counts(
    world: World, owner: Client, client_for: ClientFactory
) -> None:
    root = (await owner.messages.send(world.channel_id, "root")).message
    reply = (await owner.threads.reply(root, "reply")).message
    await owner.reactions.add(reply, "🎉")
    other = await world.user("Fan")
    async with client_for(other) as client:
        seen = await client.reactions.add(reply, "🎉")
    assert seen.reactions == [ReactionSummary(emoji="🎉", count=2, reacted_by_me=True)]
    assert seen.event.seq is None
    with pytest.raises(ValueError):
        await owner.reactions.remove(reply, " ")
