"""Search latency benchmark: build a large message corpus through the store, then time
``GET /api/search`` over HTTP for a few query shapes and print p50/p99 per shape.

    /work/venv/bin/python benchmarks/bench_search.py                  # 100k messages
    /work/venv/bin/python benchmarks/bench_search.py --messages 20000 --iterations 100
    /work/venv/bin/python benchmarks/bench_search.py --data /tmp/bench-search   # keep/reuse the DB

The corpus is deterministic (``--seed``): Zipf-distributed words from a synthetic vocabulary plus
a few real "topic" words with fixed frequencies, spread over channels, with a share of thread
replies and a few DMs. Messages are created with the same store functions the HTTP handlers use
(``create_root``/``create_reply``), batched into large transactions, so the FTS triggers, events
and thread state are exactly what a live server would have written.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio

from clickclack_server.auth import Actor
from clickclack_server.config import Config
from clickclack_server.db import Database, Tx
from clickclack_server.runner import Running, open_database, run_server
from clickclack_server.store import messages as message_store
from clickclack_server.store import sessions as session_store
from clickclack_server.store import users as user_store

BATCH = 2000
TOPIC_WORDS = {
    # word: probability that a message mentions it
    "deploy": 0.08,
    "release": 0.05,
    "incident": 0.01,
    "latency": 0.005,
    "kubernetes": 0.0005,
}


@attrs.frozen
class Corpus:
    workspace_id: str
    owner_id: str
    channel_ids: list[str]
    messages: int


@attrs.frozen
class Shape:
    """One query shape to time: its label and the query parameters."""

    label: str
    params: dict[str, Any]
    second_page: bool = False


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    syllables = [a + b for a in "bcdfghjklmnprstvwz" for b in "aeiou"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def make_body(rng: random.Random, words: list[str], weights: list[float]) -> str:
    picked = rng.choices(words, weights=weights, k=rng.randint(6, 30))
    for word, chance in TOPIC_WORDS.items():
        if rng.random() < chance:
            picked.insert(
                rng.randrange(len(picked) + 1), rng.choice([word, word + "ing", word + "s"])
            )
    return " ".join(picked)


def build(db: Database, messages: int, channels: int, reply_share: float, seed: int) -> Corpus:
    """Bootstrap a workspace with members and channels, then post ``messages`` messages."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    weights = [1.0 / (rank + 1) for rank in range(len(words))]

    def setup(tx: Tx) -> tuple[str, str, list[str], list[str]]:
        boot = user_store.bootstrap(tx, name="Bench Owner", email="bench@example.com")
        channel_ids = [boot.channel_id] + [
            user_store.insert_channel(tx, workspace_id=boot.workspace_id, name=f"room-{i}")
            for i in range(1, channels)
        ]
        members = [boot.user_id]
        for i in range(9):
            user = user_store.create_user(
                tx, display_name=f"Bench User {i}", email=f"bench{i}@example.com"
            )
            user_store.add_member(tx, boot.workspace_id, user.id, "member")
            members.append(user.id)
        return boot.workspace_id, boot.user_id, channel_ids, members

    workspace_id, owner_id, channel_ids, members = db.write_sync(setup)
    actors = [Actor(user_id=member, kind="human", via="session") for member in members]
    roots: list[str] = []

    def post_batch(tx: Tx, count: int) -> None:
        for _ in range(count):
            actor = rng.choice(actors)
            draft = message_store.Draft(body=make_body(rng, words, weights))
            if roots and rng.random() < reply_share:
                message_store.create_reply(tx, actor, rng.choice(roots[-2000:]), draft)
            else:
                created = message_store.create_root(
                    tx, actor, draft, channel_id=rng.choice(channel_ids)
                )
                roots.append(created.message.id)

    started = time.perf_counter()
    done = 0
    while done < messages:
        count = min(BATCH, messages - done)
        db.write_sync(post_batch, count)
        done += count
        rate = done / (time.perf_counter() - started)
        print(f"\r  posted {done}/{messages} ({rate:,.0f} msg/s)", end="", file=sys.stderr)
    print(file=sys.stderr)
    return Corpus(workspace_id, owner_id, channel_ids, messages)


