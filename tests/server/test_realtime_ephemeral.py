"""``POST /api/realtime/ephemeral``: typing, presence and agent progress (protocol 4.7)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from trio_websocket import WebSocketConnection

from clickclack_server import ids
from clickclack_server.db import Tx
from tests.conftest import Caller, World
from tests.server.test_realtime_socket import (
    make_channel,
    make_dm,
    next_event,
    open_socket,
    tail_cursor,
)

EPHEMERAL_ID = re.compile(r"^eph_\d{14}\.\d{9}$")


async def publish(caller: Caller, **body: Any) -> Any:
    return await caller.post("/api/realtime/ephemeral", json=body)


async def test_channel_typing_shape(world: World) -> None:
    response = await publish(
        world.owner,
        workspace_id=world.workspace_id,
        type="typing.started",
        channel_id=world.channel_id,
        payload={"user_id": "usr_spoofed", "direct_conversation_id": "dm_x", "draft": True},
    )
    assert response.status_code == 202
    event = response.json()["event"]
    assert EPHEMERAL_ID.match(event["id"])
    assert event["cursor"] == ""
    assert event["type"] == "typing.started"
    assert event["workspace_id"] == world.workspace_id
    assert event["channel_id"] == world.channel_id
    assert "seq" not in event
    assert event["payload"] == {
        "user_id": world.owner.user_id,
        "channel_id": world.channel_id,
        "draft": True,
    }
    # The id is the creation instant: YYYYMMDDhhmmss.nnnnnnnnn in UTC.
    created = ids.format_ns(ids.parse_rfc3339_ns(event["created_at"]))
    digits = created.replace("-", "").replace(":", "").replace("T", "").removesuffix("Z")
    assert event["id"] == "eph_" + digits


async def test_dm_typing_and_presence_shapes(world: World) -> None:
    member = await world.user()
    conversation = await make_dm(world, [world.owner.user_id, member.user_id])
    response = await publish(
        member,
        workspace_id=world.workspace_id,
        type="typing.stopped",
        direct_conversation_id=conversation,
        payload={"channel_id": "chn_spoofed"},
    )
    assert response.status_code == 202
    event = response.json()["event"]
    assert "channel_id" not in event
    assert event["payload"] == {"user_id": member.user_id, "direct_conversation_id": conversation}
    presence = await publish(
        member,
        workspace_id=world.workspace_id,
        type="presence.changed",
        payload={"status": "away"},
    )
    assert presence.status_code == 202
    assert presence.json()["event"]["payload"] == {"status": "away", "user_id": member.user_id}
    assert "channel_id" not in presence.json()["event"]


async def test_validation(world: World) -> None:
    base = {"workspace_id": world.workspace_id}
    cases: list[tuple[dict[str, Any], int, str]] = [
        (
            {"type": "typing.started", "channel_id": world.channel_id},
            400,
            "workspace_id is required",
        ),
        ({**base, "type": "message.created"}, 400, "unsupported ephemeral event type"),
        ({**base}, 400, "unsupported ephemeral event type"),
        (
            {**base, "type": "typing.started"},
            400,
            "channel_id or direct_conversation_id is required",
        ),
        (
            {
                **base,
                "type": "typing.started",
                "channel_id": world.channel_id,
                "direct_conversation_id": "dm_1",
            },
            400,
            "channel_id and direct_conversation_id are mutually exclusive",
        ),
        (
            {**base, "type": "agent.progress", "channel_id": world.channel_id},
            403,
            "agent.progress requires a bot token",
        ),
        (
            {**base, "type": "presence.changed", "channel_id": "chn_00000000000000000000000000"},
            403,
            "channel is not accessible",
        ),
        (
            {
                **base,
                "type": "typing.started",
                "direct_conversation_id": "dm_00000000000000000000000000",
            },
            403,
            "direct conversation is not accessible",
        ),
        (
            {"workspace_id": "wsp_00000000000000000000000000", "type": "presence.changed"},
            400,
            "sql: no rows in result set",
        ),
    ]
    for body, status, error in cases:
        response = await world.owner.post("/api/realtime/ephemeral", json=body)
        assert (response.status_code, response.json()) == (status, {"error": error}), body
    bad_payload = await publish(world.owner, **base, type="presence.changed", payload=[1])
    assert bad_payload.status_code == 400
    bad_type = await publish(world.owner, **base, type=5)
    assert bad_type.status_code == 400
    empty = await world.owner.post("/api/realtime/ephemeral", content=b"")
    assert (empty.status_code, empty.json()) == (400, {"error": "EOF"})
    assert (await publish(world.anon(), **base, type="presence.changed")).status_code == 401


async def test_target_access_rules(world: World) -> None:
    other = await world.workspace()
    foreign_channel = (await world.owner.get(f"/api/workspaces/{other}")).json()
    assert foreign_channel["workspace"]["id"] == other

    def general_of(tx: Tx) -> str:
        channel_id: str = tx.scalar("SELECT id FROM channels WHERE workspace_id = ?", (other,))
        return channel_id

    elsewhere = await world.db.read(general_of)
    response = await publish(
        world.owner, workspace_id=world.workspace_id, type="typing.started", channel_id=elsewhere
    )
    assert (response.status_code, response.json()) == (403, {"error": "channel is not accessible"})

    guest = await world.user("Guest", role="guest")
    lobby = await make_channel(world, "guest")
    response = await publish(
        guest, workspace_id=world.workspace_id, type="typing.started", channel_id=world.channel_id
    )
    assert (response.status_code, response.json()) == (403, {"error": "channel is not accessible"})
    response = await publish(
        guest, workspace_id=world.workspace_id, type="typing.started", channel_id=lobby
    )
    assert response.status_code == 202
    conversation = await make_dm(world, [guest.user_id, world.owner.user_id])
    response = await publish(
        guest,
        workspace_id=world.workspace_id,
        type="typing.started",
        direct_conversation_id=conversation,
    )
    assert response.status_code == 403

    outsider = await world.user(role="")
    response = await publish(outsider, workspace_id=world.workspace_id, type="presence.changed")
    assert (response.status_code, response.json()) == (
        400,
        {"error": "not a member of this workspace"},
    )

    blocked = await world.user()

    def block(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO workspace_member_moderation (workspace_id, user_id, blocked_at) VALUES (?, ?, ?)",
            (world.workspace_id, blocked.user_id, ids.now()),
        )

    await world.db.write(block)
    response = await publish(blocked, workspace_id=world.workspace_id, type="presence.changed")
    assert (response.status_code, response.json()) == (403, {"error": "moderation restriction"})


async def test_bot_scopes(world: World) -> None:
    writer = await world.bot(["bot:write"])
    reader = await world.bot(["bot:read"])
    no_dms = await world.bot(["messages:write"])
    conversation = await make_dm(world, [writer.user_id, no_dms.user_id, world.owner.user_id])
    base = {"workspace_id": world.workspace_id}
    response = await publish(reader, **base, type="typing.started", channel_id=world.channel_id)
    assert (response.status_code, response.json()) == (
        403,
        {"error": "bot token is missing scope messages:write"},
    )
    response = await publish(
        no_dms, **base, type="typing.started", direct_conversation_id=conversation
    )
    assert (response.status_code, response.json()) == (
        403,
        {"error": "bot token is missing scope dms:write"},
    )
    other = await world.workspace()
    response = await publish(writer, workspace_id=other, type="presence.changed")
    assert (response.status_code, response.json()) == (
        403,
        {"error": "bot token cannot access this workspace"},
    )
    progress = await publish(
        writer,
        **base,
        type="agent.progress",
        channel_id=world.channel_id,
        payload={"turn_id": "t1", "seq": 3, "op": "append", "line": {"text": "working"}},
    )
    assert progress.status_code == 202
    assert progress.json()["event"]["payload"] == {
        "turn_id": "t1",
        "seq": 3,
        "op": "append",
        "line": {"text": "working"},
        "user_id": writer.user_id,
        "channel_id": world.channel_id,
    }
    response = await publish(writer, **base, type="agent.progress")
    assert response.status_code == 400
    dm_ok = await publish(
        writer, **base, type="typing.started", direct_conversation_id=conversation
    )
    assert dm_ok.status_code == 202


@pytest.mark.parametrize("target", ["dm", "guest-channel"])
async def test_delivered_only_to_who_may_see_the_target(world: World, target: str) -> None:
    alice, bob = await world.user("Alice"), await world.user("Bob")
    guest = await world.user("Guest", role="guest")
    lobby = await make_channel(world, "guest")
    conversation = await make_dm(world, [alice.user_id, bob.user_id])
    start = await tail_cursor(world)
    audience: tuple[WebSocketConnection, ...]
    outside: tuple[WebSocketConnection, ...]
    async with (
        open_socket(world, alice, after_cursor=start) as a,
        open_socket(world, bob, after_cursor=start) as b,
        open_socket(world, guest, after_cursor=start) as g,
    ):
        if target == "dm":
            sent = await publish(
                alice,
                workspace_id=world.workspace_id,
                type="typing.started",
                direct_conversation_id=conversation,
            )
            audience, outside = (a, b), (g,)
        else:
            await publish(
                alice,
                workspace_id=world.workspace_id,
                type="typing.started",
                channel_id=world.channel_id,
            )
            sent = await publish(
                alice, workspace_id=world.workspace_id, type="typing.started", channel_id=lobby
            )
            audience, outside = (g,), ()
        assert sent.status_code == 202
        for websocket in audience:
            assert await next_event(websocket) == sent.json()["event"]
        # Everyone sees the workspace-wide presence that follows; nothing came before it.
        presence = await publish(bob, workspace_id=world.workspace_id, type="presence.changed")
        for websocket in outside:
            assert await next_event(websocket) == presence.json()["event"]
        if target == "guest-channel":
            # Alice and Bob saw the #general typing first, then the #guest one, then presence.
            assert (await next_event(a))["channel_id"] == world.channel_id
            assert (await next_event(a))["channel_id"] == lobby
            assert await next_event(a) == presence.json()["event"]


async def test_ephemeral_events_are_not_replayed(world: World) -> None:
    start = await tail_cursor(world)
    response = await publish(world.owner, workspace_id=world.workspace_id, type="presence.changed")
    assert response.status_code == 202
    async with open_socket(world, world.owner, after_cursor=start) as websocket:
        [event] = [
            (
                await world.owner.patch(
                    f"/api/workspaces/{world.workspace_id}", json={"name": "After"}
                )
            ).json()["event"]
        ]
        assert (await next_event(websocket))["cursor"] == event["cursor"]
