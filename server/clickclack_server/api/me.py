"""The caller's own profile and bots: ``/api/me`` and ``/api/me/bots`` (protocol 3.4)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_server.http import Body, json_response, read_json
from clickclack_server.server import current
from clickclack_server.store import me as store
from clickclack_server.text import normalize_handle


async def get_me(request: Request) -> Response:
    server, actor = await current(request)
    actor.require_scope("profile:read")
    user = await server.db.read(store.current_user, actor.user_id)
    return json_response({"user": user})


def parse_patch(body: Body) -> store.ProfilePatch:
    """Validate a ``PATCH /api/me`` body completely before anything is written."""
    display_name = body.opt_str("display_name")
    handle = body.opt_str("handle")
    avatar_url = body.opt_str("avatar_url")
    notifications = body.obj("notification_settings")
    appearance = body.obj("appearance_preferences")
    return store.ProfilePatch(
        display_name=None if display_name is None else store.normalize_display_name(display_name),
        handle=None if handle is None else normalize_handle(handle),
        avatar_url=None if avatar_url is None else store.normalize_avatar_url(avatar_url),
        notifications=None
        if notifications is None
        else store.normalize_notification_settings(
            notifications.bool("pushover_enabled"), notifications.str("pushover_user_key")
        ),
        appearance={}
        if appearance is None
        else {
            field: store.normalize_appearance(field, value)
            for field in store.APPEARANCE_VALUES
            if (value := appearance.opt_str(field)) is not None
        },
    )


async def update_me(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot update profiles")
    patch = parse_patch(await read_json(request))
    user = await server.db.write(store.update_current_user, actor.user_id, patch)
    return json_response({"user": user})


async def my_bots(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot("bot tokens cannot list owned bots")
    bots = await server.db.read(store.owned_bots, actor.user_id)
    return json_response({"bots": bots})


routes: list[BaseRoute] = [
    Route("/api/me", get_me, methods=["GET"]),
    Route("/api/me", update_me, methods=["PATCH"]),
    Route("/api/me/bots", my_bots, methods=["GET"]),
]
