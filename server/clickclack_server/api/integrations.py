"""Integration management: slash-command registrations, event subscriptions, their delivery log
and the durable event vocabulary (protocol 3.15, 3.16).

Management is for human sessions only (bot tokens get 403): any member may list, owners and
moderators create, revoke and rotate secrets. ``GET /api/event-types`` is open to any
authenticated caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_server.callbacks import registration_refusal
from clickclack_server.errors import Invalid
from clickclack_server.http import json_response, parse_int, read_json
from clickclack_server.server import Server, current
from clickclack_server.store import integrations as store
from clickclack_server.store.events import DURABLE_EVENT_TYPES

SLASH_BOT_MESSAGE = "bot tokens cannot manage slash commands"
SUBSCRIPTION_BOT_MESSAGE = "bot tokens cannot manage event subscriptions"


Endpoint = Callable[[Request], Awaitable[Response]]


def _managed(
    fn: Callable[..., Any], param: str, key: str, refusal: str, *, write: bool = True
) -> Endpoint:
    """A human-only endpoint running ``fn(tx, <path param>, user_id)`` and answering
    ``{key: result}``: the list, revoke and rotate-secret shapes both registrations share."""

    async def endpoint(request: Request) -> Response:
        server, actor = await current(request)
        actor.forbid_bot(refusal)
        run = server.db.write if write else server.db.read
        result = await run(fn, request.path_params[param], actor.user_id)
        return json_response({key: result})

    return endpoint


def _check_callback_url(server: Server, url: str) -> None:
    """Refuse at registration what the call-time guard would refuse (an address in any form)."""
    refusal = registration_refusal(url, allow_private=server.config.callbacks_may_target_private)
    if refusal is not None:
        raise Invalid(refusal)


# Slash commands.


async def create_slash_command(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot(SLASH_BOT_MESSAGE)
    body = await read_json(request)
    _check_callback_url(server, body.str("callback_url"))
    command = await server.db.write(
        store.create_slash_command,
        request.path_params["workspace_id"],
        actor.user_id,
        command=body.str("command"),
        callback_url=body.str("callback_url"),
        bot_user_id=body.str("bot_user_id"),
        description=body.str("description"),
        app_installation_id=body.str("app_installation_id"),
    )
    return json_response({"slash_command": command}, 201)


list_slash_commands = _managed(
    store.list_slash_commands, "workspace_id", "slash_commands", SLASH_BOT_MESSAGE, write=False
)
revoke_slash_command = _managed(
    store.revoke_slash_command, "command_id", "slash_command", SLASH_BOT_MESSAGE
)
rotate_slash_command_secret = _managed(
    store.rotate_slash_command_secret, "command_id", "slash_command", SLASH_BOT_MESSAGE
)


# Event subscriptions.


async def list_event_types(request: Request) -> Response:
    await current(request)
    return json_response({"event_types": list(DURABLE_EVENT_TYPES)})


async def create_event_subscription(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot(SUBSCRIPTION_BOT_MESSAGE)
    body = await read_json(request)
    _check_callback_url(server, body.str("callback_url"))
    subscription = await server.db.write(
        store.create_event_subscription,
        request.path_params["workspace_id"],
        actor.user_id,
        event_types=body.str_list("event_types"),
        callback_url=body.str("callback_url"),
        app_installation_id=body.str("app_installation_id"),
    )
    return json_response({"event_subscription": subscription}, 201)


list_event_subscriptions = _managed(
    store.list_event_subscriptions,
    "workspace_id",
    "event_subscriptions",
    SUBSCRIPTION_BOT_MESSAGE,
    write=False,
)
revoke_event_subscription = _managed(
    store.revoke_event_subscription,
    "subscription_id",
    "event_subscription",
    SUBSCRIPTION_BOT_MESSAGE,
)
rotate_event_subscription_secret = _managed(
    store.rotate_event_subscription_secret,
    "subscription_id",
    "event_subscription",
    SUBSCRIPTION_BOT_MESSAGE,
)


def delivery_limit(raw: str | None) -> int:
    """``limit``: default 50; a positive integer, capped at 200."""
    if raw is None or not raw.strip():
        return store.DEFAULT_DELIVERY_LIMIT
    value = parse_int(raw, "limit")
    if value <= 0:
        raise Invalid("limit must be a positive integer")
    return min(value, store.MAX_DELIVERY_LIMIT)


async def list_deliveries(request: Request) -> Response:
    server, actor = await current(request)
    actor.forbid_bot(SUBSCRIPTION_BOT_MESSAGE)
    limit = delivery_limit(request.query_params.get("limit"))
    before = request.query_params.get("before")
    if before is not None:
        before = before.strip()
        if not before:
            raise Invalid("before must not be empty")
    deliveries, next_cursor = await server.db.read(
        store.list_deliveries,
        request.path_params["subscription_id"],
        actor.user_id,
        limit=limit,
        before=before,
    )
    return json_response({"deliveries": deliveries, "next_cursor": next_cursor})


routes: list[BaseRoute] = [
    Route("/api/workspaces/{workspace_id}/slash-commands", create_slash_command, methods=["POST"]),
    Route("/api/workspaces/{workspace_id}/slash-commands", list_slash_commands, methods=["GET"]),
    Route("/api/slash-commands/{command_id}/revoke", revoke_slash_command, methods=["POST"]),
    Route(
        "/api/slash-commands/{command_id}/rotate-secret",
        rotate_slash_command_secret,
        methods=["POST"],
    ),
    Route("/api/event-types", list_event_types, methods=["GET"]),
    Route(
        "/api/workspaces/{workspace_id}/event-subscriptions",
        create_event_subscription,
        methods=["POST"],
    ),
    Route(
        "/api/workspaces/{workspace_id}/event-subscriptions",
        list_event_subscriptions,
        methods=["GET"],
    ),
    Route(
        "/api/event-subscriptions/{subscription_id}/revoke",
        revoke_event_subscription,
        methods=["POST"],
    ),
    Route(
        "/api/event-subscriptions/{subscription_id}/rotate-secret",
        rotate_event_subscription_secret,
        methods=["POST"],
    ),
    Route(
        "/api/event-subscriptions/{subscription_id}/deliveries",
        list_deliveries,
        methods=["GET"],
    ),
]
