"""``client.threads`` against the real server."""

from __future__ import annotations

import pytest

from clickclack_sdk import Client, InvalidRequest, ThreadReplyCreatedPayload
from tests.conftest import World


async def test_reply_open_and_iterate(world: World, owner: Client) -> None:
    root = (await owner.messages.send(world.channel_id, "root")).message
    first = await owner.threads.reply(root, "first")
    assert first.message.parent_message_id == root.id and first.message.thread_seq == 1
    assert first.thread_state.reply_count == 1
    assert first.events is not None
    assert [e.type for e in first.events] == ["thread.reply_created", "thread.state_updated"]
    assert isinstance(first.events[0].typed_payload(), ThreadReplyCreatedPayload)
    replay = await owner.threads.reply(root.id, "first", nonce=first.message.nonce)
    assert replay.replayed and replay.message.id == first.message.id
    for index in range(2, 6):
        await owner.threads.reply(root, f"reply {index}", quote=first.message)
    page = await owner.threads.open(root, limit=2)
    assert page.root.id == root.id and page.root.route_id
    assert [m.thread_seq for m in page.replies] == [1, 2] and page.has_newer
    latest = await owner.threads.open(root, latest=True, limit=2)
    assert [m.thread_seq for m in latest.replies] == [4, 5]
    window = await owner.threads.open(root, after_seq=2, limit=2)
    assert [m.thread_seq for m in window.replies] == [3, 4]
    assert page.thread_state.reply_count == 5
    for page_size in (1, 2, 3, 5, 10):
        seqs = [m.thread_seq async for m in owner.threads.iter_replies(root, page_size=page_size)]
        assert seqs == [1, 2, 3, 4, 5]
    tail = owner.threads.iter_replies(root, after_seq=3, page_size=1)
    assert [m.body async for m in tail] == ["reply 4", "reply 5"]
    with pytest.raises(ValueError):
        await owner.threads.open(root, latest=True, after_seq=1)


async def test_nested_replies_are_refused(world: World, owner: Client) -> None:
    root = (await owner.messages.send(world.channel_id, "root")).message
    reply = await owner.threads.reply(root, "reply")
    with pytest.raises(InvalidRequest) as caught:
        await owner.threads.reply(reply.message, "nested")
    assert caught.value.error == "nested thread replies are not supported"
    with pytest.raises(InvalidRequest) as not_root:
        await owner.threads.open(reply.message)
    assert not_root.value.error == "thread root must be a root message"
