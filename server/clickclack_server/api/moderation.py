"""Member moderation (protocol 3.5): the managers' roster and per-member changes.

Reading needs ``workspaces:read`` (plus the token's workspace) and then an active manager role,
which a bot user has only if an owner gave it one; writing needs ``workspaces:write``, which no
bot token can hold, so it is human-only.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_sdk import MemberModerationChanged
from clickclack_server.http import json_response, read_json
from clickclack_server.server import current
from clickclack_server.store import moderation as store


async def list_members(request: Request) -> Response:
    server, actor = await current(request)
    workspace_id = request.path_params["workspace_id"]
    actor.require_scope("workspaces:read")
    actor.require_workspace(workspace_id)
    members = await server.db.read(store.list_members, workspace_id, actor.user_id)
    return json_response({"members": members})


async def update_member(request: Request) -> Response:
    server, actor = await current(request)
    workspace_id = request.path_params["workspace_id"]
    actor.require_scope("workspaces:write")
    actor.require_workspace(workspace_id)
    body = await read_json(request)
    patch = store.ModerationPatch(
        role=body.str("role"),
        timeout_until=body.str("timeout_until"),
        timeout_minutes=body.opt_int("timeout_minutes"),
        clear_timeout=body.bool("clear_timeout"),
        blocked=body.opt_bool("blocked"),
        moderation_note=body.opt_str("moderation_note"),
    )
    member, event = await server.db.write(
        store.update_member, workspace_id, actor.user_id, request.path_params["user_id"], patch
    )
    return json_response(MemberModerationChanged(member=member, event=event))


routes: list[BaseRoute] = [
    Route("/api/workspaces/{workspace_id}/moderation/members", list_members, methods=["GET"]),
    Route(
        "/api/workspaces/{workspace_id}/moderation/members/{user_id}",
        update_member,
        methods=["PATCH"],
    ),
]
