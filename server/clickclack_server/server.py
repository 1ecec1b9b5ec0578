"""The running server's shared state, handed to every handler through the ASGI app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
from starlette.requests import HTTPConnection

from clickclack_sdk import Event
from clickclack_server.auth import Actor, AuthCache, resolve_actor
from clickclack_server.config import Config
from clickclack_server.db import Database
from clickclack_server.realtime.hub import Hub


@attrs.define(kw_only=True)
class Server:
    config: Config
    db: Database
    uploads_dir: Path
    auth_cache: AuthCache = attrs.field(factory=AuthCache)
    notice_listeners: list[Callable[[Event], None]] = attrs.field(factory=list)
    hub: Hub = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.db.add_change_listener("auth", self.auth_cache.clear)
        self.hub = Hub(self.db)
        self.notice_listeners.append(self.hub.publish_notice)

    def publish_notice(self, event: Event) -> None:
        """Hand a cursorless hub-only notice (``bot.deleted``, ``bot_command.updated``, ...) to
        the realtime hub. Never stored, never replayed."""
        for listener in self.notice_listeners:
            listener(event)

    async def actor(self, conn: HTTPConnection) -> Actor:
        return await resolve_actor(conn, self)


def get_server(conn: HTTPConnection) -> Server:
    server: Server = conn.app.state.server
    return server


async def current(conn: HTTPConnection) -> tuple[Server, Actor]:
    """The server and the authenticated caller of this request (raises 401 when none)."""
    server = get_server(conn)
    return server, await resolve_actor(conn, server)
