"""Realtime event streams (protocol 4): a WebSocket stream and an HTTP pull stream, one interface.

Both deliver :class:`~clickclack_sdk.Event` objects in cursor order and remember the cursor of
the last durable event *delivered* to the caller. When the connection drops (network failure,
close 1013, server restart) they reconnect with backoff from that cursor, so nothing is lost
and nothing is delivered twice. Close 4001 means the server cannot replay from there:
:class:`~clickclack_sdk.ResyncRequired` is raised (or the ``on_resync`` hook is called).

The WebSocket stream reads frames in a background task that hands each event over through an
unbuffered channel: the hand-over completes only when the caller has taken the event, which is
the moment its cursor counts as delivered.
"""

from __future__ import annotations

import abc
import json
import math
import random
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

import attrs
import trio
import trio_websocket

from clickclack_sdk._convert import from_data
from clickclack_sdk._errors import (
    ClickClackError,
    NetworkError,
    RealtimeClosed,
    ResyncRequired,
    error_for_status,
    error_text,
)
from clickclack_sdk._models import Event
from clickclack_sdk._retry import RetryPolicy

if TYPE_CHECKING:
    from clickclack_sdk._client import Client

BEARER_SUBPROTOCOL = "clickclack.bearer."
RESYNC_CODE = 4001
FATAL_CLOSE_CODES = frozenset({1002, 1003, 1007, 1008, 1009, 1010, RESYNC_CODE})
"""Closes that reconnecting cannot fix (policy/credentials, protocol errors, resync)."""
STABLE_AFTER = 5.0
"""Seconds a connection must live (or one frame must arrive) before backoff starts over."""
CLOSE_TIMEOUT = 5.0
"""Longest wait for a closing handshake: a dead link must not delay the reconnect for long."""

ResyncHook = Callable[[ResyncRequired], Awaitable[str | None]]
"""Called on close 4001 instead of raising: resync through REST, then answer the cursor to
resume from (``None``: start fresh from the current tail)."""

TransportName = Literal["websocket", "pull"]


@attrs.frozen(kw_only=True)
class StreamStatistics:
    """Runtime counters of an event stream (``stream.statistics()``)."""

    transport: str
    connected: bool
    connects: int
    """Successful connections (WebSocket handshakes, or pull requests that answered)."""
    reconnects: int
    """Times the stream had to connect again after losing its connection."""
    resyncs: int
    """4001 closes handled by the ``on_resync`` hook."""
    events: int
    """Events delivered to the caller."""
    last_cursor: str | None
    """Cursor of the last durable event delivered (or the starting cursor)."""


def websocket_url(base_url: str, workspace_id: str, after_cursor: str | None) -> str:
    """``ws(s)://…/api/realtime/ws?workspace_id=…[&after_cursor=…]`` for an HTTP base URL."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    query = {"workspace_id": workspace_id}
    if after_cursor:
        query["after_cursor"] = after_cursor
    path = parts.path.rstrip("/") + "/api/realtime/ws"
    return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))


def unwrap_group(error: BaseException) -> BaseException:
    """The single exception inside (nested) exception groups, or the group itself."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


class EventStream(abc.ABC):
    """What ``client.realtime.connect(...)`` yields: ``async for event in stream``."""

    transport: str = ""

    def __init__(self, client: Client, workspace_id: str, *, policy: RetryPolicy) -> None:
        self._client = client
        self.workspace_id = workspace_id
        self._policy = policy
        self._cursor: str | None = None
        self._live = trio.Event()
        self._connects = 0
        self._reconnects = 0
        self._resyncs = 0
        self._events = 0

    @property
    def cursor(self) -> str | None:
        """The cursor of the last durable event delivered (persist it to resume later)."""
        return self._cursor

    def statistics(self) -> StreamStatistics:
        """A snapshot of the stream's counters."""
        return StreamStatistics(
            transport=self.transport,
            connected=self._live.is_set(),
            connects=self._connects,
            reconnects=self._reconnects,
            resyncs=self._resyncs,
            events=self._events,
            last_cursor=self._cursor,
        )

    def __aiter__(self) -> EventStream:
        return self

    async def wait_connected(self) -> None:
        """Block until the stream is connected (a WebSocket handshake done, or a pull
        answered); returns at once when it is. Useful before triggering events you expect."""
        await self._live.wait()

    def _set_connected(self, connected: bool) -> None:
        if connected:
            self._live.set()
        elif self._live.is_set():
            self._live = trio.Event()

    @abc.abstractmethod
    async def __anext__(self) -> Event:
        """The next event; blocks (reconnecting as needed) until there is one."""

    def _is_new(self, event: Event) -> bool:
        """False for a durable event at or before the delivered cursor (a replayed duplicate)."""
        return not (event.cursor and self._cursor and event.cursor <= self._cursor)

    async def _tail(self) -> str | None:
        """The newest cursor visible now (``None`` when the workspace has no events)."""
        batch = await self._client.realtime.pull(self.workspace_id, limit=1, include_tail=True)
        return batch.tail_cursor or None

    async def _backoff(self, attempt: int, error: ClickClackError) -> None:
        """Sleep before the next try after failure number ``attempt``, or raise ``error`` when
        it is not transient or the policy gives up."""
        if not self._policy.is_retryable(error) or not self._policy.allows(attempt):
            raise error
        await trio.sleep(self._policy.delay(attempt, error))


