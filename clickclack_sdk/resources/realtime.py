"""Realtime: event streams, the HTTP pull endpoint and ephemeral publishing (protocol 4)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from clickclack_sdk._envelopes import EventBatch
from clickclack_sdk._models import Event
from clickclack_sdk._realtime import (
    EventStream,
    PullEventStream,
    ResyncHook,
    TransportName,
    WebSocketEventStream,
    check_interval,
    unwrap_group,
)
from clickclack_sdk._refs import Ref, ident
from clickclack_sdk._retry import RetryPolicy
from clickclack_sdk.resources._base import Resource

EPHEMERAL_TYPES = frozenset(
    {"typing.started", "typing.stopped", "presence.changed", "agent.progress"}
)


class RealtimeResource(Resource):
    """``client.realtime``: follow a workspace's events; publish typing, presence, progress."""

    __slots__ = ()

    @asynccontextmanager
    async def connect(
        self,
        workspace: Ref,
        *,
        after_cursor: str | None = None,
        transport: TransportName = "websocket",
        on_resync: ResyncHook | None = None,
        reconnect: RetryPolicy | None = None,
        ping_interval: float | None = 30.0,
        connect_timeout: float = 30.0,
        poll_interval: float = 1.0,
        page_size: int = 200,
    ) -> AsyncIterator[EventStream]:
        """Open an event stream for one workspace::

            async with client.realtime.connect(workspace) as events:
                async for event in events:
                    ...

        ``after_cursor`` resumes after a cursor you persisted; ``None`` starts fresh from the
        current tail (only events from now on). Drops and close 1013 reconnect with
        ``reconnect`` backoff (default: the client's, without limit) from the last delivered
        cursor. Close 4001 raises :class:`~clickclack_sdk.ResyncRequired` from the iteration,
        unless ``on_resync`` handles it. ``transport="pull"`` polls ``GET
        /api/realtime/events`` instead of holding a WebSocket (no ephemeral events then).
        Handshake failures (401, 403...) raise here, before anything is yielded.
        """
        check_interval("ping_interval", ping_interval)
        check_interval("poll_interval", poll_interval)
        check_interval("connect_timeout", connect_timeout)
        workspace_id = ident(workspace)
        policy = reconnect or self._client.reconnect
        stream: EventStream
        if after_cursor is None:
            batch = await self.pull(workspace_id, limit=1, include_tail=True)
            after_cursor = batch.tail_cursor or None
        if transport == "pull":
            pull = PullEventStream(
                self._client,
                workspace_id,
                policy=policy,
                poll_interval=poll_interval,
                page_size=page_size,
            )
            await pull.start(after_cursor)
            yield pull
            return
        if transport != "websocket":
            raise ValueError("transport must be 'websocket' or 'pull'")
        try:
            async with trio.open_nursery() as nursery:
                stream = WebSocketEventStream(
                    self._client,
                    workspace_id,
                    policy=policy,
                    on_resync=on_resync,
                    ping_interval=ping_interval,
                    connect_timeout=connect_timeout,
                )
                await nursery.start(stream.run, after_cursor)
                try:
                    yield stream
                finally:
                    nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise unwrap_group(group) from None

    async def pull(
        self,
        workspace: Ref,
        *,
        after_cursor: str | None = None,
        limit: int | None = None,
        include_tail: bool = False,
    ) -> EventBatch:
        """``GET /api/realtime/events``: durable events after ``after_cursor`` (exclusive; none
        = the oldest retained), up to ``limit`` (default 200, max 500); ``include_tail`` adds
        the newest visible cursor."""
        return await self._client.call(
            "GET",
            "/api/realtime/events",
            EventBatch,
            params={
                "workspace_id": ident(workspace),
                "after_cursor": after_cursor or None,
                "limit": limit,
                "include_tail": "true" if include_tail else None,
            },
        )

    async def publish(
        self,
        workspace: Ref,
        type: str,
        *,
        channel: Ref | None = None,
        conversation: Ref | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Event:
        """``POST /api/realtime/ephemeral``: a droppable, never-stored event for live sockets.

        ``type`` is one of ``typing.started``, ``typing.stopped``, ``presence.changed``,
        ``agent.progress``. The server sets ``payload.user_id`` and the target key. Retried on
        transient failures (a repeated ephemeral event is harmless).
        """
        if type not in EPHEMERAL_TYPES:
            raise ValueError(f"unsupported ephemeral event type: {type}")
        if channel is not None and conversation is not None:
            raise ValueError("channel and conversation are mutually exclusive")
        body: dict[str, Any] = {"workspace_id": ident(workspace), "type": type}
        if channel is not None:
            body["channel_id"] = ident(channel)
        if conversation is not None:
            body["direct_conversation_id"] = ident(conversation)
        if payload is not None:
            body["payload"] = payload
        return await self._client.call(
            "POST", "/api/realtime/ephemeral", Event, "event", json=body, retry=True
        )

    async def typing(
        self,
        workspace: Ref,
        *,
        channel: Ref | None = None,
        conversation: Ref | None = None,
        stopped: bool = False,
    ) -> Event:
        """Tell others the caller started (or ``stopped``) typing in a channel or DM."""
        return await self.publish(
            workspace,
            "typing.stopped" if stopped else "typing.started",
            channel=channel,
            conversation=conversation,
        )

    async def presence(
        self,
        workspace: Ref,
        status: str,
        *,
        channel: Ref | None = None,
        conversation: Ref | None = None,
        **extra: Any,
    ) -> Event:
        """Publish the caller's presence ``status`` (e.g. "active", "away"), workspace-wide
        unless a target is given; ``extra`` fields ride along in the payload."""
        return await self.publish(
            workspace,
            "presence.changed",
            channel=channel,
            conversation=conversation,
            payload={**extra, "status": status},
        )

    async def agent_progress(
        self,
        workspace: Ref,
        *,
        channel: Ref | None = None,
        conversation: Ref | None = None,
        turn_id: str | None = None,
        seq: int | None = None,
        op: str | None = None,
        line: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Event:
        """Stream an agent's progress (bot tokens only; exactly one target)."""
        payload: dict[str, Any] = dict(extra)
        for key, value in (("turn_id", turn_id), ("seq", seq), ("op", op), ("line", line)):
            if value is not None:
                payload[key] = value
        return await self.publish(
            workspace,
            "agent.progress",
            channel=channel,
            conversation=conversation,
            payload=payload,
        )
