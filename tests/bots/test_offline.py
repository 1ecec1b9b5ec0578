"""The offline runtime (lanes fed directly, no server) and the dispatch benchmark's path."""

from __future__ import annotations

import pytest
import trio

from benchmarks.bench_bots import dispatch
from clickclack_bots import (
    Account,
    AccountInfo,
    Bot,
    BotRuntime,
    ConfigError,
    EventContext,
    MemoryCursorStore,
)
from clickclack_sdk import Client, Event

INFO = AccountInfo(name="t", user_id="usr_me", handle="me", display_name="Me", workspace_id="wsp_1")


def event(n: int, channel: str, type: str = "channel.updated", **payload: object) -> Event:
    return Event(
        id=f"evt_{n:04d}",
        cursor=f"cur_{n:04d}",
        type=type,
        workspace_id="wsp_1",
        created_at="2026-01-01T00:00:00Z",
        payload={"channel_id": channel, **payload},
        channel_id=channel,
    )


async def test_offline_lanes_commit_and_statistics() -> None:
    bot = Bot("offline")
    seen: list[tuple[str | None, str]] = []
    gate = trio.Event()

    @bot.on_event("channel.updated", "reaction.added")
    async def record(ctx: EventContext) -> None:
        if ctx.event.id == "evt_0001":
            await gate.wait()
        seen.append((ctx.event.channel_id, ctx.event.id))

    store = MemoryCursorStore()
    runtime = BotRuntime(
        Account(bot=bot, server="http://127.0.0.1:9", token="t", name="t", store=store)
    )
    async with Client("http://127.0.0.1:9") as client, trio.open_nursery() as nursery:
        await nursery.start(runtime.run_offline, client, INFO)
        await runtime.feed(event(1, "chn_a"))
        await runtime.feed(event(2, "chn_b"))
        await runtime.feed(event(3, "chn_a"))
        await runtime.feed(event(4, "chn_b", "reaction.added", user_id="usr_me", emoji="x"))  # own
        await trio.testing.wait_all_tasks_blocked()
        stats = runtime.statistics()
        # chn_b went ahead; chn_a waits behind evt_0001, so nothing can be committed yet.
        assert seen == [("chn_b", "evt_0002")]
        assert (stats.committed_cursor, stats.cursor_lag, stats.in_flight) == ("", 4, 1)
        assert stats.lane_depth == 1 and stats.lanes == 2
        gate.set()
        await runtime.wait_idle()
        runtime.stop()
    assert seen == [("chn_b", "evt_0002"), ("chn_a", "evt_0001"), ("chn_a", "evt_0003")]
    stats = runtime.statistics()
    assert (stats.events_in, stats.handled, stats.ignored, stats.cursor_lag) == (4, 3, 1, 0)
    assert await store.load("t") == "cur_0004"


async def test_dispatch_benchmark_runs() -> None:
    assert await dispatch(2_000, 8) > 0


def test_bot_run_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLICKCLACK_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="no bot token"):
        Bot("x").run(start="now")
