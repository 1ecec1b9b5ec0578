"""Bot catch-up: a bot far behind its saved cursor handles its backlog through HTTP pull.

Run: python -m benchmarks.bench_catchup [--events 20000] [--channels 8] [--runs 3]

The server runs as its own process (``clickclack serve``) on loopback. ``--events`` durable
``message.created`` events, round robin over ``--channels`` channels, are written into its log
behind the bot's saved cursor (far past the socket's 5,000-event replay limit). A
``BotRuntime`` in this process then starts from that cursor with a no-op ``on_event`` handler;
the rate is backlog / (start -> every event handled and its cursor committed). Each run starts
again from the same saved cursor. Pull pages, gap checks, lanes and commit tracking included.
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
from clickclack_bots import Account, Bot, BotRuntime, EventContext, MemoryCursorStore


def _prepare(data: Path, events: int, channels: int) -> tuple[str, str]:
    """A workspace with a bot and ``events`` events after the bot's saved cursor; returns
    (bot token, saved cursor)."""
    from clickclack_server.db import Database
    from clickclack_server.store import bots as bot_store
    from clickclack_server.store import channels as channel_store
    from clickclack_server.store.events import insert_event
    from clickclack_server.store.realtime import newest_cursor

    workspace, _, _ = seed(data, 1)
    db = Database(data / "clickclack.db")

    def setup(tx: Any) -> tuple[str, str, list[str]]:
        owner = tx.scalar(
            "SELECT user_id FROM workspace_members WHERE workspace_id = ? AND role = 'owner'",
            (workspace,),
        )
        made = [
            channel_store.create(tx, workspace, owner, name=f"lane-{i}")[0].id
            for i in range(channels)
        ]
        bot = bot_store.create_bot_user(
            tx, workspace_id=workspace, display_name="Catcher", handle="catcher"
        )
        minted = bot_store.mint_token(
            tx, bot_user_id=bot.id, workspace_id=workspace, owner_user_id=None, scopes=["bot:write"]
        )
        assert minted.token is not None
        return minted.token, newest_cursor(tx, workspace), made

    def backlog(tx: Any, channel_ids: list[str]) -> None:
        for n in range(events):
            insert_event(
                tx,
                workspace_id=workspace,
                type="message.created",
                channel_id=channel_ids[n % len(channel_ids)],
                payload={"message_id": f"msg_bench{n}", "author_id": "usr_bench", "n": n},
            )

    try:
        token, saved, channel_ids = db.write_sync(setup)
        db.write_sync(backlog, channel_ids)
    finally:
        db.close()
    return token, saved


async def catch_up(url: str, token: str, saved: str, events: int) -> float:
    """Seconds from the runtime's start until the whole backlog is handled and committed."""
    bot = Bot("catcher", publish_commands=False, help_command=False)
    handled = 0

    @bot.on_event("message.created")
    async def noop(ctx: EventContext) -> None:
        nonlocal handled
        handled += 1

    store = MemoryCursorStore()
    store.cursors["bench"] = saved
    account = Account(bot=bot, server=url, token=token, name="bench", store=store)
    runtime = BotRuntime(account, lane_buffer=1024)
    async with trio.open_nursery() as nursery:
        started = time.perf_counter()
        await nursery.start(runtime.run)
        await runtime.wait_caught_up()
        elapsed = time.perf_counter() - started
        stats = runtime.statistics()
        assert handled == events and stats.catch_up_events == events, (handled, stats)
        assert stats.resyncs == 0 and stats.cursor_lag == 0, stats
        runtime.stop()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cc-bench-catchup-") as tmp:
        data = Path(tmp) / "data"
        built = time.perf_counter()
        token, saved = _prepare(data, args.events, args.channels)
        print(f"backlog events={args.events} written in {time.perf_counter() - built:.1f}s")
        rates = []
        with serve(data) as url:
            for run in range(1, args.runs + 1):
                seconds = trio.run(catch_up, url, token, saved, args.events)
                rates.append(args.events / seconds)
                print(f"run {run}: {seconds:.2f}s, {rates[-1]:,.0f} events/s")
    print(
        f"catch-up events={args.events} channels={args.channels} "
        f"median={statistics.median(rates):,.0f} events/s (min {min(rates):,.0f})"
    )


if __name__ == "__main__":
    main()
