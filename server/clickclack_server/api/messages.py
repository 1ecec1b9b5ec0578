"""Channel timelines and single messages (protocol 3.7)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_sdk import MessageChanged, MessageCreated
from clickclack_server.errors import Invalid, NotFound
from clickclack_server.http import Body, json_response, read_json
from clickclack_server.paging import timeline_window
from clickclack_server.server import current
from clickclack_server.store import messages as store

NONCE_HEADER = {"X-ClickClack-Message-Nonce": "supported"}


def draft_from(request: Request, body: Body, *, root: bool = True) -> store.Draft:
    """The message fields of a create request (activity/topic/upload fields only on roots)."""
    correlation: str = request.scope.get("state", {}).get("correlation_id", "")
    if not root:
        return store.Draft(
            body=body.str("body"),
            nonce=body.str("nonce"),
            quoted_message_id=body.str("quoted_message_id"),
            correlation_id=correlation,
        )
    return store.Draft(
        body=body.str("body"),
        nonce=body.str("nonce"),
        quoted_message_id=body.str("quoted_message_id"),
        topic_id=body.str("topic_id"),
        upload_id=body.str("upload_id"),
        kind=body.str("kind"),
        turn_id=body.str("turn_id"),
        correlation_id=correlation,
    )


def created_response(created: store.Created) -> Response:
    """201 with the event on creation; 200 without ``event`` on a nonce replay."""
    if created.replayed:
        return json_response(MessageCreated(message=created.message))
    return json_response(MessageCreated(message=created.message, event=created.events[0]), 201)


async def list_channel_messages(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("messages:read")
    window = timeline_window(request.query_params)
    topic = request.query_params.get("topic_id")
    page = await server.db.read(
        store.channel_page, actor.user_id, request.path_params["channel_id"], window, topic
    )
    if actor.token_workspace_id is not None and page.messages:
        actor.require_workspace(page.messages[0].workspace_id)
    return json_response(page)


async def post_channel_message(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("messages:write")
    draft = draft_from(request, await read_json(request))
    created = await server.db.write(
        store.create_root, actor, draft, channel_id=request.path_params["channel_id"]
    )
    return created_response(created)


async def get_message(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("messages:read")
    message = await server.db.read(store.get_message, actor, request.path_params["message_id"])
    return json_response({"message": message})


async def message_by_nonce(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("messages:write")
    workspace_id = request.query_params.get("workspace_id", "").strip()
    nonce = request.query_params.get("nonce", "").strip()
    if not workspace_id:
        raise Invalid("workspace_id is required")
    if not nonce:
        raise Invalid("nonce is required")
    actor.require_workspace(workspace_id)
    try:
        message = await server.db.read(store.by_nonce, actor, workspace_id, nonce)
    except NotFound:
        return json_response({"error": "message not found"}, 404, headers=NONCE_HEADER)
    except Invalid as exc:
        return json_response({"error": exc.message}, exc.status, headers=NONCE_HEADER)
    return json_response({"message": message}, headers=NONCE_HEADER)


async def edit_message(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("messages:write")
    body = await read_json(request)
    message, event = await server.db.write(
        store.edit, actor, request.path_params["message_id"], body.str("body")
    )
    return json_response(MessageChanged(message=message, event=event))


async def delete_message(request: Request) -> Response:
    from clickclack_sdk import ZERO_EVENT

    server, actor = await current(request)
    actor.require_scope("messages:write")
    message, event = await server.db.write(store.delete, actor, request.path_params["message_id"])
    return json_response(MessageChanged(message=message, event=event or ZERO_EVENT))


async def ensure_route(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("threads:read")
    try:
        message = await server.db.write(
            store.ensure_route, actor, request.path_params["message_id"]
        )
    except NotFound:
        return json_response({"error": "message not found"}, 404)
    return json_response({"message": message})


routes: list[BaseRoute] = [
    Route("/api/channels/{channel_id}/messages", list_channel_messages, methods=["GET"]),
    Route("/api/channels/{channel_id}/messages", post_channel_message, methods=["POST"]),
    Route("/api/messages/by-nonce", message_by_nonce, methods=["GET"]),
    Route("/api/messages/{message_id}", get_message, methods=["GET"]),
    Route("/api/messages/{message_id}", edit_message, methods=["PATCH"]),
    Route("/api/messages/{message_id}", delete_message, methods=["DELETE"]),
    Route("/api/messages/{message_id}/route", ensure_route, methods=["POST"]),
]
