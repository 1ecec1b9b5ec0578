"""Who is calling: credential resolution in protocol order, scopes and locality checks."""

from __future__ import annotations

import ipaddress
import sqlite3
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs
from starlette.requests import HTTPConnection

from clickclack_server import ids
from clickclack_server.db import Tx
from clickclack_server.errors import Forbidden, Unauthorized, Unavailable

if TYPE_CHECKING:
    from clickclack_server.server import Server

COOKIE_NAME = "cc_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

CONCRETE_SCOPES = frozenset(
    {
        "workspaces:read",
        "channels:read",
        "channels:write",
        "messages:read",
        "messages:write",
        "threads:read",
        "threads:write",
        "dms:read",
        "dms:write",
        "realtime:read",
        "uploads:write",
        "profile:read",
        "commands:write",
        "agent_activity:write",
    }
)
_READ = (
    "workspaces:read",
    "channels:read",
    "messages:read",
    "threads:read",
    "dms:read",
    "realtime:read",
    "profile:read",
)
_WRITE = (*_READ, "messages:write", "threads:write", "dms:write", "uploads:write", "commands:write")
BUNDLES = {"bot:read": _READ, "bot:write": _WRITE, "bot:admin": (*_WRITE, "channels:write")}


def expand_scopes(requested: list[str]) -> list[str]:
    """Expand bundles, split comma lists, de-duplicate and sort; empty means ``bot:write``."""
    names = [part.strip() for item in requested for part in item.split(",") if part.strip()]
    if not names:
        names = ["bot:write"]
    expanded: set[str] = set()
    for name in names:
        if name in BUNDLES:
            expanded.update(BUNDLES[name])
        elif name in CONCRETE_SCOPES:
            expanded.add(name)
        else:
            from clickclack_server.errors import Invalid

            raise Invalid(f"unknown bot scope: {name}")
    return sorted(expanded)


@attrs.frozen(kw_only=True)
class Actor:
    """The authenticated caller. ``scopes`` is ``None`` for humans (they pass scope checks)."""

    user_id: str
    kind: str
    via: str
    session_id: str | None = None
    bot_token_id: str | None = None
    token_workspace_id: str | None = None
    scopes: frozenset[str] | None = None

    @property
    def is_bot_token(self) -> bool:
        return self.bot_token_id is not None

    def require_scope(self, *scopes: str) -> None:
        if self.scopes is None:
            return
        for scope in scopes:
            if scope not in self.scopes:
                raise Forbidden(f"bot token is missing scope {scope}")

    def require_workspace(self, workspace_id: str) -> None:
        if self.token_workspace_id is not None and workspace_id != self.token_workspace_id:
            raise Forbidden("bot token cannot access this workspace")

    def forbid_bot(self, message: str = "bot tokens cannot use this endpoint") -> None:
        if self.is_bot_token:
            raise Forbidden(message)


def _is_loopback_host(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_only(value: str) -> str:
    value = value.strip()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def is_local_request(conn: HTTPConnection) -> bool:
    """Loopback peer, loopback Host, same-origin browser headers, and only local forwarding."""
    client = conn.client
    if client is None or not _is_loopback_host(client.host):
        return False
    host = conn.headers.get("host", "")
    if not host or not _is_loopback_host(_host_only(host)):
        return False
    origin = conn.headers.get("origin")
    if origin and origin != "null":
        if urlsplit(origin).netloc.lower() != host.lower():
            return False
    elif origin == "null":
        return False
    fetch_site = conn.headers.get("sec-fetch-site")
    if fetch_site not in (None, "same-origin", "none"):
        return False
    for name in ("x-forwarded-for", "x-forwarded-host", "x-real-ip"):
        for value in conn.headers.getlist(name):
            for part in value.split(","):
                if part.strip() and not _is_loopback_host(_host_only(part)):
                    return False
    for value in conn.headers.getlist("forwarded"):
        for element in value.split(","):
            for pair in element.split(";"):
                key, _, raw = pair.partition("=")
                if (
                    key.strip().lower() in ("for", "host")
                    and raw.strip()
                    and not _is_loopback_host(_host_only(raw.strip().strip('"')))
                ):
                    return False
    return True


def session_cookies(conn: HTTPConnection) -> list[str]:
    """Every ``cc_session`` value in the Cookie headers (duplicates are an error upstream)."""
    values: list[str] = []
    for header in conn.headers.getlist("cookie"):
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name == COOKIE_NAME:
                values.append(value.strip().strip('"'))
    return values


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


# Store-side lookups (run on a reader thread).


def _bot_actor(tx: Tx, token: str) -> tuple[Actor, str | None] | None:
    row = tx.one(
        """
        SELECT t.id, t.bot_user_id, t.workspace_id, t.owner_user_id, t.scopes_json, t.last_used_at
        FROM bot_tokens t
        JOIN users u ON u.id = t.bot_user_id AND u.deleted_at IS NULL
        JOIN workspace_members m ON m.workspace_id = t.workspace_id AND m.user_id = t.bot_user_id
        WHERE t.token_hash = ? AND t.revoked_at IS NULL
        """,
        (ids.hash_token(token),),
    )
    if row is None:
        return None
    if row["owner_user_id"] is not None and not tx.one(
        "SELECT 1 FROM workspace_members WHERE workspace_id = ? AND user_id = ?",
        (row["workspace_id"], row["owner_user_id"]),
    ):
        return None
    import json

    actor = Actor(
        user_id=row["bot_user_id"],
        kind="bot",
        via="bot_token",
        bot_token_id=row["id"],
        token_workspace_id=row["workspace_id"],
        scopes=frozenset(json.loads(row["scopes_json"])),
    )
    return actor, row["last_used_at"]


def _session_actor(tx: Tx, token: str) -> Actor | None:
    row = tx.one(
        """
        SELECT s.id, s.user_id, u.kind FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ?
          AND u.deleted_at IS NULL
        """,
        (ids.hash_token(token), ids.now()),
    )
    if row is None:
        return None
    return Actor(user_id=row["user_id"], kind=row["kind"], via="session", session_id=row["id"])


def _dev_actor(tx: Tx, user_id: str | None) -> Actor | None:
    if user_id:
        row = tx.one("SELECT id, kind, deleted_at FROM users WHERE id = ?", (user_id,))
        if row is None or row["deleted_at"] is not None:
            return None
    else:
        row = tx.one("SELECT id, kind FROM users ORDER BY created_at, id LIMIT 1")
        if row is None:
            return None
    return Actor(user_id=row["id"], kind=row["kind"], via="dev")


def _touch_bot_token(tx: Tx, token_id: str) -> None:
    tx.execute("UPDATE bot_tokens SET last_used_at = ? WHERE id = ?", (ids.now(), token_id))


class AuthCache:
    """Short-lived memo of bearer/cookie lookups, cleared whenever credentials change.

    Every change to sessions, tokens, memberships or users in this process clears it (through
    ``Tx.after_commit``); the TTL bounds staleness from other processes (CLI admin commands).
    """

    ttl = 5.0

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Actor]] = {}

    def get(self, key: str) -> Actor | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: str, actor: Actor) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, actor)

    def clear(self) -> None:
        self._entries.clear()


