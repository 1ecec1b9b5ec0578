"""Threads: replies, thread state, windows, nesting rules."""

from __future__ import annotations

from typing import Any

from tests.conftest import Caller, World


async def root(world: World, body: str = "root") -> dict[str, Any]:
    response = await world.owner.post(
        f"/api/channels/{world.channel_id}/messages", json={"body": body}
    )
    message: dict[str, Any] = response.json()["message"]
    return message


async def reply(caller: Caller, root_id: str, body: str, **extra: Any) -> Any:
    return await caller.post(
        f"/api/messages/{root_id}/thread/replies", json={"body": body, **extra}
    )


async def test_reply_shape_events_and_state(world: World) -> None:
    parent = await root(world)
    other = await world.user("Replier")
    response = await reply(other, parent["id"], "first reply", nonce="r-1")
    assert response.status_code == 201
    body = response.json()
    message = body["message"]
    assert message["parent_message_id"] == parent["id"]
    assert message["thread_root_id"] == parent["id"]
    assert message["thread_seq"] == 1
    assert "channel_seq" not in message
    assert message["channel_id"] == world.channel_id
    assert body["thread_state"]["reply_count"] == 1
    assert body["thread_state"]["last_reply_author_ids"] == [other.user_id]
    created, state = body["events"]
    assert created["type"] == "thread.reply_created"
    assert created["payload"]["message_id"] == message["id"]
    assert created["payload"]["root_message_id"] == parent["id"]
    assert created["payload"]["nonce"] == "r-1"
    assert "seq" not in created and created["channel_id"] == world.channel_id
    assert state["type"] == "thread.state_updated"
    assert state["payload"] == {"root_message_id": parent["id"]}
    replay = await reply(other, parent["id"], "first reply", nonce="r-1")
    assert replay.status_code == 200
    assert replay.json()["events"] is None
    assert replay.json()["message"]["id"] == message["id"]
    conflict = await reply(other, parent["id"], "changed", nonce="r-1")
    assert conflict.status_code == 400
    await reply(world.owner, parent["id"], "second")
    third = await reply(other, parent["id"], "third")
    assert third.json()["thread_state"]["last_reply_author_ids"] == [
        other.user_id,
        world.owner.user_id,
    ]
    assert third.json()["thread_state"]["reply_count"] == 3
    page = (await world.owner.get(f"/api/channels/{world.channel_id}/messages")).json()
    assert [m["id"] for m in page["messages"]] == [parent["id"]]
    assert page["messages"][0]["thread_state"]["reply_count"] == 3


async def test_reply_rules(world: World) -> None:
    parent = await root(world)
    first = (await reply(world.owner, parent["id"], "child")).json()["message"]
    nested = await reply(world.owner, first["id"], "grandchild")
    assert nested.status_code == 400
    assert nested.json() == {"error": "nested thread replies are not supported"}
    empty = await reply(world.owner, parent["id"], "  ")
    assert empty.json() == {"error": "reply body is required"}
    assert (await reply(world.owner, "msg_nope", "x")).status_code == 400
    quoted_root = await reply(world.owner, parent["id"], "quoting", quoted_message_id=parent["id"])
    assert quoted_root.status_code == 201
    outside = await root(world, "other root")
    wrong_quote = await reply(world.owner, parent["id"], "q", quoted_message_id=outside["id"])
    assert wrong_quote.status_code == 400
    not_root = await world.owner.get(f"/api/messages/{first['id']}/thread")
    assert not_root.json() == {"error": "thread root must be a root message"}


async def test_open_thread_windows(world: World) -> None:
    parent = await root(world)
    for index in range(1, 8):
        await reply(world.owner, parent["id"], f"r{index}")
    url = f"/api/messages/{parent['id']}/thread"

    async def seqs(**params: Any) -> tuple[list[int], dict[str, Any]]:
        response = await world.owner.get(url, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        return [m["thread_seq"] for m in body["replies"]], body

    earliest, body = await seqs(limit=3)
    assert earliest == [1, 2, 3] and not body["has_older"] and body["has_newer"]
    assert body["root"]["id"] == parent["id"]
    assert body["root"]["route_id"].startswith("M")
    assert body["thread_state"]["reply_count"] == 7
    assert (body["oldest_seq"], body["newest_seq"]) == (1, 3)
    latest, body = await seqs(limit=3, latest="true")
    assert latest == [5, 6, 7] and body["has_older"] and not body["has_newer"]
    assert (await seqs(after_seq=5))[0] == [6, 7]
    assert (await seqs(before_seq=3))[0] == [1, 2]
    assert (await seqs(around_seq=4, limit=2))[0] == [4, 5]
    assert (await seqs(latest="false", limit=2))[0] == [1, 2]
    for params in (
        {"latest": "yes"},
        {"mode": "latest"},
        {"latest": "true", "after_seq": 1},
        {"after_seq": "a"},
    ):
        assert (await world.owner.get(url, params=params)).status_code == 400, params


async def test_thread_scopes(world: World) -> None:
    parent = await root(world)
    reader = await world.bot(["messages:read"])
    denied = await reader.get(f"/api/messages/{parent['id']}/thread")
    assert denied.json() == {"error": "bot token is missing scope threads:read"}
    writer = await world.bot(["bot:read"])
    denied_write = await reply(writer, parent["id"], "x")
    assert denied_write.json() == {"error": "bot token is missing scope threads:write"}
    ok = await reply(await world.bot(["bot:write"]), parent["id"], "bot reply")
    assert ok.status_code == 201
