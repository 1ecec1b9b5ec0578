"""Channels, channel read pointers and route resolution (protocol 1.2, 3.6, 3.7)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_sdk import ChannelChanged
from clickclack_server.http import json_response, read_json
from clickclack_server.server import current
from clickclack_server.store import channels as store


async def list_channels(request: Request) -> Response:
    server, actor = await current(request)
    workspace_id = request.path_params["workspace_id"]
    actor.require_scope("channels:read")
    actor.require_workspace(workspace_id)
    found = await server.db.read(store.list_for_user, workspace_id, actor.user_id)
    return json_response({"channels": found})


async def create_channel(request: Request) -> Response:
    server, actor = await current(request)
    workspace_id = request.path_params["workspace_id"]
    actor.require_scope("channels:write")
    actor.require_workspace(workspace_id)
    body = await read_json(request)
    channel, event = await server.db.write(
        store.create,
        workspace_id,
        actor.user_id,
        name=body.str("name"),
        display_title=body.str("display_title"),
        kind=body.str("kind"),
        external_managed=body.bool("external_managed"),
        external_ref=body.str("external_ref"),
        external_url=body.str("external_url"),
        sidebar_section=body.str("sidebar_section"),
    )
    return json_response(ChannelChanged(channel=channel, event=event), 201)


async def update_channel(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("channels:write")
    body = await read_json(request)
    channel, event = await server.db.write(
        store.update,
        request.path_params["channel_id"],
        actor.user_id,
        token_workspace_id=actor.token_workspace_id,
        name=body.opt_str("name"),
        display_title=body.opt_str("display_title"),
        kind=body.opt_str("kind"),
        archived=body.opt_bool("archived"),
        external_managed=body.opt_bool("external_managed"),
        external_ref=body.opt_str("external_ref"),
        external_url=body.opt_str("external_url"),
        sidebar_section=body.opt_str("sidebar_section"),
    )
    return json_response(ChannelChanged(channel=channel, event=event))


async def mark_channel_read(request: Request) -> Response:
    server, actor = await current(request)
    body = await read_json(request)
    actor.require_scope("messages:read")
    receipt, _event = await server.db.write(
        store.mark_read,
        request.path_params["channel_id"],
        actor.user_id,
        body.int("seq"),
        token_workspace_id=actor.token_workspace_id,
    )
    return json_response({"receipt": receipt})


async def resolve_route(request: Request) -> Response:
    """``/api/routes/{workspace}/{target}``: a web URL back to the ids behind it (404 if unseen)."""
    server, actor = await current(request)
    workspace_ref = request.path_params["workspace_route_id"]
    target_ref = request.path_params["target_route_id"]
    scope = store.route_scope(target_ref.strip())
    if scope is None:
        raise store.RouteNotFound()
    actor.require_scope(scope)
    target = await server.db.read(store.resolve_route, actor.user_id, workspace_ref, target_ref)
    if target is None:
        # A legacy thread link whose root has no route id yet: allocate one, as opening it would.
        target = await server.db.write(
            store.resolve_route, actor.user_id, workspace_ref, target_ref, allocate=True
        )
        if target is None:
            raise store.RouteNotFound()
    actor.require_workspace(target.workspace_id)
    if target.parent_type == "direct":
        actor.require_scope("dms:read")
    return json_response({"route": target})


routes: list[BaseRoute] = [
    Route("/api/workspaces/{workspace_id}/channels", list_channels, methods=["GET"]),
    Route("/api/workspaces/{workspace_id}/channels", create_channel, methods=["POST"]),
    Route("/api/channels/{channel_id}", update_channel, methods=["PATCH"]),
    Route("/api/channels/{channel_id}/read", mark_channel_read, methods=["POST"]),
    Route("/api/routes/{workspace_route_id}/{target_route_id}", resolve_route, methods=["GET"]),
]
