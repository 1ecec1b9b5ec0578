"""Crash and replay: a bot killed mid-handler 20 times over 200 messages replies exactly once
to each of them (reply nonces derived from the event, the handler and the call's ordinal)."""

from __future__ import annotations

import re
from collections import Counter

import trio

from clickclack_bots import Bot, MessageContext
from clickclack_bots.testing import ClickClackHarness, TestUser

MESSAGES = 200
KILLS = 20


async def test_kill_mid_handler_then_replay_exactly_once(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    channels = [await clickclack_server.create_channel(f"work-{i}") for i in range(4)]
    kill_points = sorted(range(0, MESSAGES, MESSAGES // KILLS))  # 20 messages, all in lane 0
    before_reply = set(kill_points[0::2])
    after_reply = set(kill_points[1::2])
    attempts: Counter[int] = Counter()
    crash_requested = trio.Event()

    def channel_of(n: int) -> str:
        return channels[0].id if n in kill_points else channels[1 + n % 3].id

    bot = Bot("worker")

    @bot.on_message(r"^job (\d+)$")
    async def job(ctx: MessageContext) -> None:
        assert ctx.match is not None
        n = int(ctx.match[1])
        attempts[n] += 1
        first = attempts[n] == 1
        if first and n in before_reply:
            crash_requested.set()
            await trio.sleep_forever()  # killed here, before replying
        # The text differs between attempts: a replay must keep the first reply, not add one.
        await ctx.reply(f"done {n} attempt {attempts[n]}")
        if first and n in after_reply:
            crash_requested.set()
            await trio.sleep_forever()  # killed here, after replying, before finishing

    running = await clickclack_server.start_bot(bot)
    posted = trio.Event()

    async def post_all() -> None:
        for n in range(MESSAGES):
            await user.client.messages.send(channel_of(n), f"job {n}")
        posted.set()

    with trio.fail_after(45):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(post_all)
            for _ in range(KILLS):
                await crash_requested.wait()
                crash_requested = trio.Event()
                await running.restart()
            await posted.wait()
        await running.wait_caught_up(timeout=30)
    assert running.starts == KILLS + 1

    replies: Counter[int] = Counter()
    bodies: dict[int, str] = {}
    for channel in channels:
        async for message in user.client.messages.iter_forward(channel.id):
            match = re.fullmatch(r"done (\d+) attempt (\d+)", message.body)
            if match and message.author_id == running.user_id:
                replies[int(match[1])] += 1
                bodies[int(match[1])] = message.body
    assert replies == Counter({n: 1 for n in range(MESSAGES)})
    for n in after_reply:
        assert attempts[n] >= 2 and bodies[n] == f"done {n} attempt 1"
    for n in before_reply:
        assert attempts[n] >= 2 and bodies[n] != f"done {n} attempt 1"
    await running.stop()
    stats = running.statistics()
    assert stats.cursor_lag == 0 and stats.failed == 0
