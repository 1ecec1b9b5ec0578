"""Sign-in and sign-out: magic links, logout and the session cookie (protocol 2.2-2.4).

Only magic links are a real login path here. Password, GitHub, desktop and OpenClaw ID sign-in
exist as routes so clients get a clear answer, but this server has no configuration for them:
they answer 501 ``... is not configured`` like an unconfigured reference server does.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_sdk import Login, MagicLinkIssued, Session
from clickclack_server import ids
from clickclack_server.auth import (
    COOKIE_NAME,
    bearer_token,
    is_local_request,
    origin_allowed,
    session_cookies,
)
from clickclack_server.errors import ApiError, Forbidden
from clickclack_server.http import json_response, read_json, require_json_content_type
from clickclack_server.server import Server, get_server
from clickclack_server.store import auth as store
from clickclack_server.store.sessions import revoke_sessions

_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


def _same_site(request: Request, server: Server) -> str:
    """``None`` when the browser app lives on another host than the API, else ``Lax``."""
    frontend = server.config.frontend_url.strip()
    if not frontend:
        return "Lax"
    frontend_host = (urlsplit(frontend).hostname or "").lower()
    public = server.config.public_url.strip()
    api_host = (urlsplit(public).hostname if public else request.url.hostname) or ""
    return "None" if frontend_host and frontend_host != api_host.lower() else "Lax"


def _secure(request: Request, server: Server, same_site: str) -> bool:
    """Secure everywhere except plain-HTTP local development.

    ``SameSite=None`` always gets ``Secure``: browsers drop such cookies without it.
    """
    if same_site == "None" or server.config.public_url.strip().lower().startswith("https:"):
        return True
    return not (request.url.scheme == "http" and is_local_request(request))


def _cookie(request: Request, server: Server, value: str, expires: str, max_age: int) -> str:
    same_site = _same_site(request, server)
    parts = [f"{COOKIE_NAME}={value}", "Path=/", f"Expires={expires}", f"Max-Age={max_age}"]
    parts.append("HttpOnly")
    if _secure(request, server, same_site):
        parts.append("Secure")
    parts.append(f"SameSite={same_site}")
    return "; ".join(parts)


def set_session_cookie(
    response: Response, request: Request, server: Server, session: Session
) -> None:
    """Attach the ``cc_session`` cookie; it expires together with the session."""
    expires_ns = ids.parse_rfc3339_ns(session.expires_at)
    expires = format_datetime(datetime.fromtimestamp(expires_ns // 1_000_000_000, UTC), True)
    max_age = max(0, (expires_ns - time.time_ns()) // 1_000_000_000)
    response.headers.append("set-cookie", _cookie(request, server, session.token, expires, max_age))


def clear_session_cookie(response: Response, request: Request, server: Server) -> None:
    response.headers.append("set-cookie", _cookie(request, server, "", _EPOCH, 0))


def _require_same_origin_json(request: Request, server: Server) -> None:
    """Login-style endpoints: JSON only (415) and never from another site (403)."""
    require_json_content_type(request)
    if not origin_allowed(request, server):
        raise Forbidden("cross-site login requests are not allowed")


async def request_magic_link(request: Request) -> Response:
    """Dev servers mint a magic link for a local caller; nothing is mailed anywhere."""
    server = get_server(request)
    if not server.config.dev_bootstrap:
        raise ApiError("magic-link delivery is not configured", 501)
    if not is_local_request(request):
        raise Forbidden("magic-link token minting is only available from loopback clients")
    body = await read_json(request)
    link, token = await server.db.write(
        store.create_magic_link, email=body.str("email"), display_name=body.str("display_name")
    )
    return json_response(MagicLinkIssued(magic_link=link, token=token), 201)


async def consume_magic_link(request: Request) -> Response:
    server = get_server(request)
    _require_same_origin_json(request, server)
    body = await read_json(request)
    user, session = await server.db.write(store.consume_magic_link, body.str("token").strip())
    response = json_response(Login(user=user, session=session, token=session.token))
    set_session_cookie(response, request, server, session)
    return response


async def logout(request: Request) -> Response:
    """Revoke the Bearer session, else the cookie session(s); always succeeds and clears the
    cookie so a stale browser can get back to a signed-out state. Bot tokens stay valid."""
    server = get_server(request)
    _require_same_origin_json(request, server)
    bearer = bearer_token(request)
    tokens = [bearer] if bearer is not None else session_cookies(request)
    if any(token.strip() for token in tokens):
        await server.db.write(revoke_sessions, tokens)
    response = json_response({"ok": True})
    clear_session_cookie(response, request, server)
    return response


def _not_configured(message: str) -> Callable[[Request], Awaitable[Response]]:
    """A handler for a sign-in method this server has no configuration for: 501 ``message``."""

    async def handler(request: Request) -> Response:
        raise ApiError(message, 501)

    return handler


_PASSWORD = _not_configured("password login is not configured")
_GITHUB = _not_configured("github oauth is not configured")
_OPENCLAW = _not_configured("openclaw id sign-in is not configured")

routes: list[BaseRoute] = [
    Route("/api/auth/magic/request", request_magic_link, methods=["POST"]),
    Route("/api/auth/magic/consume", consume_magic_link, methods=["POST"]),
    Route("/api/auth/logout", logout, methods=["POST"]),
    Route("/api/auth/password/login", _PASSWORD, methods=["POST"]),
    Route("/api/auth/password/change", _PASSWORD, methods=["POST"]),
    Route("/api/auth/github/start", _GITHUB, methods=["GET"]),
    Route("/api/auth/github/callback", _GITHUB, methods=["GET"]),
    Route("/api/auth/github/desktop/start", _GITHUB, methods=["GET"]),
    Route("/api/auth/github/desktop/consume", _GITHUB, methods=["POST"]),
    Route("/api/auth/openclaw/start", _OPENCLAW, methods=["GET"]),
    Route("/api/auth/openclaw/callback", _OPENCLAW, methods=["GET"]),
]
