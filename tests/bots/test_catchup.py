"""Catch-up through the HTTP pull endpoint: a bot far behind its saved cursor (beyond the
socket's 5,000-event replay limit, close 4001) handles everything it missed, once and in lane
order, then follows the socket; only events pruned from the log reach the resync handlers.

The backlogs are written straight into the server's log (one transaction), not posted one by
one. The last test checks that the plugin's :class:`~clickclack_bots.testing.TestUser` catches
up through pull the same way when its socket is refused replay.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import trio

from clickclack_bots import Bot, EventContext, EventGap, ResyncContext
from clickclack_bots.testing import ClickClackHarness, RunningBot
from clickclack_sdk import Client, ResyncRequired

TIMEOUT = 60.0


async def _channels(harness: ClickClackHarness, count: int) -> list[str]:
    from clickclack_server.store import channels

    def create(tx: Any) -> list[str]:
        return [
            channels.create(tx, harness.workspace_id, harness.owner_id, name=f"lane-{i}")[0].id
            for i in range(count)
        ]

    made: list[str] = await harness.db.write(create)
    return made


async def _backlog(
    harness: ClickClackHarness, channel_ids: list[str], count: int, *, first: int = 0
) -> list[str]:
    """``count`` ``message.created`` events numbered from ``first``, round robin over the
    channels, appended to the log in one transaction; returns their cursors."""
    from clickclack_server.store.events import insert_event

    def insert(tx: Any) -> list[str]:
        return [
            insert_event(
                tx,
                workspace_id=harness.workspace_id,
                type="message.created",
                channel_id=channel_ids[n % len(channel_ids)],
                payload={"message_id": f"msg_backlog{n}", "author_id": harness.owner_id, "n": n},
            ).cursor
            for n in range(first, first + count)
        ]

    cursors: list[str] = await harness.db.write(insert)
    return cursors


async def _owner_client(harness: ClickClackHarness) -> Client:
    """The owner's HTTP client without a realtime stream (see the module docstring)."""
    from clickclack_server.store import sessions

    session = await harness.db.write(sessions.create_session, harness.owner_id)
    return harness.client(session.token)


class Recorder:
    """A bot recording every ``message.created`` it handles, per channel, in handling order."""

    def __init__(self) -> None:
        self.bot = Bot("catcher", help_command=False, publish_commands=False)
        self.order: dict[str, list[int]] = {}
        self.handled: Counter[int] = Counter()
        self.live: list[str] = []
        self.gaps: list[ResyncRequired] = []

        @self.bot.on_event("message.created")
        async def record(ctx: EventContext) -> None:
            n = ctx.payload.get("n")
            if n is None:
                self.live.append(str(ctx.payload.get("message_id")))
                return
            self.handled[n] += 1
            self.order.setdefault(str(ctx.event.channel_id), []).append(n)

        @self.bot.on_resync
        async def resync(ctx: ResyncContext) -> None:
            self.gaps.append(ctx.error)

    def assert_exactly_once_in_order(self, numbers: range, channel_ids: list[str]) -> None:
        assert self.handled == Counter({n: 1 for n in numbers})
        for index, channel_id in enumerate(channel_ids):
            wanted = [n for n in numbers if n % len(channel_ids) == index]
            assert self.order.get(channel_id, []) == wanted


async def _live_message_goes_through_the_socket(
    running: RunningBot, recorder: Recorder, client: Client, channel_id: str
) -> None:
    """Once the bot follows the socket again, a new message arrives there, not by pull."""
    runtime = running.runtime
    assert runtime is not None
    before = running.statistics().catch_up_events
    with trio.fail_after(TIMEOUT):
        await runtime.wait_live()
    sent = await client.messages.send(channel_id, "live")
    await running.wait_caught_up(TIMEOUT)
    assert recorder.live[-1] == sent.message.id
    assert running.statistics().catch_up_events == before


async def test_backlog_past_the_replay_limit_is_handled_exactly_once_in_lane_order(
    clickclack_server: ClickClackHarness,
) -> None:
    channel_ids = await _channels(clickclack_server, 4)
    recorder = Recorder()
    running = await clickclack_server.start_bot(recorder.bot)
    await running.stop()
    await _backlog(clickclack_server, channel_ids, 20_000)

    await running.start()  # from the saved cursor, 20,000 events behind
    await running.wait_caught_up(TIMEOUT)
    recorder.assert_exactly_once_in_order(range(20_000), channel_ids)
    stats = running.statistics()
    assert stats.catch_up_events == 20_000 and stats.resyncs == 0 and not recorder.gaps
    assert stats.cursor_lag == 0 and stats.failed == 0

    async with await _owner_client(clickclack_server) as owner:
        await _live_message_goes_through_the_socket(running, recorder, owner, channel_ids[0])
    await running.stop()


