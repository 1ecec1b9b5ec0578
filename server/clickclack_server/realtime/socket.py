"""Serving one admitted realtime WebSocket (protocol 4.3, 4.6).

Replay and live delivery are one loop: the socket subscribes before anything is read, catches
up from the client's cursor to the log tail it captured, then on every wake reads on from its
own position (from the workspace ring, or the log again when it fell behind). Every durable
frame passes :func:`~clickclack_server.realtime.visibility.may_see`; hub-only frames were
filtered when published. The socket is output-only: any client data frame closes it (1008).
"""

from __future__ import annotations

import logging
import time

import trio
from starlette.types import Send
from starlette.websockets import WebSocket

from clickclack_server.db import Database
from clickclack_server.realtime.closes import (
    BUFFER_OVERFLOW,
    CLIENT_DATA,
    REPLAY_INTERRUPTED,
    RESYNC_REQUIRED,
    Close,
)
from clickclack_server.realtime.handshake import SocketGrant
from clickclack_server.realtime.hub import Hub
from clickclack_server.realtime.limits import REPLAY_BUDGET, REPLAY_PAGE, WRITE_TIMEOUT
from clickclack_server.realtime.subscriber import Subscriber
from clickclack_server.realtime.visibility import may_see
from clickclack_server.store import realtime as store

log = logging.getLogger("clickclack_server.realtime")


class _Stop(Exception):
    """Ends delivery; ``close`` is what to send (``None``: the client is already gone)."""

    def __init__(self, close: Close | None) -> None:
        super().__init__(close)
        self.close = close


class _Sender:
    """Writes frames, each only after the credential passed its latest recheck.

    A write that takes longer than :data:`WRITE_TIMEOUT` stops the socket (1013). Hypercorn
    shields its socket writes from cancellation, so a write cannot be abandoned midway; the
    socket is closed as soon as the slow write returns. Nothing piles up meanwhile: durable
    events wait in the log, and hub-only frames overflow into a close.
    """

    __slots__ = ("hub", "send_message", "subscriber")

    def __init__(self, send_message: Send, hub: Hub, subscriber: Subscriber) -> None:
        self.send_message = send_message
        self.hub = hub
        self.subscriber = subscriber

    async def send(self, frame: str) -> None:
        subscriber = self.subscriber
        if subscriber.checked_generation < self.hub.generation:
            await self.hub.wait_authorized(subscriber)
        if subscriber.close_request is not None:
            raise _Stop(subscriber.close_request)
        started = time.monotonic()
        try:
            await self.send_message({"type": "websocket.send", "text": frame})
        except OSError:
            raise _Stop(None) from None
        if time.monotonic() - started > WRITE_TIMEOUT:
            raise _Stop(BUFFER_OVERFLOW)


async def serve_socket(
    websocket: WebSocket, send: Send, hub: Hub, db: Database, grant: SocketGrant
) -> None:
    """Accept the socket and deliver until the client leaves or a close is due.

    ``send`` is the connection's raw ASGI send: frames go straight to the server.
    """
    subscriber = hub.subscribe(grant.workspace_id, grant.actor, checked_generation=grant.generation)
    subscriber.position = grant.after_cursor
    try:
        await websocket.accept(subprotocol=grant.subprotocol)
        close: Close | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_client, websocket, subscriber, nursery.cancel_scope)
            close = await _deliver(_Sender(send, hub, subscriber), db)
            nursery.cancel_scope.cancel()
        if close is not None:
            with trio.move_on_after(WRITE_TIMEOUT):
                await websocket.close(close.code, close.reason)
    finally:
        hub.unsubscribe(subscriber)


async def _watch_client(
    websocket: WebSocket, subscriber: Subscriber, cancel_scope: trio.CancelScope
) -> None:
    """Read control traffic: a disconnect ends everything, a data frame asks for 1008."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        cancel_scope.cancel()
    else:
        subscriber.close(CLIENT_DATA)


async def _deliver(sender: _Sender, db: Database) -> Close | None:
    """Catch up, then follow the workspace live; returns the close to send."""
    subscriber, hub = sender.subscriber, sender.hub
    try:
        await _catch_up(sender, db, initial=True)
        while True:
            await subscriber.wait_woken()
            if subscriber.close_request is not None:
                return subscriber.close_request
            if subscriber.pending:
                for frame in subscriber.take_pending():
                    await sender.send(frame)
            topic = hub.topic(subscriber.workspace_id)
            if topic is None or topic.ring is None:
                continue
            events = topic.ring.after(subscriber.position)
            if events is None:
                await _catch_up(sender, db, initial=False)
                continue
            for event in events:
                access = topic.access
                if access is not None and may_see(subscriber.user_id, event.audience, access):
                    await sender.send(event.frame)
                subscriber.position = event.cursor
    except _Stop as stop:
        return stop.close


async def _catch_up(sender: _Sender, db: Database, *, initial: bool) -> None:
    """Replay the log from the subscriber's position to the tail captured now, in pages.

    The first catch-up also validates the client's cursor: unknown (or pruned), ahead of
    everything the client may see, or too far behind all mean the client must resync (4001).
    """
    subscriber = sender.subscriber
    after = subscriber.position
    try:
        start = await db.read(
            store.replay_start,
            subscriber.workspace_id,
            subscriber.user_id,
            after,
            budget=REPLAY_BUDGET,
            check_cursor=initial,
        )
    except Exception:
        log.exception("realtime: replay start failed")
        raise _Stop(REPLAY_INTERRUPTED) from None
    if not start.known or start.backlog > REPLAY_BUDGET:
        raise _Stop(RESYNC_REQUIRED)
    sent = 0
    while subscriber.position < start.tail:
        try:
            page = await db.read(
                store.replay_page,
                subscriber.workspace_id,
                subscriber.user_id,
                subscriber.position,
                start.tail,
                limit=REPLAY_PAGE,
            )
        except Exception:
            log.exception("realtime: replay page failed")
            raise _Stop(REPLAY_INTERRUPTED) from None
        if not page.events:
            break
        for event in page.events:
            if may_see(subscriber.user_id, event.audience, page.access):
                await sender.send(event.frame)
                sent += 1
            subscriber.position = event.cursor
    if initial and after and not start.after_visible and not sent:
        raise _Stop(RESYNC_REQUIRED)
    subscriber.position = max(subscriber.position, start.tail)
    await sender.hub.revalidate_ring(subscriber.workspace_id, subscriber.position)
