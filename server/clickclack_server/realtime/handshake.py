"""Admitting a realtime WebSocket before the upgrade (protocol 4.2).

Failures here are answered as plain HTTP JSON errors (400/401/403), never as a close frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from clickclack_server.auth import Actor, canonical_origin, resolve_actor
from clickclack_server.errors import Forbidden, Invalid
from clickclack_server.store import realtime as store

if TYPE_CHECKING:
    from clickclack_server.server import Server

BEARER_SUBPROTOCOL = "clickclack.bearer."


@attrs.frozen(kw_only=True)
class SocketGrant:
    """An admitted socket: who, which workspace, from where, and which subprotocol to echo.

    ``generation`` is the hub's credential generation read before the credential was checked.
    """

    actor: Actor
    workspace_id: str
    after_cursor: str
    subprotocol: str | None
    generation: int


def bearer_subprotocol(websocket: WebSocket) -> str | None:
    """The first offered ``clickclack.bearer.<token>`` subprotocol with a non-empty token."""
    for offered in websocket.scope.get("subprotocols") or ():
        if offered.startswith(BEARER_SUBPROTOCOL) and offered[len(BEARER_SUBPROTOCOL) :].strip():
            return str(offered)
    return None


def _with_bearer(websocket: WebSocket, token: str) -> HTTPConnection:
    """The handshake as if it carried ``Authorization: Bearer <token>``."""
    scope = dict(websocket.scope)
    scope["headers"] = [*websocket.scope["headers"], (b"authorization", f"Bearer {token}".encode())]
    return HTTPConnection(scope)


def origin_allowed(websocket: WebSocket, server: Server) -> bool:
    """No Origin (non-browser clients), the request's own host, or the configured origins."""
    origin = websocket.headers.get("origin")
    if not origin:
        return True
    if urlsplit(origin).netloc.lower() == websocket.headers.get("host", "").lower():
        return True
    configured = (server.config.frontend_url, server.config.public_url)
    return any(url and canonical_origin(origin) == canonical_origin(url) for url in configured)


async def admit(websocket: WebSocket, server: Server) -> SocketGrant:
    """Authenticate and authorise a socket; raises an ``ApiError`` to deny it."""
    generation = server.hub.generation
    subprotocol = bearer_subprotocol(websocket)
    conn: HTTPConnection = websocket
    if subprotocol is not None and "authorization" not in websocket.headers:
        conn = _with_bearer(websocket, subprotocol[len(BEARER_SUBPROTOCOL) :].strip())
    actor = await resolve_actor(conn, server)
    workspace_id = websocket.query_params.get("workspace_id", "").strip()
    if not workspace_id:
        raise Invalid("workspace_id is required")
    actor.require_scope("realtime:read")
    actor.require_workspace(workspace_id)
    if not await server.db.read(store.is_member, workspace_id, actor.user_id):
        raise Forbidden("not a member of this workspace")
    if not origin_allowed(websocket, server):
        raise Forbidden("origin is not allowed")
    return SocketGrant(
        actor=actor,
        workspace_id=workspace_id,
        after_cursor=websocket.query_params.get("after_cursor", "").strip(),
        subprotocol=subprotocol,
        generation=generation,
    )