async def test_replay_refused_during_a_run_catches_up_by_pull(
    clickclack_server: ClickClackHarness,
) -> None:
    channel_ids = await _channels(clickclack_server, 3)
    recorder = Recorder()
    running = await clickclack_server.start_bot(recorder.bot)
    assert running.runtime is not None
    with trio.fail_after(TIMEOUT):
        await running.runtime.wait_live()
    await _backlog(clickclack_server, channel_ids, 50)
    await running.wait_caught_up(TIMEOUT)  # these came over the socket
    assert running.statistics().catch_up_events == 0

    # 7,000 events at once: the socket cannot replay them (close 4001) while the bot runs.
    await _backlog(clickclack_server, channel_ids, 7_000, first=50)
    await running.wait_caught_up(TIMEOUT)
    recorder.assert_exactly_once_in_order(range(7_050), channel_ids)
    stats = running.statistics()
    assert stats.catch_up_events == 7_000 and stats.catch_ups >= 1
    assert stats.resyncs == 0 and not recorder.gaps

    async with await _owner_client(clickclack_server) as owner:
        await _live_message_goes_through_the_socket(running, recorder, owner, channel_ids[1])
    await running.stop()


async def test_pruned_gap_reaches_the_resync_handler_with_its_bounds(
    clickclack_server: ClickClackHarness,
) -> None:
    from clickclack_server.store.realtime import prune_events

    channel_ids = await _channels(clickclack_server, 2)
    recorder = Recorder()
    running = await clickclack_server.start_bot(recorder.bot)
    await _backlog(clickclack_server, channel_ids, 5)
    await running.wait_caught_up(TIMEOUT)
    await running.stop()
    saved = running.statistics().committed_cursor
    assert saved is not None and recorder.handled == Counter(range(5))

    await _backlog(clickclack_server, channel_ids, 30, first=5)  # pruned before the bot runs
    kept = await _backlog(clickclack_server, channel_ids, 20, first=35)
    pruned = await clickclack_server.db.write(
        prune_events, clickclack_server.workspace_id, keep_latest=20
    )
    assert pruned > 30

    await running.start()
    await running.wait_caught_up(TIMEOUT)
    # What the log still holds is handled; what it lost is not (and cannot be).
    assert recorder.handled == Counter([*range(5), *range(35, 55)])
    assert recorder.order[channel_ids[0]] == [0, 2, 4, *range(36, 55, 2)]
    [gap] = recorder.gaps
    assert isinstance(gap, EventGap)
    assert (gap.cursor, gap.resumed_at, gap.tail) == (saved, kept[0], kept[-1])
    assert gap.resumed_created_at is not None
    assert running.statistics().resyncs == 1

    async with await _owner_client(clickclack_server) as owner:
        await _live_message_goes_through_the_socket(running, recorder, owner, channel_ids[0])
    await running.stop()
    await running.start()  # the gap is behind the saved cursor now: not reported again
    await running.wait_caught_up(TIMEOUT)
    assert len(recorder.gaps) == 1
    await running.stop()


async def test_gap_with_nothing_retained_goes_on_with_new_events(
    clickclack_server: ClickClackHarness,
) -> None:
    from clickclack_server.store.realtime import prune_events

    [channel_id] = await _channels(clickclack_server, 1)
    recorder = Recorder()
    running = await clickclack_server.start_bot(recorder.bot)
    await _backlog(clickclack_server, [channel_id], 3)
    await running.wait_caught_up(TIMEOUT)
    await running.stop()
    saved = running.statistics().committed_cursor
    await _backlog(clickclack_server, [channel_id], 10, first=3)
    await clickclack_server.db.write(prune_events, clickclack_server.workspace_id, keep_latest=0)

    await running.start()
    assert running.runtime is not None
    with trio.fail_after(TIMEOUT):
        await running.runtime.wait_live()
    [gap] = recorder.gaps
    assert isinstance(gap, EventGap)
    assert (gap.cursor, gap.resumed_at, gap.tail) == (saved, None, None)
    async with await _owner_client(clickclack_server) as owner:
        await _live_message_goes_through_the_socket(running, recorder, owner, channel_id)
    assert recorder.handled == Counter(range(3))
    await running.stop()


