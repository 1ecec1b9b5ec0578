"""Direct conversations and their messages (protocol 3.12)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_server.api.messages import created_response, draft_from
from clickclack_server.errors import Invalid
from clickclack_server.http import json_response, read_json
from clickclack_server.paging import timeline_window
from clickclack_server.server import current
from clickclack_server.store import dms as store
from clickclack_server.store import messages as message_store


async def _workspace_of(request: Request, conversation_id: str) -> str:
    from clickclack_server.db import Tx
    from clickclack_server.errors import NotFound
    from clickclack_server.server import get_server

    def lookup(tx: Tx) -> str:
        workspace_id: str | None = tx.scalar(
            "SELECT workspace_id FROM direct_conversations WHERE id = ?", (conversation_id,)
        )
        if workspace_id is None:
            raise NotFound()
        return workspace_id

    return await get_server(request).db.read(lookup)


async def list_conversations(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("dms:read")
    workspace_id = request.query_params.get("workspace_id", "").strip()
    if not workspace_id:
        raise Invalid("workspace_id is required")
    actor.require_workspace(workspace_id)
    found = await server.db.read(store.list_for, actor.user_id, workspace_id)
    return json_response({"conversations": found})


async def create_conversation(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("dms:write")
    body = await read_json(request)
    workspace_id = body.str("workspace_id").strip()
    if not workspace_id:
        raise Invalid("workspace_id is required")
    actor.require_workspace(workspace_id)
    conversation = await server.db.write(
        store.create, actor, workspace_id, body.str_list("member_ids")
    )
    return json_response({"conversation": conversation}, 201)


async def get_conversation(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("dms:read")
    conversation_id = request.path_params["conversation_id"]
    if actor.is_bot_token:
        actor.require_workspace(await _workspace_of(request, conversation_id))
    conversation = await server.db.read(store.get, actor.user_id, conversation_id)
    return json_response({"conversation": conversation})


async def hide_conversation(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot hide direct conversations")
    await server.db.write(store.hide, actor.user_id, request.path_params["conversation_id"])
    return json_response({"ok": True})


async def open_conversation(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot open direct conversations")
    conversation = await server.db.write(
        store.reopen, actor.user_id, request.path_params["conversation_id"]
    )
    return json_response({"conversation": conversation})


async def list_messages(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("dms:read")
    conversation_id = request.path_params["conversation_id"]
    if "topic_id" in request.query_params:
        raise Invalid("topic_id is not supported for direct conversations")
    window = timeline_window(request.query_params)
    if actor.is_bot_token:
        actor.require_workspace(await _workspace_of(request, conversation_id))
    page = await server.db.read(
        message_store.conversation_page, actor.user_id, conversation_id, window
    )
    return json_response(page)


async def post_message(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("dms:write")
    conversation_id = request.path_params["conversation_id"]
    draft = draft_from(request, await read_json(request))
    if draft.topic_id.strip():
        raise Invalid("topic_id is not supported for direct conversations")
    if actor.is_bot_token:
        actor.require_workspace(await _workspace_of(request, conversation_id))
    created = await server.db.write(
        message_store.create_root, actor, draft, conversation_id=conversation_id
    )
    return created_response(created)


async def mark_read(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("dms:read")
    body = await read_json(request)
    conversation_id = request.path_params["conversation_id"]
    if actor.is_bot_token:
        actor.require_workspace(await _workspace_of(request, conversation_id))
    receipt, _ = await server.db.write(
        store.mark_read, actor.user_id, conversation_id, body.int("seq")
    )
    return json_response({"receipt": receipt})


routes: list[BaseRoute] = [
    Route("/api/dms", list_conversations, methods=["GET"]),
    Route("/api/dms", create_conversation, methods=["POST"]),
    Route("/api/dms/{conversation_id}", get_conversation, methods=["GET"]),
    Route("/api/dms/{conversation_id}", hide_conversation, methods=["DELETE"]),
    Route("/api/dms/{conversation_id}/open", open_conversation, methods=["POST"]),
    Route("/api/dms/{conversation_id}/messages", list_messages, methods=["GET"]),
    Route("/api/dms/{conversation_id}/messages", post_message, methods=["POST"]),
    Route("/api/dms/{conversation_id}/read", mark_read, methods=["POST"]),
]
