"""A lean HTTP/1.1 keep-alive load generator for loopback benchmarks.

httpx costs more CPU per request than our server does, and on a 2-core machine the client would
be what is measured. This client sends pre-built requests over raw Trio sockets and reads each
response by its Content-Length, nothing more. It only speaks to our own server on 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import trio


def build_request(method: str, url: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    host = urlsplit(url).netloc
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection; ``send`` returns (status, body)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    @classmethod
    async def open(cls, url: str) -> Connection:
        parts = urlsplit(url)
        return cls(await trio.open_tcp_stream(parts.hostname or "127.0.0.1", parts.port or 80))

    async def _fill(self) -> None:
        chunk = await self.stream.receive_some(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buffer += chunk

    async def send(self, request: bytes) -> tuple[int, bytes]:
        await self.stream.send_all(request)
        while b"\r\n\r\n" not in self.buffer:
            await self._fill()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(rest) < length:
            self.buffer = head + b"\r\n\r\n" + rest
            await self._fill()
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
        self.buffer = rest[length:]
        return status, rest[:length]

    async def aclose(self) -> None:
        await self.stream.aclose()


async def closed_loop(
    url: str,
    make_request: Callable[[int, int], bytes],
    *,
    connections: int,
    seconds: float,
    expect: int,
) -> list[float]:
    """``connections`` workers each send back-to-back requests for ``seconds``; latencies in s."""
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def worker(number: int) -> None:
        conn = await Connection.open(url)
        try:
            index = 0
            while time.perf_counter() < stop_at:
                index += 1
                request = make_request(number, index)
                started = time.perf_counter()
                status, body = await conn.send(request)
                latencies.append(time.perf_counter() - started)
                if status != expect:
                    raise RuntimeError(f"unexpected {status}: {body[:200]!r}")
        finally:
            await conn.aclose()

    async with trio.open_nursery() as nursery:
        for number in range(connections):
            nursery.start_soon(worker, number)
    return latencies