def existing_corpus(db: Database) -> Corpus | None:
    """The corpus of a database built by an earlier run (``--data`` reuse)."""

    def read(tx: Tx) -> Corpus | None:
        owner = tx.one("SELECT id FROM users ORDER BY created_at, id LIMIT 1")
        if owner is None:
            return None
        workspace_id = tx.scalar("SELECT id FROM workspaces ORDER BY created_at LIMIT 1")
        channel_ids = [
            row[0]
            for row in tx.all(
                "SELECT id FROM channels WHERE workspace_id = ? ORDER BY name = 'general' DESC, name",
                (workspace_id,),
            )
        ]
        count = int(tx.scalar("SELECT count(*) FROM messages"))
        return Corpus(workspace_id, owner["id"], channel_ids, count)

    return db.read_sync(read)


def shapes(corpus: Corpus) -> list[Shape]:
    channel = corpus.channel_ids[1] if len(corpus.channel_ids) > 1 else corpus.channel_ids[0]
    return [
        Shape("common term (8%)", {"q": "deploy"}),
        Shape("common term, newest", {"q": "deploy", "sort": "newest"}),
        Shape("common term, 2nd page", {"q": "deploy"}, second_page=True),
        Shape("stemmed form", {"q": "deploying"}),
        Shape("rare term (0.05%)", {"q": "kubernetes"}),
        Shape("two terms AND", {"q": "deploy incident"}),
        Shape("three terms, no hit", {"q": "deploy latency kubernetes"}),
        Shape("one channel", {"q": "deploy", "channel_id": channel}),
        Shape("operators as text", {"q": '"deploy" (release*)'}),
        Shape("limit 100", {"q": "release", "limit": 100}),
    ]


async def time_shape(
    http: httpx.AsyncClient, corpus: Corpus, shape: Shape, iterations: int
) -> tuple[int, list[float]]:
    params = {"workspace_id": corpus.workspace_id, **shape.params}
    if shape.second_page:
        first = await http.get("/api/search", params=params)
        first.raise_for_status()
        params["cursor"] = first.json()["next_cursor"]
    samples: list[float] = []
    hits = 0
    for index in range(iterations + 5):
        started = time.perf_counter()
        response = await http.get("/api/search", params=params)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        hits = len(response.json()["results"])
        if index >= 5:  # warm-up
            samples.append(elapsed * 1000)
    return hits, samples


def percentile(samples: list[float], pct: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


async def measure(config: Config, corpus: Corpus, iterations: int) -> list[str]:
    lines = [
        "| query shape | results on page | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(run_server, config)
        session = await running.server.db.write(session_store.create_session, corpus.owner_id)
        headers = {"Authorization": f"Bearer {session.token}"}
        async with httpx.AsyncClient(base_url=running.url, headers=headers, timeout=60) as http:
            for shape in shapes(corpus):
                hits, samples = await time_shape(http, corpus, shape, iterations)
                lines.append(
                    f"| {shape.label} | {hits} | {percentile(samples, 50):.1f} "
                    f"| {percentile(samples, 99):.1f} |"
                )
                print(lines[-1], file=sys.stderr)
        nursery.cancel_scope.cancel()
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--channels", type=int, default=20)
    parser.add_argument("--reply-share", type=float, default=0.15)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", help="data directory to build in and keep (reused if built)")
    args = parser.parse_args(argv)

    def run(data: str) -> None:
        config = Config(addr="127.0.0.1:0", data=data)
        db = open_database(config)
        try:
            corpus = existing_corpus(db)
            if corpus is None:
                print(f"building {args.messages:,} messages in {data}", file=sys.stderr)
                started = time.perf_counter()
                corpus = build(db, args.messages, args.channels, args.reply_share, args.seed)
                print(f"  built in {time.perf_counter() - started:.1f}s", file=sys.stderr)
            else:
                print(f"reusing {corpus.messages:,} messages in {data}", file=sys.stderr)
        finally:
            db.close()
        size = Path(config.db_path).stat().st_size / 1e6
        lines = trio.run(measure, config, corpus, args.iterations)
        print(
            f"\n{corpus.messages:,} messages, {len(corpus.channel_ids)} channels, "
            f"database {size:.0f} MB, {args.iterations} sequential requests per shape "
            f"(after 5 warm-up), one HTTP client on loopback\n"
        )
        print("\n".join(lines))

    if args.data:
        Path(args.data).mkdir(parents=True, exist_ok=True)
        run(args.data)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
            run(tmp)


if __name__ == "__main__":
    main()
