"""The realtime WebSocket against a real server and real trio-websocket clients (protocol 4)."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    WebSocketConnection,
    open_websocket_url,
)

from clickclack_sdk import Event
from clickclack_server import ids
from clickclack_server.db import Tx
from clickclack_server.realtime import closes
from clickclack_server.runner import Running
from clickclack_server.store import realtime as realtime_store
from clickclack_server.store.events import insert_event
from clickclack_server.store.sessions import revoke_session
from tests.conftest import Caller, World

TIMEOUT = 10
LIFETIME = 60


# Helpers shared by the realtime test modules (names avoid the ``test_`` prefix).


def socket_url(world: World, workspace_id: str | None, after_cursor: str | None = None) -> str:
    url = world.url.replace("http://", "ws://") + "/api/realtime/ws"
    params = []
    if workspace_id is not None:
        params.append(f"workspace_id={workspace_id}")
    if after_cursor is not None:
        params.append(f"after_cursor={after_cursor}")
    return url + ("?" + "&".join(params) if params else "")


@asynccontextmanager
async def open_socket(
    world: World,
    caller: Caller | None,
    *,
    workspace_id: str | None = "",
    after_cursor: str | None = None,
    via: str = "header",
    headers: Sequence[tuple[bytes, bytes]] = (),
    subprotocols: Sequence[str] = (),
) -> AsyncIterator[WebSocketConnection]:
    """A socket for ``caller`` (credential in the header, the subprotocol or the cookie)."""
    extra = list(headers)
    offered = list(subprotocols)
    if caller is not None and caller.token is not None:
        if via == "header":
            extra.append((b"authorization", f"Bearer {caller.token}".encode()))
        elif via == "subprotocol":
            offered.append(f"clickclack.bearer.{caller.token}")
        else:
            extra.append((b"cookie", f"cc_session={caller.token}".encode()))
    url = socket_url(
        world, world.workspace_id if workspace_id == "" else workspace_id, after_cursor
    )
    with trio.fail_after(LIFETIME):
        async with open_websocket_url(
            url, subprotocols=offered, extra_headers=extra, message_queue_size=64
        ) as websocket:
            yield websocket


async def next_event(websocket: WebSocketConnection) -> dict[str, Any]:
    with trio.fail_after(TIMEOUT):
        event: dict[str, Any] = json.loads(await websocket.get_message())
    return event


async def take(websocket: WebSocketConnection, count: int) -> list[dict[str, Any]]:
    return [await next_event(websocket) for _ in range(count)]


async def expect_close(websocket: WebSocketConnection, close: closes.Close) -> list[str]:
    """Read until the server closes; the close must be ``close``. Returns frames read first."""
    frames: list[str] = []
    with trio.fail_after(TIMEOUT):
        try:
            while True:
                frames.append(str(await websocket.get_message()))
        except ConnectionClosed as exc:
            assert exc.reason is not None
            assert (exc.reason.code, exc.reason.reason) == (close.code, close.reason)
    return frames


async def rejected(world: World, caller: Caller | None, **kwargs: Any) -> tuple[int, Any]:
    """Open a socket that must be refused before the upgrade: (status, JSON body)."""
    with pytest.raises(ConnectionRejected) as info:
        async with open_socket(world, caller, **kwargs):
            pass
    return info.value.status_code, json.loads(info.value.body or b"null")


async def touch(world: World, count: int = 1, workspace_id: str | None = None) -> list[Event]:
    """``count`` public ``workspace.updated`` events through the HTTP API."""
    events = []
    for index in range(count):
        response = await world.owner.patch(
            f"/api/workspaces/{workspace_id or world.workspace_id}",
            json={"name": f"Renamed {index}"},
        )
        assert response.status_code == 200, response.text
        events.append(Event(**response.json()["event"]))
    return events


async def insert_events(
    world: World,
    count: int,
    *,
    workspace_id: str | None = None,
    type: str = "workspace.updated",
    channel_id: str | None = None,
    recipients: list[str] | None = None,
    payload: dict[str, Any] | None = None,
) -> list[Event]:
    """``count`` events written in one transaction through the store (as a mutation would)."""
    workspace = workspace_id or world.workspace_id

    def write(tx: Tx) -> list[Event]:
        return [
            insert_event(
                tx,
                workspace_id=workspace,
                type=type,
                channel_id=channel_id,
                payload={**(payload or {"workspace_id": workspace}), "n": index},
                recipients=recipients,
            )
            for index in range(count)
        ]

    events: list[Event] = await world.db.write(write)
    return events


async def tail_cursor(world: World, caller: Caller | None = None) -> str:
    response = await (caller or world.owner).get(
        "/api/realtime/events",
        params={"workspace_id": world.workspace_id, "include_tail": "true", "limit": "1"},
    )
    assert response.status_code == 200, response.text
    cursor: str = response.json()["tail_cursor"]
    return cursor


async def make_dm(world: World, member_ids: list[str]) -> str:
    """A direct conversation row with ``member_ids`` (store-level, like the DM endpoints)."""
    conversation_id = ids.new_id("dm")

    def write(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO direct_conversations (id, route_id, workspace_id, created_at) "
            "VALUES (?, ?, ?, ?)",
            (conversation_id, ids.new_route_id("D"), world.workspace_id, ids.now()),
        )
        for user_id in member_ids:
            tx.execute(
                "INSERT INTO direct_conversation_members (conversation_id, user_id, created_at) "
                "VALUES (?, ?, ?)",
                (conversation_id, user_id, ids.now()),
            )

    await world.db.write(write)
    return conversation_id


async def make_channel(world: World, name: str) -> str:
    channel_id = ids.new_id("chn")

    def write(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO channels (id, route_id, workspace_id, name, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (channel_id, ids.new_route_id("C"), world.workspace_id, name, ids.now()),
        )

    await world.db.write(write)
    return channel_id


async def set_role(world: World, user_id: str, role: str | None) -> None:
    """Change (or, with ``None``, remove) a membership as the moderation/admin paths do."""

    def write(tx: Tx) -> None:
        if role is None:
            tx.execute(
                "DELETE FROM workspace_members WHERE workspace_id = ? AND user_id = ?",
                (world.workspace_id, user_id),
            )
        else:
            tx.execute(
                "UPDATE workspace_members SET role = ? WHERE workspace_id = ? AND user_id = ?",
                (role, world.workspace_id, user_id),
            )
        tx.mark_changed("auth")

    await world.db.write(write)


def cursors(frames: Sequence[dict[str, Any] | Event]) -> list[str]:
    return [f["cursor"] if isinstance(f, dict) else f.cursor for f in frames]


# Handshake.


async def test_handshake_refusals_are_plain_json(world: World) -> None:
    assert await rejected(world, world.anon()) == (401, {"error": "authentication required"})
    stranger = Caller(world.http, "", "sst_not_a_session")
    status, body = await rejected(world, stranger)
    assert status == 401 and body["error"]
    assert await rejected(world, world.owner, workspace_id=None) == (
        400,
        {"error": "workspace_id is required"},
    )
    assert await rejected(world, world.owner, workspace_id="%20") == (
        400,
        {"error": "workspace_id is required"},
    )
    outsider = await world.user(role="")
    assert await rejected(world, outsider) == (403, {"error": "not a member of this workspace"})
    assert await rejected(world, world.owner, workspace_id="wsp_00000000000000000000000000") == (
        403,
        {"error": "not a member of this workspace"},
    )
    reader = await world.bot(["bot:read"])
    no_realtime = await world.bot(["messages:read"])
    assert await rejected(world, no_realtime) == (
        403,
        {"error": "bot token is missing scope realtime:read"},
    )
    other = await world.workspace()
    assert await rejected(world, reader, workspace_id=other) == (
        403,
        {"error": "bot token cannot access this workspace"},
    )
    assert await rejected(world, world.owner, headers=[(b"origin", b"https://evil.example")]) == (
        403,
        {"error": "origin is not allowed"},
    )


async def test_credentials_by_header_subprotocol_and_cookie(world: World) -> None:
    after = await tail_cursor(world)
    bot = await world.bot(["bot:read"])
    host = world.url.removeprefix("http://").encode()
    async with (
        open_socket(world, world.owner, after_cursor=after) as by_header,
        open_socket(
            world,
            bot,
            after_cursor=after,
            via="subprotocol",
            subprotocols=["chat.v2"],
            headers=[(b"origin", b"http://" + host)],
        ) as by_subprotocol,
        open_socket(world, world.owner, after_cursor=after, via="cookie") as by_cookie,
    ):
        assert by_header.subprotocol is None
        assert by_subprotocol.subprotocol == f"clickclack.bearer.{bot.token}"
        [event] = await touch(world)
        for websocket in (by_header, by_subprotocol, by_cookie):
            assert await next_event(websocket) == {
                "id": event.id,
                "cursor": event.cursor,
                "type": "workspace.updated",
                "workspace_id": world.workspace_id,
                "created_at": event.created_at,
                "payload": {"workspace_id": world.workspace_id},
            }


async def test_bad_subprotocol_token_is_refused(world: World) -> None:
    status, body = await rejected(
        world, None, subprotocols=["clickclack.bearer.sst_bogus"], workspace_id=world.workspace_id
    )
    assert status == 401 and "error" in body


# Replay and live delivery.


async def test_replay_from_cursor_then_live(world: World) -> None:
    events = await touch(world, 5)
    async with open_socket(world, world.owner, after_cursor=events[1].cursor) as websocket:
        assert cursors(await take(websocket, 3)) == cursors(events[2:])
        live = await touch(world, 2)
        assert cursors(await take(websocket, 2)) == cursors(live)


async def test_no_cursor_replays_from_the_oldest(world: World) -> None:
    events = await insert_events(world, 3)
    async with open_socket(world, world.owner) as websocket:
        assert cursors(await take(websocket, 3)) == cursors(events)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_cut_reconnect_loses_and_duplicates_nothing(world: World, seed: int) -> None:
    """1,000 events written in batches while a client reads, drops at a random point and
    resumes from its last cursor: exactly the 1,000 events, once each, in cursor order."""
    rng = random.Random(seed)
    total = 1000
    cut = rng.randrange(1, total)
    start = await tail_cursor(world)
    written: list[Event] = []
    received: list[dict[str, Any]] = []

    async def writer() -> None:
        while len(written) < total:
            written.extend(
                await insert_events(world, min(total - len(written), rng.randint(1, 80)))
            )
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer)
        async with open_socket(world, world.owner, after_cursor=start) as first:
            while len(received) < cut:
                received.append(await next_event(first))
        async with open_socket(world, world.owner, after_cursor=received[-1]["cursor"]) as second:
            while len(received) < total:
                received.append(await next_event(second))
    assert cursors(received) == cursors(written)
    assert len({event["id"] for event in received}) == total


async def test_a_reader_behind_the_ring_catches_up_from_the_log(world: World) -> None:
    world.running.server.hub.ring_size = 4
    start = await tail_cursor(world)
    async with open_socket(world, world.owner, after_cursor=start) as websocket:
        first = await touch(world)
        assert cursors(await take(websocket, 1)) == cursors(first)
        burst = await insert_events(world, 50)
        assert cursors(await take(websocket, 50)) == cursors(burst)
        more = await touch(world, 2)
        assert cursors(await take(websocket, 2)) == cursors(more)


async def test_sockets_only_see_their_workspace(world: World) -> None:
    other = await world.workspace()
    start = await tail_cursor(world)
    async with open_socket(world, world.owner, after_cursor=start) as websocket:
        await touch(world, workspace_id=other)
        [mine] = await touch(world)
        assert (await next_event(websocket))["cursor"] == mine.cursor


# Resync (4001).


async def test_unknown_or_foreign_cursor_requires_resync(world: World) -> None:
    other = await world.workspace()
    [foreign] = await insert_events(world, 1, workspace_id=other)
    for cursor in ("cur_00000000000000000000000000", "garbage", foreign.cursor):
        async with open_socket(world, world.owner, after_cursor=cursor) as websocket:
            assert await expect_close(websocket, closes.RESYNC_REQUIRED) == []


async def test_pruned_cursor_requires_resync(world: World) -> None:
    events = await insert_events(world, 3)
    pruned = await world.db.write(realtime_store.prune_events, world.workspace_id, keep_latest=1)
    assert pruned >= 2
    async with open_socket(world, world.owner, after_cursor=events[0].cursor) as websocket:
        await expect_close(websocket, closes.RESYNC_REQUIRED)
    async with open_socket(world, world.owner, after_cursor=events[2].cursor) as websocket:
        [event] = await touch(world)
        assert (await next_event(websocket))["cursor"] == event.cursor


async def test_backlog_over_budget_requires_resync(world: World) -> None:
    [first] = await insert_events(world, 1)
    await insert_events(world, 5000)
    async with open_socket(world, world.owner, after_cursor=first.cursor) as websocket:
        assert len(await take(websocket, 5000)) == 5000
    await insert_events(world, 1)
    async with open_socket(world, world.owner) as websocket:
        await expect_close(websocket, closes.RESYNC_REQUIRED)
    async with open_socket(world, world.owner, after_cursor=first.cursor) as websocket:
        await expect_close(websocket, closes.RESYNC_REQUIRED)


async def test_cursor_ahead_of_what_the_reader_may_see_requires_resync(world: World) -> None:
    member = await world.user()
    await touch(world)
    [secret] = await insert_events(world, 1, recipients=[world.owner.user_id])
    async with open_socket(world, member, after_cursor=secret.cursor) as websocket:
        await expect_close(websocket, closes.RESYNC_REQUIRED)
    # With something visible after it, the same cursor is a fine starting point.
    [later] = await touch(world)
    async with open_socket(world, member, after_cursor=secret.cursor) as websocket:
        assert (await next_event(websocket))["cursor"] == later.cursor


# Retry later (1013).


async def test_slow_consumer_overflow_closes_with_1013(world: World) -> None:
    hub = world.running.server.hub
    start = await tail_cursor(world)
    async with (
        open_socket(world, world.owner, after_cursor=start) as websocket,
        open_socket(world, world.owner, after_cursor=start) as other,
    ):
        notice = Event(
            id="",
            cursor="",
            type="bot_command.updated",
            workspace_id=world.workspace_id,
            created_at=ids.wire_time(ids.now()),
            payload={"workspace_id": world.workspace_id, "bot_user_id": "usr_x"},
        )
        # More hub frames than a socket may hold, with no chance for it to drain meanwhile.
        for _ in range(33):
            hub.publish_notice(notice)
        assert await expect_close(websocket, closes.BUFFER_OVERFLOW) == []
        await expect_close(other, closes.BUFFER_OVERFLOW)
    # Reconnecting with the cursor replays what the log holds.
    [event] = await touch(world)
    async with open_socket(world, world.owner, after_cursor=start) as websocket:
        assert (await next_event(websocket))["cursor"] == event.cursor


async def test_replay_failure_closes_with_1013(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    [first] = await insert_events(world, 1)
    await insert_events(world, 3)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk on fire")

    monkeypatch.setattr(realtime_store, "replay_page", broken)
    async with open_socket(world, world.owner, after_cursor=first.cursor) as websocket:
        await expect_close(websocket, closes.REPLAY_INTERRUPTED)


async def test_credential_check_failure_closes_with_1013(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = await tail_cursor(world)
    async with open_socket(world, world.owner, after_cursor=start) as websocket:
        [event] = await touch(world)
        assert (await next_event(websocket))["cursor"] == event.cursor

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise OSError("database unavailable")

        monkeypatch.setattr(realtime_store, "check_credentials", broken)
        world.running.server.hub.recheck_interval = 0.01
        await expect_close(websocket, closes.VERIFICATION_UNAVAILABLE)


# Policy (1008).


async def test_client_data_frame_closes_with_1008(world: World) -> None:
    async with open_socket(world, world.owner, after_cursor=await tail_cursor(world)) as ws:
        await ws.send_message(json.dumps({"type": "typing.started"}))
        await expect_close(ws, closes.CLIENT_DATA)


async def test_revoked_session_closes_before_the_next_delivery(world: World) -> None:
    member = await world.user()
    start = await tail_cursor(world)
    async with (
        open_socket(world, member, after_cursor=start) as revoked,
        open_socket(world, world.owner, after_cursor=start) as kept,
    ):
        await world.db.write(revoke_session, member.token)
        [event] = await touch(world)
        assert await expect_close(revoked, closes.SESSION_REVOKED) == []
        assert (await next_event(kept))["cursor"] == event.cursor


async def test_idle_sockets_are_rechecked_periodically(world: World) -> None:
    member = await world.user()
    async with open_socket(world, member, after_cursor=await tail_cursor(world)) as websocket:

        def revoke_quietly(tx: Tx) -> None:
            # As another process would: no change notification reaches this server.
            tx.execute(
                "UPDATE sessions SET revoked_at = ? WHERE user_id = ?", (ids.now(), member.user_id)
            )

        await world.db.write(revoke_quietly)
        world.running.server.hub.recheck_interval = 0.05
        await expect_close(websocket, closes.SESSION_REVOKED)


async def test_revoked_bot_token_closes(world: World) -> None:
    bot = await world.bot(["bot:read"])
    async with open_socket(world, bot, after_cursor=await tail_cursor(world)) as websocket:

        def revoke(tx: Tx) -> None:
            tx.execute(
                "UPDATE bot_tokens SET revoked_at = ? WHERE bot_user_id = ?",
                (ids.now(), bot.user_id),
            )
            tx.mark_changed("auth")

        await world.db.write(revoke)
        await expect_close(websocket, closes.BOT_TOKEN_REVOKED)


async def test_removed_membership_closes(world: World) -> None:
    member = await world.user()
    async with open_socket(world, member, after_cursor=await tail_cursor(world)) as websocket:
        await set_role(world, member.user_id, None)
        await expect_close(websocket, closes.ACCESS_REVOKED)


@pytest.mark.parametrize("kind", ["bot.deleted", "bot.membership_removed"])
async def test_bot_notices_close_that_bots_sockets_only(world: World, kind: str) -> None:
    bot = await world.bot(["bot:read"])
    other_bot = await world.bot(["bot:read"])
    start = await tail_cursor(world)
    async with (
        open_socket(world, bot, after_cursor=start) as closing,
        open_socket(world, other_bot, after_cursor=start) as staying,
        open_socket(world, world.owner, after_cursor=start) as human,
    ):
        notice = Event(
            id="",
            cursor="",
            type=kind,
            workspace_id=world.workspace_id,
            created_at=ids.wire_time(ids.now()),
            payload={"bot_user_id": bot.user_id},
        )
        world.running.server.publish_notice(notice)
        assert await expect_close(closing, closes.ACCESS_REVOKED) == []
        for websocket in (staying, human):
            frame = await next_event(websocket)
            assert frame == {
                "id": "",
                "cursor": "",
                "type": kind,
                "workspace_id": world.workspace_id,
                "created_at": notice.created_at,
                "payload": {"bot_user_id": bot.user_id},
            }


async def test_bot_command_notice_reaches_only_its_workspace(world: World) -> None:
    other = await world.workspace()
    start = await tail_cursor(world)
    async with open_socket(world, world.owner, after_cursor=start) as websocket:
        for workspace_id in (other, world.workspace_id):
            world.running.server.publish_notice(
                Event(
                    id="",
                    cursor="",
                    type="bot_command.updated",
                    workspace_id=workspace_id,
                    created_at=ids.wire_time(ids.now()),
                    payload={"workspace_id": workspace_id, "bot_user_id": "usr_b"},
                )
            )
        frame = await next_event(websocket)
        assert frame["type"] == "bot_command.updated"
        assert frame["workspace_id"] == world.workspace_id


# Privacy over the socket.


async def test_private_and_dm_events_reach_only_their_audience(world: World) -> None:
    alice, bob, carol = (
        await world.user("Alice"),
        await world.user("Bob"),
        await world.user("Carol"),
    )
    conversation = await make_dm(world, [alice.user_id, bob.user_id])
    start = await tail_cursor(world)
    async with (
        open_socket(world, alice, after_cursor=start) as a,
        open_socket(world, bob, after_cursor=start) as b,
        open_socket(world, carol, after_cursor=start) as c,
    ):
        [dm] = await insert_events(
            world,
            1,
            type="message.created",
            recipients=[alice.user_id, bob.user_id],
            payload={"message_id": "msg_x", "direct_conversation_id": conversation},
        )
        [receipt] = await insert_events(
            world,
            1,
            type="channel.read",
            channel_id=world.channel_id,
            recipients=[bob.user_id],
            payload={"channel_id": world.channel_id, "user_id": bob.user_id},
        )
        # A stale recipient list still does not reach a non-member of the conversation.
        [leak] = await insert_events(
            world,
            1,
            type="reaction.added",
            recipients=[alice.user_id, carol.user_id],
            payload={"message_id": "msg_x", "direct_conversation_id": conversation},
        )
        [public] = await touch(world)
        assert cursors(await take(a, 3)) == [dm.cursor, leak.cursor, public.cursor]
        assert cursors(await take(b, 3)) == [dm.cursor, receipt.cursor, public.cursor]
        assert cursors(await take(c, 1)) == [public.cursor]
    # Replay applies the same rules.
    async with open_socket(world, carol, after_cursor=start) as c:
        assert cursors(await take(c, 1)) == [public.cursor]
    async with open_socket(world, bob, after_cursor=start) as b:
        assert cursors(await take(b, 3)) == [dm.cursor, receipt.cursor, public.cursor]


async def test_guests_see_only_the_guest_channel(world: World) -> None:
    guest = await world.user("Guest", role="guest")
    guest_channel = await make_channel(world, "guest")
    conversation = await make_dm(world, [guest.user_id, world.owner.user_id])
    start = await tail_cursor(world)
    async with open_socket(world, guest, after_cursor=start) as websocket:
        [general] = await insert_events(
            world,
            1,
            type="channel.updated",
            channel_id=world.channel_id,
            payload={"channel_id": world.channel_id, "archived": False},
        )
        [dm] = await insert_events(
            world,
            1,
            type="message.created",
            recipients=[guest.user_id, world.owner.user_id],
            payload={"message_id": "msg_y", "direct_conversation_id": conversation},
        )
        [visible] = await insert_events(
            world,
            1,
            type="channel.updated",
            channel_id=guest_channel,
            payload={"channel_id": guest_channel, "archived": False},
        )
        [workspace_wide] = await touch(world)
        assert cursors(await take(websocket, 2)) == [visible.cursor, workspace_wide.cursor]
        # The earlier #general and DM events were skipped, not merely delayed.
        assert general.cursor < dm.cursor < visible.cursor


async def test_role_change_applies_to_live_delivery(world: World) -> None:
    member = await world.user()
    start = await tail_cursor(world)
    async with open_socket(world, member, after_cursor=start) as websocket:
        [before] = await insert_events(
            world,
            1,
            type="channel.updated",
            channel_id=world.channel_id,
            payload={"channel_id": world.channel_id, "archived": False},
        )
        assert (await next_event(websocket))["cursor"] == before.cursor
        await set_role(world, member.user_id, "guest")
        await insert_events(
            world,
            1,
            type="channel.updated",
            channel_id=world.channel_id,
            payload={"channel_id": world.channel_id, "archived": True},
        )
        [after] = await touch(world)
        assert (await next_event(websocket))["cursor"] == after.cursor


async def test_memberships_made_elsewhere_are_picked_up(world: World) -> None:
    start = await tail_cursor(world)
    async with open_socket(world, world.owner, after_cursor=start) as owner_socket:
        [warm] = await touch(world)
        assert (await next_event(owner_socket))["cursor"] == warm.cursor
        newcomer = await world.user(role="")

        def join_quietly(tx: Tx) -> None:
            # As an admin command in another process would: no change notification here.
            tx.execute(
                "INSERT INTO workspace_members (workspace_id, user_id, role, created_at) "
                "VALUES (?, ?, 'member', ?)",
                (world.workspace_id, newcomer.user_id, ids.now()),
            )

        await world.db.write(join_quietly)
        world.running.server.auth_cache.clear()
        async with open_socket(world, newcomer, after_cursor=warm.cursor) as websocket:
            [event] = await touch(world)
            assert (await next_event(websocket))["cursor"] == event.cursor


async def test_dev_auth_applies_to_local_sockets(dev_running: Running) -> None:
    url = dev_running.url.replace("http://", "ws://")
    boot = await dev_running.server.db.read(
        lambda tx: tx.one("SELECT workspace_id FROM workspace_members LIMIT 1")
    )
    with trio.fail_after(LIFETIME):
        async with open_websocket_url(
            f"{url}/api/realtime/ws?workspace_id={boot['workspace_id']}"
        ) as websocket:
            await websocket.send_message("hello")
            with pytest.raises(ConnectionClosed) as info:
                await websocket.get_message()
    assert info.value.reason is not None and info.value.reason.code == 1008
    with pytest.raises(ConnectionRejected) as refused:
        async with open_websocket_url(
            f"{url}/api/realtime/ws?workspace_id={boot['workspace_id']}",
            extra_headers=[(b"x-forwarded-for", b"203.0.113.9")],
        ):
            pass
    assert refused.value.status_code == 401


async def test_hub_forgets_workspaces_without_sockets(world: World) -> None:
    hub = world.running.server.hub
    async with open_socket(world, world.owner, after_cursor=await tail_cursor(world)) as ws:
        await touch(world)
        await next_event(ws)
        assert hub.statistics().subscribers == 1
        assert hub.statistics().topics == 1
    with trio.fail_after(TIMEOUT):
        # The server runs in this process: once everything is idle, its handler has ended.
        await trio.testing.wait_all_tasks_blocked(cushion=0.05)
    assert hub.statistics().subscribers == 0
    assert hub.statistics().topics == 0


async def test_messages_and_dms_through_the_api(world: World) -> None:
    """End to end with the real message and DM endpoints: their events reach exactly the
    people who may read them, live and on replay."""
    alice, bob, carol = (
        await world.user("Alice"),
        await world.user("Bob"),
        await world.user("Carol"),
    )
    created = await alice.post(
        "/api/dms", json={"workspace_id": world.workspace_id, "member_ids": [bob.user_id]}
    )
    assert created.status_code == 201, created.text
    conversation = created.json()["conversation"]["id"]
    start = await tail_cursor(world)
    async with (
        open_socket(world, bob, after_cursor=start) as b,
        open_socket(world, carol, after_cursor=start) as c,
    ):
        dm = await alice.post(f"/api/dms/{conversation}/messages", json={"body": "psst"})
        assert dm.status_code == 201, dm.text
        channel = await alice.post(
            f"/api/channels/{world.channel_id}/messages", json={"body": "hello all"}
        )
        assert channel.status_code == 201, channel.text
        dm_event, channel_event = dm.json()["event"], channel.json()["event"]
        assert await take(b, 2) == [dm_event, channel_event]
        assert await take(c, 1) == [channel_event]
    async with open_socket(world, carol, after_cursor=start) as c:
        assert await take(c, 1) == [channel_event]
    pulled = await carol.get(
        "/api/realtime/events", params={"workspace_id": world.workspace_id, "after_cursor": start}
    )
    assert pulled.json()["events"] == [channel_event]


async def test_events_pruned_behind_the_hub_are_not_served_live(world: World) -> None:
    """A prune from another process (``clickclack admin events prune``) empties the log while
    the hub's ring still holds the events: a socket opened afterwards must not get them."""
    everything = {"before": "2999-01-01T00:00:00Z"}
    await world.db.write(realtime_store.prune_events, world.workspace_id, **everything)
    async with open_socket(world, world.owner) as watching:  # the ring starts on an empty log
        old = await touch(world, 3)
        assert cursors(await take(watching, 3)) == cursors(old)
        assert (
            await world.db.write(realtime_store.prune_events, world.workspace_id, **everything) == 3
        )
        async with open_socket(world, world.owner) as fresh:
            [new] = await touch(world)
            got = await next_event(fresh)
            assert got["cursor"] == new.cursor, (got, cursors(old), new.cursor)
            assert (await next_event(watching))["cursor"] == new.cursor
