"""``client.realtime`` REST parts: pull, ephemeral publishing helpers."""

from __future__ import annotations

import pytest

from clickclack_sdk import AgentProgressPayload, Client, PermissionDenied, PresencePayload
from tests.conftest import World
from tests.sdk.conftest import ClientFactory


async def test_pull_pages_and_tail(world: World, owner: Client) -> None:
    empty = await owner.realtime.pull(world.workspace_id, include_tail=True)
    start = empty.tail_cursor
    for index in range(3):
        await owner.messages.send(world.channel_id, f"m{index}")
    everything = await owner.realtime.pull(world.workspace_id, after_cursor=start)
    assert [e.type for e in everything.events] == ["message.created"] * 3
    assert everything.tail_cursor is None
    first = await owner.realtime.pull(world.workspace_id, after_cursor=start, limit=2)
    rest = await owner.realtime.pull(world.workspace_id, after_cursor=first.events[-1].cursor)
    assert [e.cursor for e in first.events + rest.events] == [e.cursor for e in everything.events]
    tail = await owner.realtime.pull(world.workspace_id, limit=1, include_tail=True)
    assert tail.tail_cursor == everything.events[-1].cursor


async def test_ephemeral_helpers(world: World, owner: Client, client_for: ClientFactory) -> None:
    typing = await owner.realtime.typing(world.workspace_id, channel=world.channel_id)
    assert typing.type == "typing.started" and typing.id.startswith("eph_")
    assert typing.cursor == "" and typing.channel_id == world.channel_id
    stopped = await owner.realtime.typing(
        world.workspace_id, channel=world.channel_id, stopped=True
    )
    assert stopped.type == "typing.stopped"
    presence = await owner.realtime.presence(world.workspace_id, "away", device="phone")
    payload = presence.typed_payload()
    assert isinstance(payload, PresencePayload) and payload.status == "away"
    assert presence.payload is not None and presence.payload["device"] == "phone"
    pal = await world.user("Pal")
    conversation = await owner.dms.create(world.workspace_id, [pal.user_id])
    dm_typing = await owner.realtime.typing(world.workspace_id, conversation=conversation)
    assert dm_typing.channel_id is None
    assert dm_typing.payload == {
        "user_id": world.owner.user_id,
        "direct_conversation_id": conversation.id,
    }
    with pytest.raises(PermissionDenied) as caught:
        await owner.realtime.agent_progress(world.workspace_id, channel=world.channel_id, op="x")
    assert caught.value.error == "agent.progress requires a bot token"
    bot = await world.bot()
    async with client_for(bot) as client:
        progress = await client.realtime.agent_progress(
            world.workspace_id,
            channel=world.channel_id,
            turn_id="t1",
            seq=1,
            op="append",
            line={"text": "working"},
        )
    parsed = progress.typed_payload()
    assert isinstance(parsed, AgentProgressPayload)
    assert (parsed.turn_id, parsed.seq, parsed.line) == ("t1", 1, {"text": "working"})
    for bad in (
        {"type": "message.created"},
        {"type": "typing.started", "channel": "c", "conversation": "d"},
    ):
        with pytest.raises(ValueError):
            await owner.realtime.publish(world.workspace_id, **bad)  # type: ignore[arg-type]