async def test_crash_during_catch_up_then_replay_sends_each_effect_once(
    clickclack_server: ClickClackHarness,
) -> None:
    channel_ids = await _channels(clickclack_server, 3)
    bot = Bot("acker", help_command=False, publish_commands=False)
    attempts: Counter[int] = Counter()
    crash_requested = trio.Event()

    @bot.on_event("message.created")
    async def ack(ctx: EventContext) -> None:
        n = ctx.payload.get("n")
        if n is None:
            return
        attempts[n] += 1
        if n % 250 == 0:
            await ctx.send(f"channel:{ctx.event.channel_id}", f"ack {n}")
        if n == 3_000 and attempts[n] == 1:
            crash_requested.set()
            await trio.sleep_forever()  # killed here, after its effect, mid catch-up

    running = await clickclack_server.start_bot(bot)
    await running.stop()
    await _backlog(clickclack_server, channel_ids, 6_000)
    await running.start()
    with trio.fail_after(TIMEOUT):
        await crash_requested.wait()
    await running.restart()
    await running.wait_caught_up(TIMEOUT)

    assert set(attempts) == set(range(6_000)) and attempts[3_000] == 2
    acks: Counter[str] = Counter()
    async with await _owner_client(clickclack_server) as owner:
        for channel_id in channel_ids:
            async for message in owner.messages.iter_forward(channel_id):
                if message.author_id == running.user_id:
                    acks[message.body] += 1
    assert acks == Counter({f"ack {n}": 1 for n in range(0, 6_000, 250)})
    await running.stop()


async def test_pull_transport_catches_up_and_reports_gaps_too(
    clickclack_server: ClickClackHarness,
) -> None:
    from clickclack_server.store.realtime import prune_events

    channel_ids = await _channels(clickclack_server, 2)
    recorder = Recorder()
    running = await clickclack_server.start_bot(recorder.bot, transport="pull")
    await _backlog(clickclack_server, channel_ids, 3)
    await running.wait_caught_up(TIMEOUT)
    await running.stop()
    saved = running.statistics().committed_cursor
    await _backlog(clickclack_server, channel_ids, 10, first=3)
    kept = await _backlog(clickclack_server, channel_ids, 1_200, first=13)
    await clickclack_server.db.write(
        prune_events, clickclack_server.workspace_id, keep_latest=1_200
    )

    await running.start()
    await running.wait_caught_up(TIMEOUT)
    assert recorder.handled == Counter([*range(3), *range(13, 1_213)])
    assert recorder.order[channel_ids[1]] == [1, *range(13, 1_213, 2)]
    [gap] = recorder.gaps
    assert isinstance(gap, EventGap)
    assert (gap.cursor, gap.resumed_at, gap.tail) == (saved, kept[0], kept[-1])
    async with await _owner_client(clickclack_server) as owner:
        sent = await owner.messages.send(channel_ids[0], "polled")
        await running.wait_caught_up(TIMEOUT)
    assert recorder.live == [sent.message.id]
    await running.stop()


async def test_graceful_stop_mid_catch_up_then_restart_handles_each_event_once(
    clickclack_server: ClickClackHarness,
) -> None:
    channel_ids = await _channels(clickclack_server, 3)
    recorder = Recorder()
    midway = trio.Event()

    @recorder.bot.on_event("message.created")
    async def watch(ctx: EventContext) -> None:
        if ctx.payload.get("n") == 2_000:
            midway.set()

    running = await clickclack_server.start_bot(recorder.bot)
    await running.stop()
    await _backlog(clickclack_server, channel_ids, 8_000)
    await running.start()
    with trio.fail_after(TIMEOUT):
        await midway.wait()
    await running.stop()  # intake first, then the lanes drain, then the cursor is saved
    assert 2_000 <= sum(recorder.handled.values()) < 8_000
    assert max(recorder.handled.values()) == 1

    await running.start()
    await running.wait_caught_up(TIMEOUT)
    recorder.assert_exactly_once_in_order(range(8_000), channel_ids)
    await running.stop()


async def test_test_user_catches_up_after_a_burst_past_the_replay_limit(
    clickclack_server: ClickClackHarness,
) -> None:
    """The plugin's TestUser reads a burst of 6,000 events through pull when its socket is
    refused replay (4001), instead of failing the test with ResyncRequired."""
    channel_ids = await _channels(clickclack_server, 2)
    user = await clickclack_server.owner()
    burst = await _backlog(clickclack_server, channel_ids, 6_000)
    async with await _owner_client(clickclack_server) as owner:
        sent = await owner.messages.send(channel_ids[0], "after the burst")
    await user.wait_for_event(
        lambda event: event.payload.get("message_id") == sent.message.id, timeout=TIMEOUT
    )
    seen = [event.cursor for event in user.events if event.cursor in set(burst)]
    assert len(seen) == len(set(seen)) == 6_000
