"""Realtime streams against the real server: fresh start, resume, reconnect after drops and
1013, 4001 resync, policy closes, handshake errors, ephemeral events and the pull transport."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from clickclack_sdk import (
    AuthenticationError,
    Client,
    Event,
    EventStream,
    MessageCreatedPayload,
    PermissionDenied,
    RealtimeClosed,
    ResyncRequired,
    RetryPolicy,
    ServerUnavailable,
    TypingPayload,
)
from clickclack_sdk._realtime import websocket_url
from clickclack_server.db import Tx
from clickclack_server.realtime import closes
from clickclack_server.runner import Running
from clickclack_server.store.sessions import revoke_session
from tests.conftest import World
from tests.sdk.conftest import ClientFactory
from tests.sdk.faults import FORWARD, FaultProxy, Reply, Seen, TcpRelay

TIMEOUT = 10


async def take(events: EventStream, count: int, *, type: str | None = None) -> list[Event]:
    """The next ``count`` events (of ``type``, skipping others), within the test timeout."""
    taken: list[Event] = []
    with trio.fail_after(TIMEOUT):
        async for event in events:
            if type is None or event.type == type:
                taken.append(event)
            if len(taken) == count:
                break
    return taken


async def send_many(client: Client, channel_id: str, bodies: list[str]) -> list[str]:
    return [(await client.messages.send(channel_id, body)).message.id for body in bodies]


def message_ids(events: list[Event]) -> list[str]:
    ids = []
    for event in events:
        payload = event.typed_payload()
        assert isinstance(payload, MessageCreatedPayload)
        ids.append(payload.message_id)
    return ids


def test_websocket_url_keeps_scheme_and_prefix() -> None:
    assert websocket_url("https://chat.example/cc/", "wsp_1", "cur_2") == (
        "wss://chat.example/cc/api/realtime/ws?workspace_id=wsp_1&after_cursor=cur_2"
    )
    assert websocket_url("http://127.0.0.1:8080", "wsp_1", None) == (
        "ws://127.0.0.1:8080/api/realtime/ws?workspace_id=wsp_1"
    )


async def test_fresh_start_delivers_only_new_events(world: World, owner: Client) -> None:
    await send_many(owner, world.channel_id, ["before 1", "before 2"])
    async with owner.realtime.connect(world.workspace_id) as events:
        assert events.statistics().connected
        sent = await send_many(owner, world.channel_id, ["after 1", "after 2"])
        got = await take(events, 2)
        stats = events.statistics()
    assert message_ids(got) == sent
    assert [e.seq for e in got] == [3, 4]
    assert events.cursor == got[-1].cursor
    assert (stats.transport, stats.events, stats.connects, stats.reconnects) == (
        "websocket",
        2,
        1,
        0,
    )
    assert stats.last_cursor == got[-1].cursor


async def test_resume_after_a_persisted_cursor(world: World, owner: Client) -> None:
    async with owner.realtime.connect(world.workspace_id) as events:
        first = await send_many(owner, world.channel_id, ["one"])
        [seen] = await take(events, 1)
        saved = events.cursor
    assert message_ids([seen]) == first and saved == seen.cursor
    missed = await send_many(owner, world.channel_id, ["two", "three"])
    async with owner.realtime.connect(world.workspace_id, after_cursor=saved) as events:
        assert message_ids(await take(events, 2)) == missed


async def test_reconnects_after_the_connection_drops_mid_stream(
    world: World, nursery: trio.Nursery, client_for: ClientFactory, owner: Client
) -> None:
    relay = TcpRelay(int(world.url.rsplit(":", 1)[1]))
    url = await nursery.start(relay.run)
    async with (
        client_for(world.owner, base_url=url) as client,
        client.realtime.connect(world.workspace_id, ping_interval=None) as events,
    ):
        sent = await send_many(owner, world.channel_id, [f"burst {i}" for i in range(30)])
        delivered = await take(events, 5)
        assert relay.cut() >= 1
        sent += await send_many(owner, world.channel_id, [f"while down {i}" for i in range(5)])
        delivered += await take(events, 30)
        relay.cut()
        sent += await send_many(owner, world.channel_id, ["after the second cut"])
        delivered += await take(events, 1)
        stats = events.statistics()
    assert message_ids(delivered) == sent
    assert len({e.cursor for e in delivered}) == len(delivered)
    assert stats.reconnects >= 2 and stats.events == len(sent)


async def test_keepalive_notices_a_silent_dead_link(
    world: World, nursery: trio.Nursery, client_for: ClientFactory, owner: Client
) -> None:
    relay = TcpRelay(int(world.url.rsplit(":", 1)[1]))
    url = await nursery.start(relay.run)
    async with (
        client_for(world.owner, base_url=url) as client,
        client.realtime.connect(world.workspace_id, ping_interval=0.1) as events,
    ):
        sent = await send_many(owner, world.channel_id, ["before"])
        delivered = await take(events, 1)
        assert relay.freeze() >= 1
        sent += await send_many(owner, world.channel_id, ["after the link died"])
        delivered += await take(events, 1)
        assert events.statistics().reconnects >= 1
    assert message_ids(delivered) == sent


async def test_reconnects_after_close_1013(world: World, owner: Client) -> None:
    hub = world.running.server.hub
    async with owner.realtime.connect(world.workspace_id) as events:
        sent = await send_many(owner, world.channel_id, ["a", "b"])
        delivered = await take(events, 1)
        topic = hub.topic(world.workspace_id)
        assert topic is not None
        for subscriber in list(topic.subscribers):
            subscriber.close(closes.BUFFER_OVERFLOW)
        sent += await send_many(owner, world.channel_id, ["c"])
        delivered += await take(events, 2)
        assert events.statistics().reconnects == 1
    assert message_ids(delivered) == sent


async def test_unknown_cursor_raises_resync_required(world: World, owner: Client) -> None:
    stale = "cur_" + "0" * 26
    async with owner.realtime.connect(world.workspace_id, after_cursor=stale) as events:
        with pytest.raises(ResyncRequired) as caught, trio.fail_after(TIMEOUT):
            await events.__anext__()
        with pytest.raises(ResyncRequired):
            await events.__anext__()
    assert caught.value.cursor == stale
    assert caught.value.code == 4001
    assert caught.value.reason == closes.RESYNC_REQUIRED.reason


async def test_resync_required_carries_the_last_delivered_cursor(
    world: World, nursery: trio.Nursery, client_for: ClientFactory, owner: Client
) -> None:
    relay = TcpRelay(int(world.url.rsplit(":", 1)[1]))
    url = await nursery.start(relay.run)
    async with (
        client_for(world.owner, base_url=url) as client,
        client.realtime.connect(world.workspace_id) as events,
    ):
        await send_many(owner, world.channel_id, ["kept"])
        [delivered] = await take(events, 1)

        def prune(tx: Tx) -> None:
            tx.execute("DELETE FROM events WHERE workspace_id = ?", (world.workspace_id,))

        await world.db.write(prune)
        relay.cut()
        with pytest.raises(ResyncRequired) as caught, trio.fail_after(TIMEOUT):
            await events.__anext__()
    assert caught.value.cursor == delivered.cursor


async def test_resync_hook_resumes_from_the_cursor_it_answers(world: World, owner: Client) -> None:
    calls: list[ResyncRequired] = []
    resynced = trio.Event()

    async def resync(error: ResyncRequired) -> str | None:
        calls.append(error)
        tail = await owner.realtime.pull(world.workspace_id, limit=1, include_tail=True)
        await send_many(owner, world.channel_id, ["after the resync point"])
        resynced.set()
        return tail.tail_cursor

    stale = "cur_" + "0" * 26
    async with owner.realtime.connect(
        world.workspace_id, after_cursor=stale, on_resync=resync
    ) as events:
        with trio.fail_after(TIMEOUT):
            await resynced.wait()
        got = await take(events, 1)
        assert events.statistics().resyncs == 1
    assert [c.cursor for c in calls] == [stale]
    assert [e.type for e in got] == ["message.created"]


async def test_resync_hook_answering_none_starts_from_a_fresh_tail(
    world: World, owner: Client
) -> None:
    resynced = trio.Event()

    async def resync(error: ResyncRequired) -> str | None:
        await send_many(owner, world.channel_id, ["before the fresh tail"])
        resynced.set()
        return None

    async with owner.realtime.connect(
        world.workspace_id, after_cursor="cur_" + "0" * 26, on_resync=resync
    ) as events:
        with trio.fail_after(TIMEOUT):
            await resynced.wait()
            await events.wait_connected()
        sent = await send_many(owner, world.channel_id, ["after the fresh tail"])
        got = await take(events, 1)
    assert message_ids(got) == sent


async def test_revoked_session_ends_the_stream_with_1008(
    world: World, client_for: ClientFactory, owner: Client
) -> None:
    member = await world.user("Leaving")
    async with (
        client_for(member) as client,
        client.realtime.connect(world.workspace_id) as events,
    ):
        await world.db.write(revoke_session, member.token)
        await send_many(owner, world.channel_id, ["wake up"])
        with pytest.raises(RealtimeClosed) as caught, trio.fail_after(TIMEOUT):
            async for _ in events:
                pass
    assert caught.value.code == 1008
    assert caught.value.reason == closes.SESSION_REVOKED.reason
    assert not isinstance(caught.value, ResyncRequired)


async def test_handshake_errors_raise_from_connect(world: World, client_for: ClientFactory) -> None:
    async with client_for(None, token="sst_" + "0" * 26) as client:
        with pytest.raises(AuthenticationError):
            async with client.realtime.connect(world.workspace_id, after_cursor="cur_x"):
                pass
    bot = await world.bot(["messages:read"])
    async with client_for(bot) as client:
        with pytest.raises(PermissionDenied) as caught:
            async with client.realtime.connect(world.workspace_id, after_cursor="cur_x"):
                pass
    assert caught.value.error == "bot token is missing scope realtime:read"


async def test_handshake_503_is_retried_then_raised(
    world: World, nursery: trio.Nursery, client_for: ClientFactory
) -> None:
    def rule(seen: Seen) -> Reply | str:
        if seen.path == "/api/realtime/ws":
            return Reply(503, body=b'{"error":"realtime is unavailable"}\n')
        return FORWARD

    proxy = FaultProxy(world.url, rule)
    url = await nursery.start(proxy.run)
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)
    async with client_for(world.owner, base_url=url) as client:
        with pytest.raises(ServerUnavailable) as caught:
            async with client.realtime.connect(world.workspace_id, reconnect=policy):
                pass
    assert caught.value.error == "realtime is unavailable"
    assert proxy.count("GET", "/api/realtime/ws") == 3


async def test_bot_stream_and_ephemeral_events(
    world: World, client_for: ClientFactory, owner: Client
) -> None:
    bot = await world.bot(["bot:read"])
    async with (
        client_for(bot) as client,
        client.realtime.connect(world.workspace_id) as events,
    ):
        published = await owner.realtime.typing(world.workspace_id, channel=world.channel_id)
        [typing] = await take(events, 1)
        cursor_before = events.cursor
        sent = await send_many(owner, world.channel_id, ["durable"])
        [created] = await take(events, 1)
    assert typing.id == published.id and typing.cursor == "" and not typing.durable
    payload = typing.typed_payload()
    assert isinstance(payload, TypingPayload)
    assert (payload.user_id, payload.channel_id) == (world.owner.user_id, world.channel_id)
    assert message_ids([created]) == sent and created.durable
    assert cursor_before != created.cursor


async def test_dev_auth_stream(dev_running: Running) -> None:
    async with Client(dev_running.url, user_id=dev_running.dev_user_id) as client:
        [workspace] = await client.workspaces.list()
        channel = await client.channels.find("#general", workspace=workspace)
        async with client.realtime.connect(workspace) as events:
            sent = await client.messages.send(channel, "dev stream")
            [event] = await take(events, 1)
    assert message_ids([event]) == [sent.message.id]


async def test_pull_transport_same_interface(
    world: World, nursery: trio.Nursery, client_for: ClientFactory, owner: Client
) -> None:
    failing = [0]

    def rule(seen: Seen) -> Reply | str:
        if seen.path == "/api/realtime/events" and failing[0] > 0:
            failing[0] -= 1
            return Reply(503)
        return FORWARD

    proxy = FaultProxy(world.url, rule)
    url = await nursery.start(proxy.run)
    await send_many(owner, world.channel_id, ["old"])
    async with (
        client_for(world.owner, base_url=url) as client,
        client.realtime.connect(
            world.workspace_id, transport="pull", poll_interval=0.02, page_size=3
        ) as events,
    ):
        sent = await send_many(owner, world.channel_id, [f"p{i}" for i in range(7)])
        delivered = await take(events, 4)
        failing[0] = 12
        sent += await send_many(owner, world.channel_id, ["during faults"])
        delivered += await take(events, 4)
        stats = events.statistics()
    assert message_ids(delivered) == sent
    assert stats.transport == "pull" and stats.events == 8
    assert stats.reconnects >= 1 and stats.last_cursor == delivered[-1].cursor


async def test_connect_argument_checks(world: World, owner: Client) -> None:
    bad: dict[str, Any]
    for bad in ({"ping_interval": 0}, {"poll_interval": -1}, {"transport": "carrier-pigeon"}):
        with pytest.raises(ValueError):
            async with owner.realtime.connect(world.workspace_id, **bad):
                pass
