"""``GET /api/realtime/events``: the HTTP pull fallback (protocol 4.7) and its privacy rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickclack_server import ids
from clickclack_server.db import Database, Tx
from clickclack_server.store import realtime as realtime_store
from clickclack_server.store import users as user_store
from clickclack_server.store.events import insert_event
from tests.conftest import Caller, World
from tests.server.test_realtime_socket import (
    insert_events,
    make_channel,
    make_dm,
    touch,
)


async def pull(caller: Caller, workspace_id: str, **params: str) -> Any:
    return await caller.get("/api/realtime/events", params={"workspace_id": workspace_id, **params})


async def test_pull_pages_and_limits(world: World) -> None:
    events = await insert_events(world, 250)
    everything = [event.cursor for event in events]
    first = await pull(world.owner, world.workspace_id)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    body = first.json()
    assert list(body) == ["events"]
    assert [event["cursor"] for event in body["events"]] == everything[:200]
    for fallback in ("0", "-3", "501", "abc", "", "1.5", "1_0", "\u0661\u0662", "9" * 40):
        page = (await pull(world.owner, world.workspace_id, limit=fallback)).json()
        assert len(page["events"]) == 200, fallback
    assert len((await pull(world.owner, world.workspace_id, limit="500")).json()["events"]) == 250
    one = (await pull(world.owner, world.workspace_id, limit="1")).json()["events"]
    assert [event["cursor"] for event in one] == everything[:1]
    after = (
        await pull(world.owner, world.workspace_id, after_cursor=everything[9], limit="5")
    ).json()["events"]
    assert [event["cursor"] for event in after] == everything[10:15]
    assert (await pull(world.owner, world.workspace_id, after_cursor=everything[-1])).json() == {
        "events": []
    }


async def test_unknown_cursors_compare_as_strings(world: World) -> None:
    events = await insert_events(world, 3)
    low = (await pull(world.owner, world.workspace_id, after_cursor="cur_0")).json()["events"]
    assert [event["cursor"] for event in low] == [event.cursor for event in events]
    assert (await pull(world.owner, world.workspace_id, after_cursor="zzz")).json() == {
        "events": []
    }


async def test_event_objects_match_the_wire_model(world: World) -> None:
    [plain] = await touch(world)

    def write(tx: Tx) -> None:
        insert_event(
            tx,
            workspace_id=world.workspace_id,
            type="message.created",
            channel_id=world.channel_id,
            seq=7,
            payload={"message_id": "msg_1", "author_id": world.owner.user_id},
        )

    await world.db.write(write)
    page = (await pull(world.owner, world.workspace_id, after_cursor="")).json()["events"]
    assert page[0] == {
        "id": plain.id,
        "cursor": plain.cursor,
        "type": "workspace.updated",
        "workspace_id": world.workspace_id,
        "created_at": plain.created_at,
        "payload": {"workspace_id": world.workspace_id},
    }
    assert page[1]["channel_id"] == world.channel_id
    assert page[1]["seq"] == 7
    assert page[1]["id"].startswith("evt_") and page[1]["cursor"].startswith("cur_")


async def test_include_tail(world: World) -> None:
    empty = await world.workspace()
    assert (await pull(world.owner, empty, include_tail="true")).json() == {
        "events": [],
        "tail_cursor": "",
    }
    events = await insert_events(world, 3)
    for truthy in ("true", "1", "TRUE", "t"):
        body = (await pull(world.owner, world.workspace_id, include_tail=truthy, limit="1")).json()
        assert body["tail_cursor"] == events[-1].cursor
        assert [event["cursor"] for event in body["events"]] == [events[0].cursor]
    for falsy in ("false", "0", "nope", ""):
        body = (await pull(world.owner, world.workspace_id, include_tail=falsy)).json()
        assert "tail_cursor" not in body
    # The tail is the newest event the caller may see, not the newest in the log.
    member = await world.user()
    await insert_events(world, 1, recipients=[world.owner.user_id])
    body = (await pull(member, world.workspace_id, include_tail="true", limit="1")).json()
    assert body["tail_cursor"] == events[-1].cursor


async def test_pull_errors(world: World) -> None:
    assert (await pull(world.anon(), world.workspace_id)).status_code == 401
    missing = await world.owner.get("/api/realtime/events")
    assert (missing.status_code, missing.json()) == (400, {"error": "workspace_id is required"})
    outsider = await world.user(role="")
    response = await pull(outsider, world.workspace_id)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "not a member of this workspace"},
    )
    response = await pull(world.owner, "wsp_00000000000000000000000000")
    assert (response.status_code, response.json()) == (400, {"error": "sql: no rows in result set"})
    no_scope = await world.bot(["messages:read"])
    response = await pull(no_scope, world.workspace_id)
    assert (response.status_code, response.json()) == (
        403,
        {"error": "bot token is missing scope realtime:read"},
    )
    reader = await world.bot(["bot:read"])
    other = await world.workspace()
    response = await pull(reader, other)
    assert (response.status_code, response.json()) == (
        403,
        {"error": "bot token cannot access this workspace"},
    )
    [event] = await touch(world)
    response = await pull(reader, world.workspace_id, after_cursor="")
    assert response.status_code == 200
    assert event.cursor in [item["cursor"] for item in response.json()["events"]]


async def test_private_dm_and_guest_rules(world: World) -> None:
    alice, bob = await world.user("Alice"), await world.user("Bob")
    guest = await world.user("Guest", role="guest")
    guest_channel = await make_channel(world, "guest")
    conversation = await make_dm(world, [alice.user_id, bob.user_id, guest.user_id])
    [dm] = await insert_events(
        world,
        1,
        type="message.created",
        recipients=[alice.user_id, bob.user_id, guest.user_id],
        payload={"message_id": "msg_d", "direct_conversation_id": conversation},
    )
    [receipt] = await insert_events(
        world,
        1,
        type="channel.read",
        channel_id=world.channel_id,
        recipients=[alice.user_id],
        payload={"channel_id": world.channel_id, "user_id": alice.user_id},
    )
    [general] = await insert_events(
        world,
        1,
        type="channel.updated",
        channel_id=world.channel_id,
        payload={"channel_id": world.channel_id, "archived": False},
    )
    [lobby] = await insert_events(
        world,
        1,
        type="channel.updated",
        channel_id=guest_channel,
        payload={"channel_id": guest_channel, "archived": False},
    )
    [wide] = await touch(world)

    async def seen(caller: Caller) -> list[str]:
        body = (await pull(caller, world.workspace_id, include_tail="true")).json()
        got = [event["cursor"] for event in body["events"]]
        assert body["tail_cursor"] == (got[-1] if got else "")
        return got

    assert await seen(alice) == [
        dm.cursor,
        receipt.cursor,
        general.cursor,
        lobby.cursor,
        wide.cursor,
    ]
    assert await seen(bob) == [dm.cursor, general.cursor, lobby.cursor, wide.cursor]
    assert await seen(world.owner) == [general.cursor, lobby.cursor, wide.cursor]
    # Guests never see DMs (even listed as recipients) nor channels other than #guest.
    assert await seen(guest) == [lobby.cursor, wide.cursor]


async def test_ephemeral_events_are_never_pulled(world: World) -> None:
    response = await world.owner.post(
        "/api/realtime/ephemeral",
        json={"workspace_id": world.workspace_id, "type": "presence.changed"},
    )
    assert response.status_code == 202
    assert (await pull(world.owner, world.workspace_id)).json() == {"events": []}


# Pagination windows at the store level: any sequence of page sizes walks the visible log
# exactly once, in order, whoever reads.


@pytest.fixture(scope="module")
def log_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path: Path = tmp_path_factory.mktemp("realtime") / "store.db"
    db = Database(path)
    db.migrate()
    boot = db.write_sync(user_store.bootstrap, name="Owner", email="owner@example.com")
    workspace_id = boot.workspace_id

    def setup(tx: Tx) -> dict[str, Any]:
        member = user_store.create_user(tx, display_name="Member", email="m@example.com")
        guest = user_store.create_user(tx, display_name="Guest", email="g@example.com")
        user_store.add_member(tx, workspace_id, member.id, "member")
        user_store.add_member(tx, workspace_id, guest.id, "guest")
        guest_channel = user_store.insert_channel(tx, workspace_id=workspace_id, name="guest")
        conversation = ids.new_id("dm")
        tx.execute(
            "INSERT INTO direct_conversations (id, route_id, workspace_id, created_at) "
            "VALUES (?, ?, ?, ?)",
            (conversation, ids.new_route_id("D"), workspace_id, ids.now()),
        )
        for user_id in (boot.user_id, member.id):
            tx.execute(
                "INSERT INTO direct_conversation_members (conversation_id, user_id, created_at) "
                "VALUES (?, ?, ?)",
                (conversation, user_id, ids.now()),
            )
        visible: dict[str, list[str]] = {boot.user_id: [], member.id: [], guest.id: []}
        for index in range(120):
            kind = index % 5
            if kind == 0:
                event = insert_event(
                    tx, workspace_id=workspace_id, type="workspace.updated", payload={}
                )
                audience = list(visible)
            elif kind == 1:
                event = insert_event(
                    tx,
                    workspace_id=workspace_id,
                    type="channel.updated",
                    channel_id=boot.channel_id,
                    payload={"channel_id": boot.channel_id},
                )
                audience = [boot.user_id, member.id]
            elif kind == 2:
                event = insert_event(
                    tx,
                    workspace_id=workspace_id,
                    type="channel.updated",
                    channel_id=guest_channel,
                    payload={"channel_id": guest_channel},
                )
                audience = list(visible)
            elif kind == 3:
                event = insert_event(
                    tx,
                    workspace_id=workspace_id,
                    type="message.created",
                    payload={"direct_conversation_id": conversation},
                    recipients=[boot.user_id, member.id],
                )
                audience = [boot.user_id, member.id]
            else:
                event = insert_event(
                    tx,
                    workspace_id=workspace_id,
                    type="channel.read",
                    channel_id=boot.channel_id,
                    payload={"user_id": member.id},
                    recipients=[member.id],
                )
                audience = [member.id]
            for user_id in audience:
                visible[user_id].append(event.cursor)
        return {"workspace_id": workspace_id, "visible": visible}

    world = db.write_sync(setup)
    world["db"] = db
    yield world
    db.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reader=st.integers(0, 2), sizes=st.lists(st.integers(1, 40), min_size=1, max_size=12))
def test_pages_walk_the_visible_log_exactly_once(
    log_world: dict[str, Any], reader: int, sizes: list[int]
) -> None:
    db: Database = log_world["db"]
    user_id = list(log_world["visible"])[reader]
    expected: list[str] = log_world["visible"][user_id]
    seen: list[str] = []
    after = ""
    for index in range(200):
        page = db.read_sync(
            realtime_store.pull,
            log_world["workspace_id"],
            user_id,
            after=after,
            limit=sizes[index % len(sizes)],
            include_tail=index == 0,
        )
        if index == 0:
            assert page.tail_cursor == expected[-1]
        if not page.events:
            break
        assert len(page.events) <= sizes[index % len(sizes)]
        seen.extend(event.cursor for event in page.events)
        after = page.events[-1].cursor
    assert seen == expected
