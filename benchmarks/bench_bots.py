"""Bot framework: in-process dispatch throughput and echo round trip against the real server.

Run: python benchmarks/bench_bots.py [--events 100000] [--lanes 64] [--echoes 300]

1. Dispatch: synthetic durable events fed to an offline ``BotRuntime`` (no network), spread
   over ``--lanes`` conversations, each routed through the lanes to a no-op ``on_event``
   handler (middleware chain, cancel scope with a deadline, commit tracking included).
   Target: 20,000 events/s.
2. Echo round trip: the server runs as its own process; a bot runtime (in this process)
   answers ``echo <n>``; a human client posts and waits for the bot's reply on its own
   realtime stream. Latency = post sent -> reply event received. Target: p50 under 10 ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from benchmarks._server import seed, serve
from clickclack_bots import (
    Account,
    AccountInfo,
    Bot,
    BotRuntime,
    EventContext,
    MemoryCursorStore,
    MessageContext,
)
from clickclack_sdk import Client, Event


def _percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


async def dispatch(events: int, lanes: int) -> float:
    """Events per second through the lanes to a no-op handler."""
    bot = Bot("bench", publish_commands=False, help_command=False)
    handled = 0
    finished = trio.Event()

    @bot.on_event("channel.updated")
    async def noop(ctx: EventContext) -> None:
        nonlocal handled
        handled += 1
        if handled == events:
            finished.set()

    runtime = BotRuntime(
        Account(
            bot=bot, server="http://127.0.0.1:9", token="ccb_offline", store=MemoryCursorStore()
        ),
        lane_buffer=1024,
        max_concurrency=256,
    )
    info = AccountInfo(
        name="bench",
        user_id="usr_bench",
        handle="bench",
        display_name="Bench",
        workspace_id="wsp_b",
    )
    batch = [
        Event(
            id=f"evt_{index:012d}",
            cursor=f"cur_{index:012d}",
            type="channel.updated",
            workspace_id="wsp_b",
            created_at="2026-01-01T00:00:00Z",
            payload={"channel_id": f"chn_{index % lanes}", "archived": False},
            channel_id=f"chn_{index % lanes}",
        )
        for index in range(events)
    ]
    async with Client("http://127.0.0.1:9") as client, trio.open_nursery() as nursery:
        await nursery.start(runtime.run_offline, client, info)
        started = time.perf_counter()
        for event in batch:
            await runtime.feed(event)
        await finished.wait()
        await runtime.wait_idle()
        elapsed = time.perf_counter() - started
        stats = runtime.statistics()
        assert stats.handled == events and stats.cursor_lag == 0, stats
        assert stats.committed_cursor == batch[-1].cursor
        runtime.stop()
    return events / elapsed


def _seed_bot(data: Path) -> tuple[str, str, str, str]:
    """Workspace, #general, a human session token and a bot token."""
    from clickclack_server.db import Database
    from clickclack_server.store import bots as bot_store

    workspace, channel, tokens = seed(data, 1)
    db = Database(data / "clickclack.db")

    def create(tx: Any) -> str:
        bot = bot_store.create_bot_user(
            tx, workspace_id=workspace, display_name="Echo", handle="echo"
        )
        minted = bot_store.mint_token(
            tx, bot_user_id=bot.id, workspace_id=workspace, owner_user_id=None, scopes=["bot:write"]
        )
        assert minted.token is not None
        return minted.token

    try:
        bot_token = db.write_sync(create)
    finally:
        db.close()
    return workspace, channel, tokens[0], bot_token


async def echo(
    url: str, channel: str, human_token: str, bot_token: str, rounds: int
) -> list[float]:
    """Round trip latencies (seconds) of ``rounds`` echo exchanges."""
    bot = Bot("echo", publish_commands=False, help_command=False)

    @bot.on_message(r"^echo \d+$")
    async def answer(ctx: MessageContext) -> None:
        await ctx.reply(ctx.text.replace("echo", "reply", 1))

    account = Account(bot=bot, server=url, token=bot_token, start="now", store=MemoryCursorStore())
    latencies: list[float] = []
    async with trio.open_nursery() as nursery:
        runtime: BotRuntime = await nursery.start(BotRuntime(account).run)
        assert runtime.info is not None
        bot_id = runtime.info.user_id
        async with (
            Client(url, token=human_token) as human,
            human.realtime.connect(runtime.info.workspace_id) as stream,
        ):
            for index in range(rounds + 20):
                expected = f"reply {index}"
                started = time.perf_counter()
                await human.messages.send(channel, f"echo {index}")
                async for event in stream:
                    payload = event.payload or {}
                    if event.type == "message.created" and payload.get("author_id") == bot_id:
                        elapsed = time.perf_counter() - started
                        break
                if index >= 20:  # the first exchanges warm connections and caches
                    latencies.append(elapsed)
                reply = await human.messages.get(str(payload["message_id"]))
                assert reply.body == expected, (reply.body, expected)
        runtime.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--lanes", type=int, default=64)
    parser.add_argument("--echoes", type=int, default=300)
    args = parser.parse_args()

    rate = trio.run(dispatch, args.events, args.lanes)
    print(f"dispatch events={args.events} lanes={args.lanes} throughput={rate:,.0f} events/s")

    with tempfile.TemporaryDirectory(prefix="cc-bench-bots-") as tmp:
        data = Path(tmp) / "data"
        _, channel, human_token, bot_token = _seed_bot(data)
        with serve(data) as url:
            latencies = trio.run(echo, url, channel, human_token, bot_token, args.echoes)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = _percentile(latencies, 0.99) * 1000
    print(f"echo rounds={len(latencies)} p50={p50:.1f}ms p99={p99:.1f}ms")


if __name__ == "__main__":
    main()