@attrs.define
class _Session:
    """How one WebSocket connection ended."""

    frames: int = 0
    began: float = 0.0
    close: tuple[int, str] = (1006, "")


class WebSocketEventStream(EventStream):
    """Events over ``GET /api/realtime/ws`` (bearer token in the ``clickclack.bearer.<token>``
    subprotocol), reconnecting from the delivered cursor."""

    transport = "websocket"

    def __init__(
        self,
        client: Client,
        workspace_id: str,
        *,
        policy: RetryPolicy,
        on_resync: ResyncHook | None,
        ping_interval: float | None,
        connect_timeout: float,
    ) -> None:
        super().__init__(client, workspace_id, policy=policy)
        self._on_resync = on_resync
        self._ping_interval = ping_interval
        self._connect_timeout = connect_timeout
        self._send, self._receive = trio.open_memory_channel[Event | ClickClackError](0)
        self._failed: ClickClackError | None = None
        self._task_status: trio.TaskStatus[None] | None = None

    async def __anext__(self) -> Event:
        if self._failed is not None:
            raise self._failed
        try:
            item = await self._receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None
        if isinstance(item, ClickClackError):
            self._failed = item
            raise item
        self._events += 1
        if item.cursor:
            self._cursor = item.cursor
        return item

    async def run(
        self,
        after_cursor: str | None,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Connect, deliver, reconnect; report ``started`` after the first handshake.

        Errors before the first handshake are raised to the starter; later fatal errors are
        handed to the reader through the channel.
        """
        self._cursor = after_cursor
        self._task_status = task_status
        failures = 0
        async with self._send:
            while True:
                try:
                    session = await self._session()
                    if session.frames or trio.current_time() - session.began >= STABLE_AFTER:
                        failures = 0
                    await self._after_close(session.close)
                    error: ClickClackError = NetworkError(
                        f"realtime connection closed ({session.close[0]})"
                    )
                except RealtimeClosed as closed:
                    await self._send.send(closed)
                    return
                except ClickClackError as raised:
                    error = raised
                failures += 1
                try:
                    await self._backoff(failures, error)
                except ClickClackError:
                    if self._task_status is not None:
                        raise
                    await self._send.send(error)
                    return

    async def _session(self) -> _Session:
        """One connection from handshake to close; handshake failures raise
        :class:`ClickClackError`, everything after it is reported in the returned session."""
        url = websocket_url(self._client.base_url, self.workspace_id, self._cursor)
        token = self._client.token
        headers = [
            (key.lower().encode(), value.encode())
            for key, value in self._client.auth_headers("GET").items()
            if key.lower() != "authorization"
        ]
        session = _Session()
        try:
            async with trio_websocket.open_websocket_url(
                url,
                subprotocols=[BEARER_SUBPROTOCOL + token] if token else [],
                extra_headers=headers,
                message_queue_size=16,
                connect_timeout=self._connect_timeout,
                disconnect_timeout=min(CLOSE_TIMEOUT, self._connect_timeout),
            ) as connection:
                self._connected_once()
                session.began = trio.current_time()
                try:
                    await self._deliver(connection, session)
                finally:
                    self._set_connected(False)
        except BaseException as raw:
            error = unwrap_group(raw)
            if session.began:
                if isinstance(error, OSError | trio_websocket.HandshakeError):
                    return session  # closing an already broken connection failed: it is gone
                raise
            if isinstance(error, trio_websocket.ConnectionRejected):
                raise error_for_status(error.status_code, error_text(error.body or b"")) from None
            if isinstance(error, OSError | trio_websocket.HandshakeError):
                raise NetworkError(f"realtime connect failed: {error!r}") from error
            raise
        return session

    def _connected_once(self) -> None:
        self._connects += 1
        self._set_connected(True)
        if self._task_status is None:
            self._reconnects += 1
        else:
            status, self._task_status = self._task_status, None
            status.started()

    async def _deliver(
        self, connection: trio_websocket.WebSocketConnection, session: _Session
    ) -> None:
        """Forward frames until the connection closes (or stops answering pings)."""
        async with trio.open_nursery() as nursery:
            if self._ping_interval:
                nursery.start_soon(self._keepalive, connection, nursery.cancel_scope)
            while True:
                try:
                    text = await connection.get_message()
                except trio_websocket.ConnectionClosed as closed:
                    if closed.reason is not None:
                        session.close = (closed.reason.code, closed.reason.reason or "")
                    break
                session.frames += 1
                event = _parse(text)
                if event is None or not self._is_new(event):
                    continue
                await self._send.send(event)
                # Taken by the reader: delivered. (The reader records it too; this side needs it
                # before it may run again, e.g. to reconnect.)
                if event.cursor:
                    self._cursor = event.cursor
            nursery.cancel_scope.cancel()

    async def _keepalive(
        self, connection: trio_websocket.WebSocketConnection, scope: trio.CancelScope
    ) -> None:
        """Ping every ``ping_interval``; no pong in time means a dead link: end the session."""
        assert self._ping_interval is not None
        while True:
            await trio.sleep(self._ping_interval)
            with trio.move_on_after(self._ping_interval) as waited:
                try:
                    await connection.ping()
                except trio_websocket.ConnectionClosed:
                    return
            if waited.cancelled_caught:
                scope.cancel()
                return

    async def _after_close(self, close: tuple[int, str]) -> None:
        """Raise for fatal closes; on 4001 resync through the hook (or raise)."""
        code, reason = close
        if code == RESYNC_CODE:
            resync = ResyncRequired(
                f"realtime resync required: {reason}" if reason else "realtime resync required",
                cursor=self._cursor,
                reason=reason,
            )
            if self._on_resync is None:
                raise resync
            resumed = await self._on_resync(resync)
            self._resyncs += 1
            self._cursor = resumed if resumed is not None else await self._tail()
            return
        if code in FATAL_CLOSE_CODES:
            raise RealtimeClosed(f"realtime closed {code}: {reason}", code=code, reason=reason)


def _parse(text: str | bytes) -> Event | None:
    """A frame as an Event; frames that are not Event JSON are skipped."""
    try:
        return from_data(json.loads(text), Event)
    except Exception:
        return None


class PullEventStream(EventStream):
    """Events over ``GET /api/realtime/events``, polled every ``poll_interval`` when idle.

    For environments without WebSockets. Same ordering, cursor and reconnect behaviour;
    ephemeral events and hub-only notices are never delivered this way.
    """

    transport = "pull"

    def __init__(
        self,
        client: Client,
        workspace_id: str,
        *,
        policy: RetryPolicy,
        poll_interval: float,
        page_size: int,
    ) -> None:
        super().__init__(client, workspace_id, policy=policy)
        self._poll_interval = poll_interval
        self._page_size = page_size
        self._buffer: deque[Event] = deque()
        self._failures = 0

    async def start(self, after_cursor: str | None) -> None:
        """Pull once from ``after_cursor`` so that failures to reach the server (401, 403...)
        raise from ``connect()`` as a WebSocket handshake failure would."""
        self._cursor = after_cursor
        while not self._live.is_set():
            await self._fill(idle_wait=False)

    async def __anext__(self) -> Event:
        while not self._buffer:
            await self._fill(idle_wait=True)
        event = self._buffer.popleft()
        self._events += 1
        if event.cursor:
            self._cursor = event.cursor
        return event

    async def _fill(self, *, idle_wait: bool) -> None:
        """One pull into the buffer; on failure back off (or raise when the policy gives up);
        when nothing new came, wait ``poll_interval`` (jittered) if ``idle_wait``."""
        try:
            batch = await self._client.realtime.pull(
                self.workspace_id, after_cursor=self._cursor, limit=self._page_size
            )
        except ClickClackError as error:
            self._set_connected(False)
            self._failures += 1
            await self._backoff(self._failures, error)
            return
        if self._failures and self._connects:
            self._reconnects += 1
        self._failures = 0
        self._connects += 1
        self._set_connected(True)
        fresh = [event for event in batch.events if self._is_new(event)]
        self._buffer.extend(fresh)
        if not fresh and idle_wait:
            await trio.sleep(self._poll_interval * random.uniform(0.9, 1.1))


def check_interval(name: str, value: float | None) -> None:
    """Refuse a zero, negative or non-finite number of seconds for option ``name``."""
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a positive number of seconds")
