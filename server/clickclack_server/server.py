"""The running server's shared state, handed to every handler through the ASGI app."""

from __future__ import annotations

from pathlib import Path

import attrs
from starlette.requests import HTTPConnection

from clickclack_server.auth import Actor, AuthCache, resolve_actor
from clickclack_server.config import Config
from clickclack_server.db import Database


@attrs.define(kw_only=True)
class Server:
    config: Config
    db: Database
    uploads_dir: Path
    auth_cache: AuthCache = attrs.field(factory=AuthCache)

    async def actor(self, conn: HTTPConnection) -> Actor:
        return await resolve_actor(conn, self)


def get_server(conn: HTTPConnection) -> Server:
    server: Server = conn.app.state.server
    return server


async def current(conn: HTTPConnection) -> tuple[Server, Actor]:
    """The server and the authenticated caller of this request (raises 401 when none)."""
    server = get_server(conn)
    return server, await resolve_actor(conn, server)
