"""Reactions on roots, replies and DM messages (protocol 3.9)."""

from __future__ import annotations

from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_sdk import ZERO_EVENT, ReactionsChanged
from clickclack_server.http import json_response, read_json
from clickclack_server.server import current
from clickclack_server.store import reactions as store


async def add_reaction(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("messages:write")
    body = await read_json(request)
    event, summaries = await server.db.write(
        store.add, actor, request.path_params["message_id"], body.str("emoji").strip()
    )
    return json_response(
        ReactionsChanged(event=event or ZERO_EVENT, reactions=summaries),
        201 if event is not None else 200,
    )


async def remove_reaction(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("messages:write")
    # Starlette has already percent-decoded the path once; decode any remaining escapes the way
    # the reference server unescapes the segment.
    emoji = unquote(request.path_params["emoji"]).strip()
    event, summaries = await server.db.write(
        store.remove, actor, request.path_params["message_id"], emoji
    )
    return json_response(ReactionsChanged(event=event or ZERO_EVENT, reactions=summaries))


routes: list[BaseRoute] = [
    Route("/api/messages/{message_id}/reactions", add_reaction, methods=["POST"]),
    Route("/api/messages/{message_id}/reactions/{emoji:path}", remove_reaction, methods=["DELETE"]),
]
