"""Workspaces and members (protocol 3.5)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_sdk import WorkspaceChanged
from clickclack_server.errors import Invalid
from clickclack_server.http import json_response, parse_int, read_json
from clickclack_server.server import current
from clickclack_server.storage import BlobStore
from clickclack_server.store import workspaces as store


async def list_workspaces(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("workspaces:read")
    found = await server.db.read(store.list_for_user, actor.user_id, actor.token_workspace_id)
    return json_response({"workspaces": found})


async def create_workspace(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot create workspaces")
    body = await read_json(request)
    workspace = await server.db.write(
        store.create, actor.user_id, body.str("name"), body.str("slug")
    )
    return json_response({"workspace": workspace}, 201)


async def get_workspace(request: Request) -> Response:
    server, actor = await current(request)
    workspace_id = request.path_params["workspace_id"]
    actor.require_scope("workspaces:read")
    actor.require_workspace(workspace_id)
    workspace = await server.db.read(store.get_for_user, workspace_id, actor.user_id)
    return json_response({"workspace": workspace})


async def update_workspace(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot update workspaces")
    body = await read_json(request)
    workspace, event = await server.db.write(
        store.update,
        request.path_params["workspace_id"],
        actor.user_id,
        name=body.opt_str("name"),
        slug=body.opt_str("slug"),
        icon_url=body.opt_str("icon_url"),
    )
    return json_response(WorkspaceChanged(workspace=workspace, event=event))


async def delete_workspace(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot delete workspaces")
    keys = await server.db.write(store.delete, request.path_params["workspace_id"], actor.user_id)
    # The rows are gone (committed); their files follow. A crash in between leaves orphan
    # files, never a row without its file.
    blobs = BlobStore(server.uploads_dir)
    for key in keys:
        await blobs.delete(key)
    return Response(status_code=204)


async def transfer_ownership(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot transfer workspace ownership")
    body = await read_json(request)
    target = body.str("user_id").strip()
    if not target:
        raise Invalid("user_id is required")
    workspace, event = await server.db.write(
        store.transfer_ownership, request.path_params["workspace_id"], actor.user_id, target
    )
    return json_response(WorkspaceChanged(workspace=workspace, event=event))


async def list_members(request: Request) -> Response:
    server, actor = await current(request)
    workspace_id = request.path_params["workspace_id"]
    actor.require_scope("workspaces:read")
    actor.require_workspace(workspace_id)
    raw_limit = request.query_params.get("limit")
    limit = 100
    if raw_limit is not None:
        limit = parse_int(raw_limit, "limit")
        if not 1 <= limit <= 200:
            raise Invalid("limit must be between 1 and 200")
    result = await server.db.read(
        store.list_members,
        workspace_id,
        actor.user_id,
        limit=limit,
        cursor=request.query_params.get("cursor") or None,
        query=request.query_params.get("q", "").strip(),
        role=request.query_params.get("role") or None,
    )
    return json_response(result)


routes: list[BaseRoute] = [
    Route("/api/workspaces", list_workspaces, methods=["GET"]),
    Route("/api/workspaces", create_workspace, methods=["POST"]),
    Route("/api/workspaces/{workspace_id}", get_workspace, methods=["GET"]),
    Route("/api/workspaces/{workspace_id}", update_workspace, methods=["PATCH"]),
    Route("/api/workspaces/{workspace_id}", delete_workspace, methods=["DELETE"]),
    Route(
        "/api/workspaces/{workspace_id}/transfer-ownership", transfer_ownership, methods=["POST"]
    ),
    Route("/api/workspaces/{workspace_id}/members", list_members, methods=["GET"]),
]
