"""The runtime: lanes, deadlines, guards, shutdown, cursors, reconnects, resync, accounts."""

from __future__ import annotations

import random

import pytest
import trio

from clickclack_bots import (
    Account,
    Bot,
    BotRuntime,
    EventGap,
    MemoryCursorStore,
    MessageContext,
    ResyncContext,
    StartPositionRequired,
    run_accounts,
)
from clickclack_bots.testing import ClickClackHarness, TestUser
from clickclack_sdk import RealtimeClosed


async def test_order_within_lanes_concurrency_across(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    ops = await clickclack_server.create_channel("ops")
    bot = Bot("lanes")
    seen: dict[str | None, list[int]] = {}
    unblock = trio.Event()
    blocked_reached = trio.Event()

    @bot.on_message(r"^n (\d+)$")
    async def numbered(ctx: MessageContext) -> None:
        assert ctx.match is not None
        await trio.sleep(random.random() / 200)
        key = ctx.message.thread_root_id if ctx.in_thread else ctx.channel_id
        seen.setdefault(key, []).append(int(ctx.match[1]))

    @bot.on_message("^block$")
    async def block(ctx: MessageContext) -> None:
        blocked_reached.set()
        await unblock.wait()  # only another lane can release it
        await ctx.reply("unblocked")

    @bot.on_message("^release$")
    async def release(ctx: MessageContext) -> None:
        unblock.set()

    running = await clickclack_server.start_bot(bot)
    for n in range(15):
        await user.say("#general", f"n {n}")
        await user.say("#ops", f"n {n}")
    root = await user.say("#general", "block")
    with trio.fail_after(5):
        await blocked_reached.wait()
    await user.say(f"thread:{root.id}", "n 99")  # the thread is its own lane
    await user.say("#ops", "release")
    await user.say("#general", "block")  # queued behind the first block in its lane
    assert (await user.expect_reply()).body == "unblocked"
    await running.wait_caught_up()
    assert seen == {
        clickclack_server.general_id: list(range(15)),
        ops.id: list(range(15)),
        root.id: [99],
    }
    stats = running.statistics()
    assert stats.cursor_lag == 0 and stats.committed_cursor == stats.last_cursor
    assert stats.events_in >= 34 and stats.lane_depth == 0 and stats.connected


async def test_self_and_other_bots_are_ignored(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    bot = Bot("echo")

    @bot.on_message()
    async def echo(ctx: MessageContext) -> None:
        await ctx.reply("echo: " + ctx.text, thread=ctx.text == "thread")

    running = await clickclack_server.start_bot(bot)
    await user.say("#general", "hi")
    assert (await user.expect_reply()).body == "echo: hi"
    said = await user.say("#general", "thread")  # its thread reply's event has no author_id
    assert (await user.expect_reply()).body == "echo: thread"
    other = await clickclack_server.create_bot_account("Other")
    async with clickclack_server.client(other.token) as client:
        await client.messages.send(clickclack_server.general_id, "beep from another bot")
    await user.expect_no_reply(running)
    owner = await clickclack_server.owner()
    page = await owner.client.messages.page(clickclack_server.general_id)
    assert [m.body for m in page.messages if m.author_id == running.user_id] == ["echo: hi"]
    thread = await owner.client.threads.open(said.id)
    assert [m.body for m in thread.replies] == ["echo: thread"]


async def test_bot_to_bot_loop_guard(clickclack_server: ClickClackHarness, user: TestUser) -> None:
    def chatty(name: str) -> Bot:
        bot = Bot(name, allow_bots=True, max_bot_chain=3)

        @bot.on_message()
        async def answer(ctx: MessageContext) -> None:
            await ctx.reply(f"{name}: {ctx.text}"[:200])

        return bot

    first = await clickclack_server.start_bot(chatty("a"))
    second = await clickclack_server.start_bot(chatty("b"))
    await user.say("#general", "go")
    owner = await clickclack_server.owner()
    previous = -1
    with trio.fail_after(10):
        while True:
            await first.wait_caught_up()
            await second.wait_caught_up()
            page = await owner.client.messages.page(clickclack_server.general_id)
            count = len(page.messages)
            if count == previous:
                break
            previous = count
    # The human's message, one answer each, then at most 3 bot-to-bot answers each.
    assert 3 < count <= 1 + 2 + 3 + 3
    assert first.statistics().ignored + second.statistics().ignored >= 1


async def test_deadline_and_failures_do_not_stop_others(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    bot = Bot("deadline", handler_timeout=0.2)
    cancelled = trio.Event()

    @bot.on_message("^hang$")
    async def hang(ctx: MessageContext) -> None:
        assert ctx.cancel_scope.deadline < float("inf")
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()

    @bot.on_message("^extend$")
    async def extend(ctx: MessageContext) -> None:
        ctx.cancel_scope.deadline += 0.3  # a handler may extend its own deadline
        await trio.sleep(0.3)
        await ctx.reply("extended")

    @bot.on_message("^quit$")
    async def quit_early(ctx: MessageContext) -> None:
        ctx.cancel_scope.cancel()  # cancelling itself is a normal end, not a failure
        await trio.sleep_forever()

    @bot.on_message("^ping$")
    async def ping(ctx: MessageContext) -> None:
        await ctx.reply("pong")

    running = await clickclack_server.start_bot(bot)
    await user.say("#general", "hang")
    await user.say("#general", "ping")
    assert (await user.expect_reply()).body == "pong"
    assert cancelled.is_set()
    await user.say("#general", "extend")
    assert (await user.expect_reply()).body == "extended"
    await user.say("#general", "quit")
    await running.wait_caught_up()
    stats = running.statistics()
    assert (stats.failed, stats.timed_out, stats.handled) == (1, 1, 3)


async def test_graceful_shutdown_drains_then_cancels(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    bot = Bot("drainer")
    started = trio.Event()
    gate = trio.Event()
    calls: list[str] = []

    @bot.on_message("^work$")
    async def work(ctx: MessageContext) -> None:
        calls.append("work")
        started.set()
        await gate.wait()
        await ctx.reply("work done")

    @bot.on_message("^forever$")
    async def forever(ctx: MessageContext) -> None:
        calls.append("forever")
        started.set()
        if calls.count("forever") == 1:
            await trio.sleep_forever()
        await ctx.reply("forever done")

    running = await clickclack_server.start_bot(bot)
    await user.say("#general", "work")
    with trio.fail_after(5):
        await started.wait()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(running.stop)
        await trio.testing.wait_all_tasks_blocked()
        assert running.runtime is not None and running.runtime.statistics().in_flight == 1
        gate.set()  # in-flight handlers may finish within the grace period
    assert (await user.expect_reply()).body == "work done"
    saved = await running.store.load(running.runtime.store_key)
    assert saved == running.runtime.statistics().committed_cursor

    await running.start()
    started = trio.Event()
    await user.say("#general", "forever")
    with trio.fail_after(5):
        await started.wait()
    await running.stop(grace=0.1)  # past the grace: cancelled, and not committed
    await running.start()
    assert (await user.expect_reply()).body == "forever done"  # replayed after the restart
    assert calls == ["work", "forever", "forever"]


async def test_first_start_must_choose(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    bot = Bot("history")

    @bot.on_message("^old$")
    async def old(ctx: MessageContext) -> None:
        await ctx.reply("seen old")

    account = await clickclack_server.create_bot_account("History")
    runtime = BotRuntime(
        Account(
            bot=bot, server=clickclack_server.url, token=account.token, store=MemoryCursorStore()
        )
    )
    with pytest.raises(StartPositionRequired, match='start="now"'):
        await runtime.run()

    await user.say("#general", "old")
    now_bot = await clickclack_server.start_bot(bot, start="now")
    await user.expect_no_reply(now_bot)
    await now_bot.stop()
    from_beginning = await clickclack_server.start_bot(bot, start="beginning")
    reply = await user.expect_reply()
    assert (reply.body, reply.author_id) == ("seen old", from_beginning.user_id)
    await from_beginning.restart()  # a saved cursor wins over start=
    await user.say("#general", "old")
    assert (await user.expect_reply()).body == "seen old"
    await user.expect_no_reply(from_beginning)


async def test_dropped_connection_resumes(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    bot = Bot("resilient")

    @bot.on_message(r"^ping (\d+)$")
    async def ping(ctx: MessageContext) -> None:
        assert ctx.match is not None
        await ctx.reply(f"pong {ctx.match[1]}")

    running = await clickclack_server.start_bot(bot)
    for n in range(3):
        assert running.drop_connection() >= 1
        await user.say("#general", f"ping {n}")
        assert (await user.expect_reply()).body == f"pong {n}"
    assert running.statistics().reconnects >= 1


async def test_resync_hook_gets_the_gap_then_what_is_left_is_handled(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    from clickclack_server.store.realtime import prune_events

    bot = Bot("resyncer")
    gaps: list[EventGap] = []
    resynced = trio.Event()

    @bot.on_resync
    async def refetch(ctx: ResyncContext) -> None:
        assert isinstance(ctx.error, EventGap)
        gaps.append(ctx.error)
        resynced.set()

    @bot.on_message()
    async def echo(ctx: MessageContext) -> None:
        await ctx.reply("got " + ctx.text)

    running = await clickclack_server.start_bot(bot)
    await user.say("#general", "one")
    assert (await user.expect_reply()).body == "got one"
    await running.stop()
    saved = running.statistics().committed_cursor
    await user.say("#general", "lost")
    # Only the newest event ("lost") survives: the saved cursor is gone, a gap.
    await clickclack_server.db.write(prune_events, clickclack_server.workspace_id, keep_latest=1)
    await running.start()
    with trio.fail_after(5):
        await resynced.wait()
    assert (await user.expect_reply()).body == "got lost"  # retained: handled after the gap
    [gap] = gaps
    assert gap.cursor == saved and gap.resumed_at == gap.tail is not None
    assert gap.reason == "events pruned past the cursor"
    await user.say("#general", "two")
    assert (await user.expect_reply()).body == "got two"
    assert running.statistics().resyncs == 1


async def test_fatal_stream_error_stops_the_runtime(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    bot = Bot("doomed")
    running = await clickclack_server.start_bot(bot)
    owner = await clickclack_server.owner()
    await owner.client.bots.delete(running.user_id)
    with pytest.raises(RealtimeClosed) as raised, trio.fail_after(5):
        await running.wait_stopped()
    assert raised.value.code == 1008


async def test_multiple_accounts_in_one_process(
    clickclack_server: ClickClackHarness, user: TestUser
) -> None:
    def named(name: str) -> Bot:
        bot = Bot(name)

        @bot.command()
        async def who(ctx: MessageContext) -> None:
            await ctx.reply(f"{name} here")

        return bot

    first = await clickclack_server.create_bot_account("First")
    second = await clickclack_server.create_bot_account("Second")
    accounts = [
        Account(
            bot=named("first"),
            server=clickclack_server.url,
            token=first.token,
            name="first",
            start="now",
            store=MemoryCursorStore(),
        ),
        Account(
            bot=named("second"),
            server=clickclack_server.url,
            token=second.token,
            name="second",
            start="now",
            store=MemoryCursorStore(),
        ),
        Account(
            bot=named("broken"),
            server=clickclack_server.url,
            token="ccb_not_a_token",
            name="broken",
            start="now",
            store=MemoryCursorStore(),
        ),
    ]
    failures: list[int] = []

    async def run_all(*, task_status: trio.TaskStatus[list[BotRuntime]]) -> None:
        failures.append(await run_accounts(accounts, handle_signals=False, task_status=task_status))

    async with trio.open_nursery() as nursery:
        runtimes = await nursery.start(run_all)
        await user.say("#general", "!who")
        bodies = {(await user.expect_reply()).body, (await user.expect_reply()).body}
        assert bodies == {"first here", "second here"}
        live = [r for r in runtimes if r.info is not None]
        assert {r.account.label for r in live} == {"first", "second"}
        assert all(r.statistics().connected for r in live)
        assert len({id(r.services.client) for r in live}) == 2
        for runtime in runtimes:
            runtime.stop()
    assert failures == [1]  # the broken account failed alone