TOUCH_INTERVAL_NS = 60 * 1_000_000_000

#: The caller of the request being handled. Trio copies the context into worker threads, so store
#: code sees it too: store.access.member_role uses it to keep bot tokens inside their workspace.
current_actor: ContextVar[Actor | None] = ContextVar("current_actor", default=None)


async def resolve_actor(conn: HTTPConnection, server: Server) -> Actor:
    """Protocol 2.1: Bearer, then cookie, then (dev auth, local only) header or first user.

    A database failure while verifying a credential answers 503, never a 500 or a false 401.
    """
    try:
        actor = await _resolve(conn, server)
    except sqlite3.Error:
        raise Unavailable("session verification unavailable; retry later") from None
    current_actor.set(actor)
    return actor


async def _resolve(conn: HTTPConnection, server: Server) -> Actor:
    cache = server.auth_cache
    token = bearer_token(conn)
    if token is not None:
        cached = cache.get("b:" + token)
        if cached is not None:
            return cached
        actor: Actor | None = None
        if token.startswith("ccb_"):
            found = await server.db.read(_bot_actor, token)
            if found is not None:
                actor, last_used = found
                if (
                    last_used is None
                    or ids.parse_rfc3339_ns(last_used) < time.time_ns() - TOUCH_INTERVAL_NS
                ):
                    await server.db.write(_touch_bot_token, found[0].bot_token_id or "")
        if actor is None:
            actor = await server.db.read(_session_actor, token)
        if actor is None:
            raise Unauthorized("invalid or expired bearer token")
        cache.put("b:" + token, actor)
        return actor
    cookies = [value for value in session_cookies(conn) if value]
    if len(cookies) > 1:
        raise Unauthorized("multiple cookies with the same name are not allowed")
    if cookies:
        cached = cache.get("c:" + cookies[0])
        if cached is not None:
            return cached
        actor = await server.db.read(_session_actor, cookies[0])
        if actor is None:
            raise Unauthorized("invalid or expired session")
        cache.put("c:" + cookies[0], actor)
        return actor
    if not server.config.dev_bootstrap or not is_local_request(conn):
        raise Unauthorized("authentication required")
    dev_user = conn.headers.get("x-clickclack-user")
    actor = await server.db.read(_dev_actor, dev_user.strip() if dev_user else None)
    if actor is None:
        raise Unauthorized("unknown user" if dev_user else "authentication required")
    return actor


def origin_allowed(conn: HTTPConnection, server: Server) -> bool:
    """Same-origin check for cookie-authenticated unsafe requests and logins (protocol 2.5)."""
    origin = conn.headers.get("origin")
    if origin:
        return same_origin(origin, conn, server)
    return conn.headers.get("sec-fetch-site") in (None, "same-origin", "none")


def same_origin(origin: str, conn: HTTPConnection, server: Server) -> bool:
    """Whether a browser ``Origin`` is this server's (malformed values never match)."""
    canonical = canonical_origin(origin)
    return canonical != "" and canonical == expected_origin(conn, server)


def canonical_origin(url: str) -> str:
    """``scheme://host[:port]`` with default ports dropped; "" for anything malformed."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        return ""
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def expected_origin(conn: HTTPConnection, server: Server) -> str:
    configured = server.config.frontend_url or server.config.public_url
    if configured:
        return canonical_origin(configured)
    scheme = "https" if conn.url.scheme in ("https", "wss") else "http"
    return canonical_origin(f"{scheme}://{conn.headers.get('host', '')}")
