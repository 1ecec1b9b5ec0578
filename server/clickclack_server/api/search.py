"""Message search (protocol 3.10): ``GET /api/search``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_server.errors import Invalid
from clickclack_server.http import json_response
from clickclack_server.server import current
from clickclack_server.store import search as store


def _param(request: Request, name: str) -> str | None:
    """A trimmed query parameter; absent and blank both read as ``None``."""
    value = request.query_params.get(name, "").strip()
    return value or None


def _limit(request: Request) -> int:
    """Default 50; over 100 is clamped by the store; non-integers and values <= 0 are refused."""
    raw = request.query_params.get("limit", "").strip()
    if not raw:
        return store.DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit():
        raise Invalid("limit must be a positive integer")
    value = int(raw)
    if value <= 0:
        raise Invalid("limit must be a positive integer")
    return value


async def search(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("messages:read")
    channel_id = _param(request, "channel_id")
    conversation_id = _param(request, "direct_conversation_id")
    if conversation_id is not None:
        actor.require_scope("dms:read")
    workspace_id = _param(request, "workspace_id")
    if workspace_id is None:
        raise Invalid("workspace_id is required")
    actor.require_workspace(workspace_id)
    if channel_id is not None and conversation_id is not None:
        raise Invalid("channel_id and direct_conversation_id are mutually exclusive")
    search_request = store.SearchRequest(
        workspace_id=workspace_id,
        query=request.query_params.get("q", ""),
        channel_id=channel_id,
        direct_conversation_id=conversation_id,
        sort=_param(request, "sort") or "relevance",
        limit=_limit(request),
        cursor=_param(request, "cursor"),
    )
    page = await server.db.read(store.search, actor.user_id, search_request)
    return json_response(page)


routes: list[BaseRoute] = [Route("/api/search", search, methods=["GET"])]
