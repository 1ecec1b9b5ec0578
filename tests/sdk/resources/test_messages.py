"""``client.messages`` against the real server: send, read, page, edit, delete."""

from __future__ import annotations

import pytest

from clickclack_sdk import Client, InvalidRequest, Message, NotFound, PermissionDenied
from tests.conftest import World
from tests.sdk.conftest import ClientFactory


async def _post(owner: Client, channel_id: str, count: int) -> list[Message]:
    return [(await owner.messages.send(channel_id, f"m{i}")).message for i in range(1, count + 1)]


async def test_send_get_and_nonce_replay(world: World, owner: Client) -> None:
    sent = await owner.messages.send(world.channel_id, "  hello  ")
    assert sent.message.body == "hello" and sent.message.channel_seq == 1
    assert sent.event is not None and sent.event.type == "message.created"
    assert sent.message.nonce and sent.message.nonce.startswith("sdk-")
    again = await owner.messages.send(world.channel_id, "hello", nonce=sent.message.nonce)
    assert again.replayed and again.message.id == sent.message.id
    with pytest.raises(InvalidRequest) as caught:
        await owner.messages.send(world.channel_id, "different", nonce=sent.message.nonce)
    assert caught.value.error == "client nonce was already used for a different message"
    got = await owner.messages.get(sent.message)
    assert got.id == sent.message.id and got.author is not None
    assert (await owner.messages.by_nonce(world.workspace_id, sent.message.nonce)) == got
    assert await owner.messages.by_nonce(world.workspace_id, "never-used") is None


async def test_quote_and_route(world: World, owner: Client) -> None:
    first = (await owner.messages.send(world.channel_id, "original")).message
    quoted = await owner.messages.send(world.channel_id, "see above", quote=first)
    assert quoted.message.quoted_message_id == first.id
    assert quoted.message.quoted_body_snapshot == "original"
    routed = await owner.messages.ensure_route(first)
    assert routed.route_id and routed.route_id.startswith("M")
    with pytest.raises(NotFound):
        await owner.messages.ensure_route("msg_" + "0" * 26)


async def test_pages_and_windows(world: World, owner: Client) -> None:
    await _post(owner, world.channel_id, 7)
    latest = await owner.messages.page(world.channel_id, limit=3)
    assert [m.channel_seq for m in latest.messages] == [5, 6, 7]
    assert latest.has_older and not latest.has_newer
    after = await owner.messages.page(world.channel_id, after_seq=2, limit=2)
    assert [m.channel_seq for m in after.messages] == [3, 4]
    before = await owner.messages.page(world.channel_id, before_seq=3)
    assert [m.channel_seq for m in before.messages] == [1, 2]
    around = await owner.messages.page(world.channel_id, around_seq=4, limit=3)
    assert 4 in [m.channel_seq for m in around.messages]
    with pytest.raises(ValueError):
        await owner.messages.page(world.channel_id, after_seq=1, before_seq=5)


async def test_history_iterators_every_page_size(world: World, owner: Client) -> None:
    await _post(owner, world.channel_id, 9)
    for page_size in (1, 2, 4, 9, 50):
        back = [
            m.channel_seq
            async for m in owner.messages.iter_backward(world.channel_id, page_size=page_size)
        ]
        assert back == list(range(9, 0, -1))
        forward = [
            m.channel_seq
            async for m in owner.messages.iter_forward(world.channel_id, page_size=page_size)
        ]
        assert forward == list(range(1, 10))
    older = owner.messages.iter_backward(world.channel_id, before_seq=5, page_size=2)
    assert [m.channel_seq async for m in older] == [4, 3, 2, 1]
    newer = owner.messages.iter_forward(world.channel_id, after_seq=6, page_size=2)
    assert [m.channel_seq async for m in newer] == [7, 8, 9]
    capped = owner.messages.iter_backward(world.channel_id, page_size=2, limit=3)
    assert [m.channel_seq async for m in capped] == [9, 8, 7]
    assert capped.pages == 2


async def test_edit_and_delete(world: World, owner: Client, client_for: ClientFactory) -> None:
    message = (await owner.messages.send(world.channel_id, "draft")).message
    edited = await owner.messages.edit(message, "final")
    assert edited.message.body == "final" and edited.message.edited_at
    assert edited.event.type == "message.updated"
    other = await world.user("Other")
    async with client_for(other) as client:
        with pytest.raises(InvalidRequest) as caught:
            await client.messages.edit(message, "hijack")
        assert caught.value.error == "only the author can edit a message"
    deleted = await owner.messages.delete(message)
    assert deleted.message.body == "" and deleted.message.deleted_at
    assert deleted.event.type == "message.deleted"
    again = await owner.messages.delete(message)
    assert again.event.id == "" and again.event.payload is None


async def test_bot_scopes(world: World, client_for: ClientFactory) -> None:
    reader = await world.bot(["bot:read"])
    async with client_for(reader) as client:
        with pytest.raises(PermissionDenied) as caught:
            await client.messages.send(world.channel_id, "hi")
    assert caught.value.error == "bot token is missing scope messages:write"
    writer = await world.bot()
    async with client_for(writer) as client:
        sent = await client.messages.send(world.channel_id, "beep")
        assert sent.message.author_id == writer.user_id
        assert [m.body async for m in client.messages.iter_backward(world.channel_id)] == ["beep"]
