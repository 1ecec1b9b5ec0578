"""Message-create throughput: N concurrent senders POST to #general over HTTP.

Run: python benchmarks/bench_message_create.py [--senders 32] [--seconds 10]

The server runs as its own process with a persistent SQLite file in a temp dir; each sender is a
separate user with a session token, on its own keep-alive connection, driven by a lean raw-socket
client (benchmarks/_loadgen.py) so the load generator does not eat the CPU it measures. Reports
messages/s and latency p50/p99 (client side, request sent -> response read).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import trio

from benchmarks._loadgen import build_request, closed_loop
from benchmarks._server import seed, serve


async def run(url: str, channel: str, tokens: list[str], seconds: float) -> list[float]:
    path = f"/api/channels/{channel}/messages"
    headers = [
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"} for token in tokens
    ]

    def make_request(sender: int, index: int) -> bytes:
        body = json.dumps({"body": f"benchmark message {sender}-{index}"}).encode()
        return build_request("POST", url, path, body, headers[sender])

    # Warm up connections, the auth cache and SQLite's page cache, then measure.
    await closed_loop(url, make_request, connections=len(tokens), seconds=1.0, expect=201)
    return await closed_loop(
        url, make_request, connections=len(tokens), seconds=seconds, expect=201
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cc-bench-") as tmp:
        data = Path(tmp) / "data"
        _, channel, tokens = seed(data, args.senders)
        with serve(data) as url:
            latencies = trio.run(run, url, channel, tokens, args.seconds)
    latencies.sort()
    count = len(latencies)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(count - 1, int(count * 0.99))] * 1000
    print(f"senders={args.senders} seconds={args.seconds:g} messages={count}")
    print(f"throughput={count / args.seconds:.0f} messages/s p50={p50:.1f}ms p99={p99:.1f}ms")


if __name__ == "__main__":
    main()
