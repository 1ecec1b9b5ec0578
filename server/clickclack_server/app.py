"""The ASGI application: routes from every area, error mapping, correlation ids, CSRF and CORS."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clickclack_server.api import (
    auth,
    bots,
    channels,
    dms,
    health,
    hooks,
    integrations,
    me,
    messages,
    moderation,
    reactions,
    realtime,
    search,
    threads,
    uploads,
    workspaces,
)
from clickclack_server.auth import (
    SAFE_METHODS,
    bearer_token,
    canonical_origin,
    origin_allowed,
    same_origin,
    session_cookies,
)
from clickclack_server.errors import ApiError
from clickclack_server.http import error_response
from clickclack_server.server import Server
from clickclack_server.text import safe_correlation_id

log = logging.getLogger("clickclack_server")

AREAS = (
    health,
    auth,
    me,
    workspaces,
    moderation,
    channels,
    messages,
    threads,
    reactions,
    dms,
    search,
    uploads,
    bots,
    realtime,
    hooks,
    integrations,
)
CORS_HEADERS = frozenset(
    {"authorization", "content-type", "x-clickclack-csrf", "x-request-id", "x-correlation-id"}
)
CORS_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class EdgeMiddleware:
    """Correlation ids on every response, CORS for the configured origin, CSRF for cookie writes."""

    def __init__(self, app: ASGIApp, server: Server) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        correlation = safe_correlation_id(conn.headers.get("x-correlation-id"))
        if correlation is None:
            correlation = "corr_" + secrets.token_hex(8)
        scope.setdefault("state", {})["correlation_id"] = correlation
        extra: list[tuple[bytes, bytes]] = [(b"x-correlation-id", correlation.encode())]
        origin = conn.headers.get("origin")
        is_api = scope["path"].startswith("/api/")
        if origin and is_api:
            if same_origin(origin, conn, self.server):
                extra += [
                    (b"access-control-allow-origin", canonical_origin(origin).encode()),
                    (b"access-control-allow-credentials", b"true"),
                    (b"vary", b"Origin"),
                ]
                if scope["method"] == "OPTIONS" and conn.headers.get(
                    "access-control-request-method"
                ):
                    await self._preflight(conn, extra, send)
                    return
            elif scope["method"] == "OPTIONS" and conn.headers.get("access-control-request-method"):
                await self._reply(
                    error_response("origin is not allowed", 403), extra, scope, receive, send
                )
                return
        if (
            is_api
            and scope["method"] not in SAFE_METHODS
            and bearer_token(conn) is None
            and any(session_cookies(conn))
            and (
                conn.headers.get("x-clickclack-csrf") != "1"
                or not origin_allowed(conn, self.server)
            )
        ):
            await self._reply(
                error_response("cross-site session requests are not allowed", 403),
                extra,
                scope,
                receive,
                send,
            )
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _preflight(
        self, conn: HTTPConnection, extra: list[tuple[bytes, bytes]], send: Send
    ) -> None:
        method = conn.headers.get("access-control-request-method", "").upper()
        requested = {
            h.strip().lower()
            for h in conn.headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        }
        if method not in CORS_METHODS or not requested <= CORS_HEADERS:
            response = error_response("origin is not allowed", 403)
        else:
            response = Response(
                status_code=204,
                headers={
                    "access-control-allow-methods": ", ".join(sorted(CORS_METHODS)),
                    "access-control-allow-headers": ", ".join(sorted(CORS_HEADERS)),
                    "access-control-max-age": "600",
                },
            )
        await self._reply(response, extra, conn.scope, _empty_receive, send)

    async def _reply(
        self,
        response: Response,
        extra: list[tuple[bytes, bytes]],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        response.raw_headers.extend(extra)
        await response(scope, receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    response = error_response(exc.message, exc.status)
    if exc.status == 413:
        # The rest of the body may still be in flight; do not reuse this connection.
        response.headers["connection"] = "close"
    return response


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route of this path accepts (a path's methods span several routes)."""
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.methods and route.matches(scope)[0] is Match.PARTIAL:
            methods |= route.methods
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    text = {404: "not found", 405: "method not allowed"}.get(exc.status_code, exc.detail)
    response = error_response(text, exc.status_code)
    if exc.status_code == 405:
        response.headers["allow"] = ", ".join(
            allowed_methods(request.app.router.routes, request.scope)
        )
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response("internal server error", 500)


def create_app(server: Server) -> Any:
    """Build the Starlette app for ``server`` and wrap it in the edge middleware."""
    routes: list[BaseRoute] = [route for area in AREAS for route in area.routes]
    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.server = server
    return EdgeMiddleware(app, server)
