"""Fault injection on a real loopback port, without monkeypatching anything.

- :class:`FaultProxy`: a small HTTP/1.1 server (h11 over trio) in front of the real ClickClack
  server. For each request a test-supplied rule decides: forward it, answer a canned status
  (503, 429 with Retry-After...), or forward it and then drop the connection without answering
  (the request *was* applied: the ambiguous failure).
- :class:`TcpRelay`: a byte-level TCP relay (HTTP and WebSocket alike) whose open connections a
  test can cut at any moment, as a network failure would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import h11
import httpx
import trio


@attrs.frozen
class Seen:
    """One request that reached the proxy."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@attrs.frozen
class Reply:
    """Answer with this status (and headers/body) instead of forwarding."""

    status: int
    headers: dict[str, str] = attrs.field(factory=dict)
    body: bytes = b'{"error":"injected"}\n'


FORWARD = "forward"
FORWARD_THEN_DROP = "forward-then-drop"
Rule = Callable[[Seen], Reply | str]


class FaultProxy:
    """An HTTP proxy on ``127.0.0.1:<free port>`` whose behaviour ``rule`` decides."""

    def __init__(self, upstream: str, rule: Rule | None = None) -> None:
        self.upstream = upstream
        self.rule: Rule = rule or (lambda seen: FORWARD)
        self.seen: list[Seen] = []
        self.url = ""
        self._http = httpx.AsyncClient(base_url=upstream, timeout=30)

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        try:
            async with trio.open_nursery() as nursery:
                task_status.started(self.url)
                await trio.serve_listeners(self._serve, listeners, handler_nursery=nursery)
        finally:
            await self._http.aclose()

    async def _serve(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        async with stream:
            while True:
                seen = await self._read_request(conn, stream)
                if seen is None:
                    return
                self.seen.append(seen)
                action = self.rule(seen)
                if isinstance(action, Reply):
                    await self._respond(conn, stream, action.status, action.headers, action.body)
                else:
                    upstream = await self._http.request(
                        seen.method,
                        seen.target,
                        headers={
                            k: v
                            for k, v in seen.headers.items()
                            if k not in ("host", "content-length", "connection")
                        },
                        content=seen.body,
                    )
                    if action == FORWARD_THEN_DROP:
                        return
                    headers = {
                        k: v
                        for k, v in upstream.headers.items()
                        if k not in ("content-length", "transfer-encoding", "connection")
                    }
                    await self._respond(
                        conn, stream, upstream.status_code, headers, upstream.content
                    )
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()

    async def _read_request(self, conn: h11.Connection, stream: trio.SocketStream) -> Seen | None:
        request: h11.Request | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = await stream.receive_some(65536)
                except trio.BrokenResourceError:
                    return None
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                return Seen(
                    method=request.method.decode(),
                    target=request.target.decode(),
                    headers={k.decode().lower(): v.decode() for k, v in request.headers},
                    body=body,
                )
            else:
                return None

    async def _respond(
        self,
        conn: h11.Connection,
        stream: trio.SocketStream,
        status: int,
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        pairs: list[tuple[str, str]] = [*headers.items(), ("content-length", str(len(body)))]
        out = conn.send(h11.Response(status_code=status, headers=pairs))
        out = (out or b"") + (conn.send(h11.Data(data=body)) or b"")
        out += conn.send(h11.EndOfMessage()) or b""
        await stream.send_all(out)

    def count(self, method: str, path: str) -> int:
        return sum(1 for seen in self.seen if seen.method == method and seen.path == path)


def fail_first(n: int, reply: Reply, *, method: str, path_prefix: str) -> Rule:
    """A rule answering ``reply`` to the first ``n`` matching requests, forwarding the rest."""
    left = [n]

    def rule(seen: Seen) -> Reply | str:
        if seen.method == method and seen.path.startswith(path_prefix) and left[0] > 0:
            left[0] -= 1
            return reply
        return FORWARD

    return rule


@attrs.define(eq=False)
class _Link:
    """One relayed connection."""

    client: trio.SocketStream
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    server: trio.SocketStream | None = None
    frozen: bool = False


class TcpRelay:
    """Relays TCP connections from a free loopback port to ``upstream_port``. :meth:`cut`
    aborts every open connection at once, as a network failure would; :meth:`freeze` makes
    them silently stop carrying bytes (a dead link that never closes). New connections are
    relayed normally either way."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.url = ""
        self.accepted = 0
        self._links: set[_Link] = set()
        self._frozen: list[_Link] = []

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        try:
            async with trio.open_nursery() as nursery:
                task_status.started(self.url)
                await trio.serve_listeners(self._relay, listeners, handler_nursery=nursery)
        finally:
            for link in self._frozen:
                await self._close(link)

    async def _relay(self, client: trio.SocketStream) -> None:
        self.accepted += 1
        link = _Link(client)
        self._links.add(link)
        try:
            with link.scope:
                link.server = await trio.open_tcp_stream("127.0.0.1", self.upstream_port)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._pipe, client, link.server, link.scope)
                    nursery.start_soon(self._pipe, link.server, client, link.scope)
        finally:
            self._links.discard(link)
            if link.frozen:
                self._frozen.append(link)
            else:
                await self._close(link)

    async def _pipe(self, source: Any, sink: Any, scope: trio.CancelScope) -> None:
        try:
            while data := await source.receive_some(65536):
                await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        scope.cancel()

    async def _close(self, link: _Link) -> None:
        await trio.aclose_forcefully(link.client)
        if link.server is not None:
            await trio.aclose_forcefully(link.server)

    def cut(self) -> int:
        """Abort every open connection; answers how many there were."""
        links = list(self._links)
        for link in links:
            link.scope.cancel()
        return len(links)

    def freeze(self) -> int:
        """Stop carrying bytes on every open connection, leaving the sockets open."""
        links = list(self._links)
        for link in links:
            link.frozen = True
            link.scope.cancel()
        return len(links)
