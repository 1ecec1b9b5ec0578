"""Inbound hooks: the Mattermost-shaped incoming webhook and slash-command invocation (protocol
3.14, 3.15).

Neither is a secret URL: callers authenticate like any API request and bots need
``messages:write``. A registered slash command is carried out in three steps so that no
database transaction stays open across the network call: record the invocation, call the
command's callback (signed, SSRF-guarded, see :mod:`clickclack_server.callbacks`), record the
result and post the reply as the command's bot.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
import trio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_sdk import ZERO_EVENT, ZERO_MESSAGE, SlashCommandResult
from clickclack_server import callbacks
from clickclack_server.api.messages import created_response
from clickclack_server.errors import ApiError, Invalid
from clickclack_server.http import json_response, read_body, read_json
from clickclack_server.server import current
from clickclack_server.store import integrations as store
from clickclack_server.store import messages as message_store

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
RESPONSE_TYPES = frozenset({"in_channel", "ephemeral"})


def _correlation(request: Request) -> str:
    correlation: str = request.scope.get("state", {}).get("correlation_id", "")
    return correlation


async def mattermost_hook(request: Request) -> Response:
    """Post ``text`` as the caller; every other Mattermost field is accepted and ignored."""
    server, actor = await current(request)
    actor.require_scope("messages:write")
    body = await read_json(request)
    draft = message_store.Draft(body=body.str("text"), correlation_id=_correlation(request))
    created = await server.db.write(
        message_store.create_root, actor, draft, channel_id=request.path_params["channel_id"]
    )
    return created_response(created)


async def _form_fields(request: Request) -> dict[str, str]:
    """Form fields of a url-encoded body, then of the query string (the body wins, as in Go's
    ``FormValue``). Bodies of other content types are read and ignored."""
    raw = await read_body(request)
    fields: dict[str, str] = {}
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == FORM_CONTENT_TYPE:
        for key, value in parse_qsl(
            raw.decode("utf-8", "replace"), keep_blank_values=True, errors="replace"
        ):
            fields.setdefault(key, value)
    for key, value in request.query_params.multi_items():
        fields.setdefault(key, value)
    return fields


def parse_reply(result: callbacks.CallbackResult) -> tuple[str, str, str]:
    """``(response_type, text, problem)`` from a callback's answer; ``problem`` is "" when the
    answer is a 2xx JSON object with a valid ``response_type`` and a string ``text``."""
    if not result.ok:
        return "", "", result.error
    try:
        data = orjson.loads(result.body)
    except orjson.JSONDecodeError:
        return "", "", "callback response is not JSON"
    if not isinstance(data, dict):
        return "", "", "callback response must be a JSON object"
    response_type = data.get("response_type") or "in_channel"
    if response_type not in RESPONSE_TYPES:
        return "", "", "callback response_type must be in_channel or ephemeral"
    text = data.get("text")
    if text is None:
        text = ""
    if not isinstance(text, str):
        return "", "", "callback text must be a string"
    return response_type, text, ""


async def slash_hook(request: Request) -> Response:
    """Invoke a registered command through its callback, or post ``"<command> <text>"``."""
    server, actor = await current(request)
    actor.require_scope("messages:write")
    fields = await _form_fields(request)
    command = fields.get("command", "").strip()
    text = fields.get("text", "").strip()
    if not command and not text:
        raise Invalid("slash command text is required")
    correlation = _correlation(request)
    started = await server.db.write(
        store.start_slash,
        actor,
        request.path_params["channel_id"],
        command,
        text,
        correlation_id=correlation,
    )
    if isinstance(started, message_store.Created):
        return json_response(
            SlashCommandResult(
                response_type="in_channel",
                text=started.message.body,
                message=started.message,
                event=started.events[0],
            ),
            201,
        )
    # The invocation is recorded: see it through even if the caller goes away meanwhile (the
    # callback has its own deadline), so its outcome and any reply are never lost.
    with trio.CancelScope(shield=True):
        result = await callbacks.post_signed(
            started.callback_url,
            started.payload,
            secret=started.signing_secret,
            allow_private=server.config.callbacks_may_target_private,
        )
        response_type, reply, problem = parse_reply(result)
        post_text = reply.strip() if response_type == "in_channel" else ""
        finished = await server.db.write(
            store.finish_invocation,
            started,
            status=result.status,
            body=result.body,
            error=problem,
            post_text=post_text,
            correlation_id=correlation,
        )
    if problem:
        raise ApiError(f"slash command callback failed: {problem}", 502)
    if finished.post_error is not None:
        raise ApiError(finished.invocation.error or "slash command response failed", 502)
    created = finished.created
    return json_response(
        SlashCommandResult(
            response_type=response_type,
            text=reply,
            message=created.message if created else ZERO_MESSAGE,
            event=created.events[0] if created else ZERO_EVENT,
            invocation=finished.invocation,
        )
    )


routes: list[BaseRoute] = [
    Route("/api/hooks/mattermost/{channel_id}", mattermost_hook, methods=["POST"]),
    Route("/api/hooks/slash/{channel_id}", slash_hook, methods=["POST"]),
]
