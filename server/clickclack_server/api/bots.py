"""Bot management, bot tokens and bot command menus (protocol 2.6, 3.13).

Management is for human sessions only (bot tokens get 403). The one bot-facing route is
``PUT /api/bots/self/commands``; reading the workspace's menus is open to members and to bots
holding ``workspaces:read``. Membership removal and deletion answer 404 for an unknown bot, and
they, like menu updates, tell live sockets through a hub-only notice.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_sdk import BotCreated, Event, to_data
from clickclack_server import ids
from clickclack_server.errors import ApiError, Forbidden, Invalid, NotFound
from clickclack_server.http import json_response, read_json
from clickclack_server.server import Server, current
from clickclack_server.store import bots as store


def _notice(server: Server, type: str, workspace_id: str, payload: dict[str, Any], at: str) -> None:
    """Publish a cursorless hub-only notice (never stored, never replayed)."""
    server.publish_notice(
        Event(
            id="", cursor="", type=type, workspace_id=workspace_id, created_at=at, payload=payload
        )
    )


async def create_bot(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot create bots")
    body = await read_json(request)
    display_name, handle = body.str("display_name"), body.str("handle")
    avatar_url, owner = body.str("avatar_url"), body.str("owner_user_id").strip() or None
    token_name, scopes = body.str("token_name"), body.str_list("scopes")
    initial_token = body.bool("initial_token", True)
    bot, token = await server.db.write(
        store.create_bot,
        workspace_id=request.path_params["workspace_id"],
        created_by=actor.user_id,
        display_name=display_name,
        handle=handle,
        avatar_url=avatar_url,
        owner_user_id=owner,
        token_name=token_name,
        scopes=scopes,
        initial_token=initial_token,
    )
    return json_response(BotCreated(bot=bot, bot_token=token), 201)


async def list_bots(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot manage bots")
    bots = await server.db.read(store.list_bots, request.path_params["workspace_id"], actor.user_id)
    return json_response({"bots": bots})


async def _list_tokens(request: Request, workspace_id: str | None) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot manage bot tokens")
    tokens = await server.db.read(
        store.list_tokens, workspace_id, request.path_params["bot_user_id"], actor.user_id
    )
    return json_response({"bot_tokens": tokens})


async def _create_token(request: Request, workspace_id: str | None) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot create bot tokens")
    body = await read_json(request)
    name, scopes = body.str("name"), body.str_list("scopes")
    token = await server.db.write(
        store.create_token,
        workspace_id,
        request.path_params["bot_user_id"],
        actor.user_id,
        name=name,
        scopes=scopes,
    )
    return json_response({"bot_token": token}, 201)


async def list_workspace_bot_tokens(request: Request) -> Response:
    return await _list_tokens(request, request.path_params["workspace_id"])


async def create_workspace_bot_token(request: Request) -> Response:
    return await _create_token(request, request.path_params["workspace_id"])


async def list_bot_tokens(request: Request) -> Response:
    """Legacy route: only for a bot installed in exactly one workspace."""
    return await _list_tokens(request, None)


async def create_bot_token(request: Request) -> Response:
    """Legacy route: only for a bot installed in exactly one workspace."""
    return await _create_token(request, None)


async def revoke_bot_token(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot revoke bot tokens")
    token = await server.db.write(
        store.revoke_token, request.path_params["token_id"], actor.user_id
    )
    return json_response({"bot_token": token})


async def remove_bot_membership(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot remove bots from workspaces")
    workspace_id = request.path_params["workspace_id"]
    bot_user_id = request.path_params["bot_user_id"]
    try:
        await server.db.write(store.remove_membership, workspace_id, bot_user_id, actor.user_id)
    except NotFound as exc:
        raise ApiError(exc.message, 404) from None
    _notice(
        server,
        "bot.membership_removed",
        workspace_id,
        {"bot_user_id": bot_user_id},
        ids.wire_time(ids.now()),
    )
    return Response(status_code=204)


async def delete_bot(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot delete bots")
    try:
        deleted, workspaces = await server.db.write(
            store.delete_bot, request.path_params["bot_user_id"], actor.user_id
        )
    except NotFound as exc:
        raise ApiError(exc.message, 404) from None
    payload = {
        "bot_user_id": deleted.id,
        "display_name": deleted.display_name,
        "former_handle": deleted.former_handle,
        "deleted_at": deleted.deleted_at,
    }
    for workspace_id in workspaces:
        _notice(server, "bot.deleted", workspace_id, dict(payload), deleted.deleted_at)
    return json_response({"deleted_bot": deleted})


async def set_bot_commands(request: Request) -> Response:
    server, actor = await current(request)
    if not actor.is_bot_token or actor.token_workspace_id is None:
        raise Forbidden("bot token required")
    actor.require_scope("commands:write")
    body = await read_json(request)
    items = body.list("commands")
    if items is None:
        raise Invalid("commands is required")
    commands = store.normalize_commands(items)
    workspace_id = actor.token_workspace_id
    saved = await server.db.write(store.set_commands, workspace_id, actor.user_id, commands)
    _notice(
        server,
        "bot_command.updated",
        workspace_id,
        {"workspace_id": workspace_id, "bot_user_id": actor.user_id},
        ids.wire_time(ids.now()),
    )
    # The menu entries as listed, plus the flat ids older clients read from this response.
    entries = [
        {**to_data(command), "workspace_id": workspace_id, "bot_user_id": actor.user_id}
        for command in saved
    ]
    return json_response({"bot_commands": entries})


async def list_bot_commands(request: Request) -> Response:
    server, actor = await current(request)
    workspace_id = request.path_params["workspace_id"]
    actor.require_scope("workspaces:read")
    actor.require_workspace(workspace_id)
    commands = await server.db.read(store.list_commands, workspace_id, actor.user_id)
    return json_response({"bot_commands": commands})


routes: list[BaseRoute] = [
    Route("/api/workspaces/{workspace_id}/bots", create_bot, methods=["POST"]),
    Route("/api/workspaces/{workspace_id}/bots", list_bots, methods=["GET"]),
    Route(
        "/api/workspaces/{workspace_id}/bots/{bot_user_id}/tokens",
        list_workspace_bot_tokens,
        methods=["GET"],
    ),
    Route(
        "/api/workspaces/{workspace_id}/bots/{bot_user_id}/tokens",
        create_workspace_bot_token,
        methods=["POST"],
    ),
    Route(
        "/api/workspaces/{workspace_id}/bots/{bot_user_id}/membership",
        remove_bot_membership,
        methods=["DELETE"],
    ),
    Route("/api/workspaces/{workspace_id}/bot-commands", list_bot_commands, methods=["GET"]),
    Route("/api/bots/self/commands", set_bot_commands, methods=["PUT"]),
    Route("/api/bots/{bot_user_id}/tokens", list_bot_tokens, methods=["GET"]),
    Route("/api/bots/{bot_user_id}/tokens", create_bot_token, methods=["POST"]),
    Route("/api/bots/{bot_user_id}", delete_bot, methods=["DELETE"]),
    Route("/api/bot-tokens/{token_id}/revoke", revoke_bot_token, methods=["POST"]),
]
