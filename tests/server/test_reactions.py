"""Reactions: add/remove, idempotent no-ops with zero events, summaries, scopes."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.conftest import World

ZERO = {"id": "", "cursor": "", "type": "", "workspace_id": "", "created_at": "", "payload": None}


async def message(world: World) -> dict[str, Any]:
    response = await world.owner.post(
        f"/api/channels/{world.channel_id}/messages", json={"body": "react"}
    )
    result: dict[str, Any] = response.json()["message"]
    return result


async def test_add_remove_and_summaries(world: World) -> None:
    target = await message(world)
    other = await world.user("Reactor")
    added = await world.owner.post(f"/api/messages/{target['id']}/reactions", json={"emoji": "👍"})
    assert added.status_code == 201
    body = added.json()
    assert body["reactions"] == [{"emoji": "👍", "count": 1, "reacted_by_me": True}]
    event = body["event"]
    assert event["type"] == "reaction.added"
    assert event["payload"] == {
        "message_id": target["id"],
        "emoji": "👍",
        "user_id": world.owner.user_id,
        "count": 1,
    }
    assert event["seq"] == target["channel_seq"] and event["channel_id"] == world.channel_id
    again = await world.owner.post(f"/api/messages/{target['id']}/reactions", json={"emoji": "👍"})
    assert again.status_code == 200
    assert again.json()["event"] == ZERO
    theirs = await other.post(f"/api/messages/{target['id']}/reactions", json={"emoji": "👍"})
    assert theirs.json()["reactions"] == [{"emoji": "👍", "count": 2, "reacted_by_me": True}]
    assert theirs.json()["event"]["payload"]["count"] == 2
    await other.post(f"/api/messages/{target['id']}/reactions", json={"emoji": ":tada:"})
    fetched = (await world.owner.get(f"/api/messages/{target['id']}")).json()["message"]
    assert fetched["reactions"] == [
        {"emoji": "👍", "count": 2, "reacted_by_me": True},
        {"emoji": ":tada:", "count": 1, "reacted_by_me": False},
    ]
    removed = await world.owner.delete(f"/api/messages/{target['id']}/reactions/{quote('👍')}")
    assert removed.status_code == 200
    assert removed.json()["event"]["type"] == "reaction.removed"
    assert removed.json()["event"]["payload"]["count"] == 1
    assert removed.json()["reactions"][0] == {"emoji": "👍", "count": 1, "reacted_by_me": False}
    missing = await world.owner.delete(f"/api/messages/{target['id']}/reactions/{quote(':tada:')}")
    assert missing.status_code == 200
    assert missing.json()["event"] == ZERO
    cleared = await other.delete(f"/api/messages/{target['id']}/reactions/{quote('👍')}")
    await other.delete(f"/api/messages/{target['id']}/reactions/{quote(':tada:')}")
    assert cleared.json()["reactions"] == [{"emoji": ":tada:", "count": 1, "reacted_by_me": True}]
    final = (await world.owner.get(f"/api/messages/{target['id']}")).json()["message"]
    assert "reactions" not in final


async def test_reactions_on_replies_and_errors(world: World) -> None:
    target = await message(world)
    reply = (
        await world.owner.post(f"/api/messages/{target['id']}/thread/replies", json={"body": "r"})
    ).json()["message"]
    on_reply = await world.owner.post(f"/api/messages/{reply['id']}/reactions", json={"emoji": "x"})
    assert on_reply.status_code == 201
    assert "seq" not in on_reply.json()["event"]
    assert (
        await world.owner.post(f"/api/messages/{target['id']}/reactions", json={"emoji": " "})
    ).status_code == 400
    assert (
        await world.owner.post("/api/messages/msg_nope/reactions", json={"emoji": "x"})
    ).status_code == 400
    reader = await world.bot(["bot:read"])
    denied = await reader.post(f"/api/messages/{target['id']}/reactions", json={"emoji": "x"})
    assert denied.json() == {"error": "bot token is missing scope messages:write"}
    outsider = await world.user("Outsider", role="")
    assert (
        await outsider.post(f"/api/messages/{target['id']}/reactions", json={"emoji": "x"})
    ).status_code == 400
