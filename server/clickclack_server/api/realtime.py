"""Realtime endpoints (protocol 4): the WebSocket, the HTTP pull fallback, ephemeral publish."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from clickclack_sdk import Event
from clickclack_server import ids
from clickclack_server.errors import ApiError, Forbidden, Invalid
from clickclack_server.http import error_response, json_response, parse_int, read_json
from clickclack_server.realtime.frames import ephemeral_id
from clickclack_server.realtime.handshake import admit
from clickclack_server.realtime.hub import HubUnavailable
from clickclack_server.realtime.limits import PULL_DEFAULT_LIMIT, PULL_MAX_LIMIT
from clickclack_server.realtime.socket import serve_socket
from clickclack_server.realtime.visibility import Audience
from clickclack_server.server import current, get_server
from clickclack_server.store import realtime as store

EPHEMERAL_TYPES = frozenset(
    {"typing.started", "typing.stopped", "presence.changed", "agent.progress"}
)
TARGETED_TYPES = frozenset({"typing.started", "typing.stopped", "agent.progress"})
_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})


class RealtimeSocket:
    """``GET /api/realtime/ws`` as a plain ASGI app: frames go to the connection's ASGI send
    directly, without Starlette's per-message WebSocket state checks (this is the hot path)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        server = get_server(websocket)
        try:
            grant = await admit(websocket, server)
        except ApiError as exc:
            await websocket.send_denial_response(error_response(exc.message, exc.status))
            return
        try:
            await serve_socket(websocket, send, server.hub, server.db, grant)
        except HubUnavailable:
            await websocket.send_denial_response(error_response("realtime is unavailable", 503))


def _pull_limit(raw: str | None) -> int:
    """``limit`` for the pull: default 200; non-integers, <= 0 and > 500 fall back to 200."""
    try:
        limit = parse_int(raw or "", "limit")
    except Invalid:
        return PULL_DEFAULT_LIMIT
    return limit if 0 < limit <= PULL_MAX_LIMIT else PULL_DEFAULT_LIMIT


async def pull_events(request: Request) -> Response:
    server, actor = await current(request)
    workspace_id = request.query_params.get("workspace_id", "").strip()
    if not workspace_id:
        raise Invalid("workspace_id is required")
    actor.require_scope("realtime:read")
    actor.require_workspace(workspace_id)
    result = await server.db.read(
        store.pull,
        workspace_id,
        actor.user_id,
        after=request.query_params.get("after_cursor", "").strip(),
        limit=_pull_limit(request.query_params.get("limit")),
        include_tail=request.query_params.get("include_tail", "").strip() in _TRUE,
    )
    body: dict[str, object] = {"events": [event.fragment for event in result.events]}
    if result.tail_cursor is not None:
        body["tail_cursor"] = result.tail_cursor
    return json_response(body)


async def publish_ephemeral(request: Request) -> Response:
    server, actor = await current(request)
    body = await read_json(request)
    workspace_id = body.str("workspace_id").strip()
    if not workspace_id:
        raise Invalid("workspace_id is required")
    actor.require_scope("messages:write")
    actor.require_workspace(workspace_id)
    kind = body.str("type").strip()
    if kind not in EPHEMERAL_TYPES:
        raise Invalid("unsupported ephemeral event type")
    channel_id = body.str("channel_id").strip() or None
    conversation_id = body.str("direct_conversation_id").strip() or None
    if channel_id is not None and conversation_id is not None:
        raise Invalid("channel_id and direct_conversation_id are mutually exclusive")
    if kind in TARGETED_TYPES and channel_id is None and conversation_id is None:
        raise Invalid("channel_id or direct_conversation_id is required")
    if kind == "agent.progress" and not actor.is_bot_token:
        raise Forbidden("agent.progress requires a bot token")
    if conversation_id is not None:
        actor.require_scope("dms:write")
    extra = body.obj("payload")
    payload = dict(extra.data) if extra is not None else {}
    await server.db.read(
        store.check_ephemeral_target,
        workspace_id,
        actor.user_id,
        channel_id=channel_id,
        conversation_id=conversation_id,
    )
    payload["user_id"] = actor.user_id
    payload.pop("channel_id", None)
    payload.pop("direct_conversation_id", None)
    if channel_id is not None:
        payload["channel_id"] = channel_id
    if conversation_id is not None:
        payload["direct_conversation_id"] = conversation_id
    now_ns = time.time_ns()
    event = Event(
        id=ephemeral_id(now_ns),
        cursor="",
        type=kind,
        workspace_id=workspace_id,
        channel_id=channel_id,
        created_at=ids.wire_time(ids.format_ns(now_ns)),
        payload=payload,
    )
    await server.hub.publish_ephemeral(
        event, Audience(channel_id=channel_id, conversation_id=conversation_id)
    )
    return json_response({"event": event}, 202)


routes: list[BaseRoute] = [
    WebSocketRoute("/api/realtime/ws", RealtimeSocket()),
    Route("/api/realtime/events", pull_events, methods=["GET"]),
    Route("/api/realtime/ephemeral", publish_ephemeral, methods=["POST"]),
]
