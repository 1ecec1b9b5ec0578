"""Realtime fan-out: many WebSocket subscribers on one workspace.

Run: python -m benchmarks.bench_fanout [--subscribers 1000] [--client-procs 2] [--rate 5]
                                       [--seconds 10] [--burst 60] [--replay 5000]

The server runs as its own process (``clickclack serve``) on loopback; the subscribers are
trio-websocket clients in ``--client-procs`` other processes. Reports:

- RSS per idle connection: server RSS with every socket open minus before, per socket;
- steady latency: messages posted at ``--rate``/s; per delivery, the time from the post's
  response to the frame's arrival (p50/p99; clamped at 0, since a frame may beat the response);
- deliveries/s: ``--burst`` messages posted back to back; frames received / time from the first
  post to the last frame;
- replay: ``--replay`` events appended to the log, then one fresh client replays them from the
  cursor before them (connect to last frame).

Timestamps are ``time.monotonic_ns()``, which Linux shares between processes.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio
from trio_websocket import ConnectionClosed, connect_websocket_url, open_websocket_url

from benchmarks._server import seed, serve
from clickclack_server.db import Database, Tx
from clickclack_server.store.events import insert_event

# Subscriber processes.


async def run_clients(url: str, token: str, workspace_id: str, after: str, count: int) -> None:
    """Open ``count`` sockets, print "ready", then record (cursor, arrival) per frame; on a
    "report" line print the records as JSON, on "quit" leave."""
    socket_url = url.replace("http://", "ws://") + (
        f"/api/realtime/ws?workspace_id={workspace_id}&after_cursor={after}"
    )
    headers = [(b"authorization", f"Bearer {token}".encode())]
    records: list[tuple[str, int]] = []
    connected = 0
    all_connected = trio.Event()
    handshakes = trio.Semaphore(64)

    async def subscriber(nursery: trio.Nursery) -> None:
        nonlocal connected
        async with handshakes:
            websocket = await connect_websocket_url(nursery, socket_url, extra_headers=headers)
        connected += 1
        if connected == count:
            all_connected.set()
        clock = time.monotonic_ns
        try:
            while True:
                frame = str(await websocket.get_message())
                start = frame.find('"cursor":"') + 10
                records.append((frame[start : frame.find('"', start)], clock()))
        except ConnectionClosed:
            return

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(subscriber, nursery)
        await all_connected.wait()
        # The sockets live as long as this process: keep the collector from rescanning them,
        # so that client pauses do not pass for server latency.
        gc.collect()
        gc.freeze()
        print("ready", flush=True)
        stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
        buffer = b""
        while chunk := await stdin.receive_some():
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip() == b"report":
                    print(json.dumps(records), flush=True)
                    records.clear()
                elif line.strip() == b"quit":
                    nursery.cancel_scope.cancel()
                    return


class Clients:
    """The subscriber processes, driven over their stdin and stdout."""

    def __init__(self, url: str, token: str, workspace_id: str, after: str, args: Any) -> None:
        total, procs = args.subscribers, args.client_procs
        counts = [total // procs + (1 if index < total % procs else 0) for index in range(procs)]
        self.procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--role", "clients", "--url", url, "--token", token,
                 "--workspace", workspace_id, "--after", after, "--subscribers", str(count)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for count in counts
            if count
        ]  # fmt: skip

    def wait_ready(self) -> None:
        for proc in self.procs:
            assert proc.stdout is not None
            if (line := proc.stdout.readline().strip()) != "ready":
                raise RuntimeError(f"subscriber process said {line!r}")

    def collect(self) -> list[tuple[str, int]]:
        records: list[tuple[str, int]] = []
        for proc in self.procs:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("report\n")
            proc.stdin.flush()
            records.extend((cursor, at) for cursor, at in json.loads(proc.stdout.readline()))
        return records

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(proc.pid) for proc in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None and proc.stdin is not None:
                proc.stdin.write("quit\n")
                proc.stdin.flush()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


# Measurements.


def server_pid() -> int:
    """The server: this process's only child while no subscriber process runs yet."""
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one child process, found {children}")
    return int(children[0])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


class Poster:
    """Posts messages to #general; each post returns (cursor, request start, response end)."""

    def __init__(self, http: httpx.Client, channel_id: str) -> None:
        self.http = http
        self.path = f"/api/channels/{channel_id}/messages"
        self.count = 0

    def post(self) -> tuple[str, int, int]:
        self.count += 1
        started = time.monotonic_ns()
        response = self.http.post(self.path, json={"body": f"fan-out {self.count}"})
        done = time.monotonic_ns()
        response.raise_for_status()
        return response.json()["event"]["cursor"], started, done

    def steady(self, rate: float, seconds: float) -> list[tuple[str, int, int]]:
        posts = []
        begin = time.monotonic()
        for index in range(int(rate * seconds)):
            if (delay := begin + index / rate - time.monotonic()) > 0:
                time.sleep(delay)
            posts.append(self.post())
        return posts


