"""Threads: one level of replies under a root (protocol 3.8)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_sdk import ReplyCreated
from clickclack_server.api.messages import draft_from
from clickclack_server.http import json_response, read_json
from clickclack_server.paging import thread_window
from clickclack_server.server import current
from clickclack_server.store import threads as store
from clickclack_server.store.messages import create_reply


async def open_thread(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("threads:read")
    window = thread_window(request.query_params)
    thread = await server.db.write(
        store.open_thread, actor, request.path_params["message_id"], window
    )
    return json_response(thread)


async def post_reply(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("threads:write")
    draft = draft_from(request, await read_json(request), root=False)
    created = await server.db.write(create_reply, actor, request.path_params["message_id"], draft)
    state = created.thread_state
    assert state is not None  # create_reply always answers the root's thread state
    if created.replayed:
        return json_response(ReplyCreated(message=created.message, thread_state=state))
    return json_response(
        ReplyCreated(message=created.message, thread_state=state, events=created.events), 201
    )


routes: list[BaseRoute] = [
    Route("/api/messages/{message_id}/thread", open_thread, methods=["GET"]),
    Route("/api/messages/{message_id}/thread/replies", post_reply, methods=["POST"]),
]