def tail_cursor(http: httpx.Client, workspace_id: str) -> str:
    response = http.get(
        "/api/realtime/events",
        params={"workspace_id": workspace_id, "include_tail": "true", "limit": "1"},
    )
    response.raise_for_status()
    cursor: str = response.json()["tail_cursor"]
    return cursor


def steady_phase(poster: Poster, clients: Clients, pid: int, args: Any) -> dict[str, Any]:
    server_cpu, client_cpu = cpu_seconds(pid), clients.cpu_seconds()
    posts = poster.steady(args.rate, args.seconds)
    time.sleep(1.0)
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, clients.cpu_seconds() - client_cpu
    records = clients.collect()
    by_cursor = {cursor: done for cursor, _, done in posts}
    latencies = [max(0, at - by_cursor[c]) / 1e6 for c, at in records if c in by_cursor]
    return {
        "rate_per_s": args.rate,
        "posts": len(posts),
        "deliveries": len(latencies),
        "expected": len(posts) * args.subscribers,
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies, default=math.nan), 1),
        "server_cpu_us_per_delivery": round(1e6 * server_cpu / max(1, len(latencies)), 1),
        "client_cpu_us_per_delivery": round(1e6 * client_cpu / max(1, len(latencies)), 1),
    }


def burst_phase(poster: Poster, clients: Clients, args: Any) -> dict[str, Any]:
    posts = [poster.post() for _ in range(args.burst)]
    time.sleep(2.0)
    wanted = {cursor for cursor, _, _ in posts}
    arrivals = [at for cursor, at in clients.collect() if cursor in wanted]
    elapsed = (max(arrivals) - posts[0][1]) / 1e9 if arrivals else math.nan
    return {
        "posts": len(posts),
        "deliveries": len(arrivals),
        "expected": len(posts) * args.subscribers,
        "seconds": round(elapsed, 3),
        "deliveries_per_s": round(len(arrivals) / elapsed) if arrivals else 0,
    }


def append_events(data: Path, workspace_id: str, count: int) -> None:
    """Append ``count`` events to the log from this process (the server keeps running)."""
    db = Database(data / "clickclack.db")

    def insert(tx: Tx) -> None:
        for index in range(count):
            insert_event(
                tx,
                workspace_id=workspace_id,
                type="workspace.updated",
                payload={"workspace_id": workspace_id, "n": index},
            )

    try:
        db.write_sync(insert)
    finally:
        db.close()


async def replay_phase(url: str, token: str, workspace_id: str, after: str, count: int) -> Any:
    socket_url = url.replace("http://", "ws://") + (
        f"/api/realtime/ws?workspace_id={workspace_id}&after_cursor={after}"
    )
    started = time.monotonic()
    async with open_websocket_url(
        socket_url,
        extra_headers=[(b"authorization", f"Bearer {token}".encode())],
        message_queue_size=1024,
        receive_buffer_size=1 << 16,
    ) as websocket:
        for _ in range(count):
            await websocket.get_message()
        elapsed = time.monotonic() - started
    return {"events": count, "seconds": round(elapsed, 3)}


def orchestrate(args: Any) -> dict[str, Any]:
    results: dict[str, Any] = {"subscribers": args.subscribers, "client_procs": args.client_procs}
    with tempfile.TemporaryDirectory(prefix="cc-fanout-") as tmp:
        data = Path(tmp) / "data"
        workspace_id, channel_id, [token] = seed(data, 1)
        with (
            serve(data) as url,
            httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as http,
        ):
            pid = server_pid()
            poster = Poster(http, channel_id)
            poster.post()
            after = tail_cursor(http, workspace_id)
            time.sleep(0.5)
            before = rss_kib(pid)
            clients = Clients(url, token, workspace_id, after, args)
            try:
                clients.wait_ready()
                time.sleep(1.0)
                after_open = rss_kib(pid)
                results["rss_kib"] = {"before": before, "with_sockets": after_open}
                results["rss_per_socket_kib"] = round((after_open - before) / args.subscribers, 1)
                results["steady"] = steady_phase(poster, clients, pid, args)
                results["burst"] = burst_phase(poster, clients, args)
            finally:
                clients.stop()
            after = tail_cursor(http, workspace_id)
            append_events(data, workspace_id, args.replay)
            results["replay"] = trio.run(replay_phase, url, token, workspace_id, after, args.replay)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="sockets to open")
    parser.add_argument("--client-procs", type=int, default=2, help="processes holding them")
    parser.add_argument("--rate", type=float, default=5.0, help="steady messages per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="steady phase length")
    parser.add_argument("--burst", type=int, default=60, help="messages in the burst phase")
    parser.add_argument("--replay", type=int, default=5000, help="events in the replay phase")
    parser.add_argument(
        "--role", choices=["main", "clients"], default="main", help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--workspace", help=argparse.SUPPRESS)
    parser.add_argument("--after", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "clients":
        trio.run(run_clients, args.url, args.token, args.workspace, args.after, args.subscribers)
    else:
        print(json.dumps(orchestrate(args), indent=2))


if __name__ == "__main__":
    main()
