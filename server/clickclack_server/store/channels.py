"""Channels, channel read pointers and public route resolution (protocol 1.2, 2.7, 3.6, 3.7)."""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import quote

from clickclack_sdk import (
    Channel,
    ChannelCreatedPayload,
    ChannelReadPayload,
    ChannelUpdatedPayload,
    Event,
    ReadReceipt,
    RouteTarget,
)
from clickclack_server import ids
from clickclack_server.db import Tx
from clickclack_server.errors import Forbidden, Invalid, NotFound, StoreError
from clickclack_server.store.access import (
    GUEST_CHANNEL,
    member_role,
    require_member,
    require_not_restricted,
    visible_channel,
    visible_conversation,
)
from clickclack_server.store.events import insert_event
from clickclack_server.store.rows import channel_from_row
from clickclack_server.text import slugify

CHANNEL_ADMIN_ROLES = frozenset({"owner", "bot"})
CHANNEL_ADMIN_REQUIRED = "channel admin permission required"
ROUTE_NOT_FOUND = "route not found"
ROUTE_ID_ATTEMPTS = 8
LEGACY_ROUTE_PREFIXES = ("wsp_", "chn_", "dm_", "msg_")

# The caller's read pointer and unread count ride along with every channel row. Unread counts
# only ordinary, live roots written by somebody else (agent activity never counts).
_CHANNEL_SELECT = """
    SELECT c.*,
        COALESCE(r.last_read_seq, 0) AS read_seq,
        (SELECT count(*) FROM messages m
         WHERE m.channel_id = c.id AND m.channel_seq IS NOT NULL
           AND m.parent_message_id IS NULL
           AND m.channel_seq > COALESCE(r.last_read_seq, 0)
           AND m.kind = 'message' AND m.deleted_at IS NULL AND m.author_id <> :user
        ) AS unread
    FROM channels c
    LEFT JOIN channel_reads r ON r.channel_id = c.id AND r.user_id = :user
"""


class RouteNotFound(NotFound):
    """Route resolution answers a real 404 (one of the few handlers that do)."""

    status = 404

    def __init__(self) -> None:
        super().__init__(ROUTE_NOT_FOUND)


def _wire_channel(row: sqlite3.Row) -> Channel:
    return channel_from_row(row, last_read_seq=row["read_seq"], unread_count=row["unread"])


def get_channel(tx: Tx, channel_id: str, user_id: str) -> Channel:
    """One channel as ``user_id`` sees it (read pointer and unread count included)."""
    row = tx.one(_CHANNEL_SELECT + " WHERE c.id = :id", {"user": user_id, "id": channel_id})
    if row is None:
        raise NotFound()
    return _wire_channel(row)


def list_for_user(tx: Tx, workspace_id: str, user_id: str) -> list[Channel]:
    """Every channel of the workspace by name, archived ones included; guests see ``#guest`` only."""
    role = require_member(tx, workspace_id, user_id)
    sql = _CHANNEL_SELECT + " WHERE c.workspace_id = :workspace"
    if role == "guest":
        sql += " AND c.name = :guest"
    rows = tx.all(
        sql + " ORDER BY c.name, c.id",
        {"user": user_id, "workspace": workspace_id, "guest": GUEST_CHANNEL},
    )
    return [_wire_channel(row) for row in rows]


def _optional_text(value: str | None) -> str | None:
    """Trimmed text for a nullable column; blank means NULL."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def _require_name_free(tx: Tx, workspace_id: str, name: str, exclude: str | None = None) -> None:
    if tx.one(
        "SELECT 1 FROM channels WHERE workspace_id = ? AND name = ? AND id IS NOT ?",
        (workspace_id, name, exclude),
    ):
        raise Invalid("channel name is already taken")


def _require_token_workspace(row: sqlite3.Row, token_workspace_id: str | None) -> None:
    if token_workspace_id is not None and row["workspace_id"] != token_workspace_id:
        raise Forbidden("bot token cannot access this workspace")


def _unused_route_id(tx: Tx, prefix: str, exists_sql: str, *scope: str) -> str:
    """A fresh route id of ``prefix`` that ``exists_sql`` does not find (collisions retried)."""
    for _ in range(ROUTE_ID_ATTEMPTS):
        route_id = ids.new_route_id(prefix)
        if not tx.one(exists_sql, (*scope, route_id)):
            return route_id
    raise StoreError("could not allocate a route id after collision retries")


def create(
    tx: Tx,
    workspace_id: str,
    user_id: str,
    *,
    name: str,
    display_title: str = "",
    kind: str = "",
    external_managed: bool = False,
    external_ref: str = "",
    external_url: str = "",
    sidebar_section: str = "",
) -> tuple[Channel, Event]:
    """Create a channel (non-guest, unrestricted members only) and its ``channel.created`` event."""
    role = require_member(tx, workspace_id, user_id)
    if role == "guest":
        raise Forbidden("moderation restriction")
    require_not_restricted(tx, workspace_id, user_id)
    slug = slugify(name) or "general"
    if slug == GUEST_CHANNEL:
        raise Invalid("guest channel name is reserved")
    _require_name_free(tx, workspace_id, slug)
    channel_id = ids.new_id("chn")
    route_id = _unused_route_id(tx, "C", "SELECT 1 FROM channels WHERE route_id = ?")
    tx.execute(
        "INSERT INTO channels (id, route_id, workspace_id, name, display_title, kind, created_at, "
        "external_managed, external_ref, external_url, sidebar_section) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            channel_id,
            route_id,
            workspace_id,
            slug,
            _optional_text(display_title),
            kind.strip() or "public",
            ids.now(),
            int(external_managed),
            _optional_text(external_ref),
            _optional_text(external_url),
            _optional_text(sidebar_section),
        ),
    )
    event = insert_event(
        tx,
        workspace_id=workspace_id,
        type="channel.created",
        channel_id=channel_id,
        payload=ChannelCreatedPayload(channel_id=channel_id),
    )
    return get_channel(tx, channel_id, user_id), event


def update(
    tx: Tx,
    channel_id: str,
    user_id: str,
    *,
    token_workspace_id: str | None = None,
    name: str | None = None,
    display_title: str | None = None,
    kind: str | None = None,
    archived: bool | None = None,
    external_managed: bool | None = None,
    external_ref: str | None = None,
    external_url: str | None = None,
    sidebar_section: str | None = None,
) -> tuple[Channel, Event]:
    """Rename, re-kind, archive or re-label a channel; workspace owners and bots only.

    ``None`` leaves a field alone; a blank name or kind is ignored (the reference server's
    merge rule) and a blank nullable text clears it.
    """
    row, role = visible_channel(tx, channel_id, user_id)
    _require_token_workspace(row, token_workspace_id)
    workspace_id: str = row["workspace_id"]
    require_not_restricted(tx, workspace_id, user_id)
    if role not in CHANNEL_ADMIN_ROLES:
        raise Forbidden(CHANNEL_ADMIN_REQUIRED)
    fields = (
        name,
        display_title,
        kind,
        archived,
        external_managed,
        external_ref,
        external_url,
        sidebar_section,
    )
    if all(field is None for field in fields):
        raise Invalid(
            "at least one of name, display_title, kind, archived, external_managed, "
            "external_ref, external_url or sidebar_section is required"
        )
    changes: dict[str, Any] = {}
    if name is not None:
        slug = slugify(name)
        if slug and slug != row["name"]:
            if GUEST_CHANNEL in (slug, row["name"]):
                raise Invalid("guest channel name is reserved")
            _require_name_free(tx, workspace_id, slug, exclude=channel_id)
            changes["name"] = slug
    if kind is not None and kind.strip():
        changes["kind"] = kind.strip()
    if archived is not None:
        changes["archived_at"] = ids.now() if archived else None
    if external_managed is not None:
        changes["external_managed"] = int(external_managed)
    for column, value in (
        ("display_title", display_title),
        ("external_ref", external_ref),
        ("external_url", external_url),
        ("sidebar_section", sidebar_section),
    ):
        if value is not None:
            changes[column] = _optional_text(value)
    if changes:
        assignments = ", ".join(f"{column} = :{column}" for column in changes)
        tx.execute(
            f"UPDATE channels SET {assignments} WHERE id = :id", {**changes, "id": channel_id}
        )
    channel = get_channel(tx, channel_id, user_id)
    event = insert_event(
        tx,
        workspace_id=workspace_id,
        type="channel.updated",
        channel_id=channel_id,
        payload=ChannelUpdatedPayload(
            channel_id=channel_id, archived=channel.archived_at is not None
        ),
    )
    return channel, event


def mark_read(
    tx: Tx,
    channel_id: str,
    user_id: str,
    seq: int,
    *,
    token_workspace_id: str | None = None,
) -> tuple[ReadReceipt, Event | None]:
    """Move the caller's read pointer forward to ``seq`` (capped to the channel's last root).

    Monotonic: a pointer at or below the current one changes nothing and emits no event; the
    current receipt is returned (``last_read_at`` is "" while the caller never read the channel).
    Otherwise a private ``channel.read`` event goes to the reader alone.
    """
    if token_workspace_id is not None:
        _require_token_workspace(visible_channel(tx, channel_id, user_id)[0], token_workspace_id)
    if seq < 0:
        raise Invalid("seq must be non-negative")
    row, _ = visible_channel(tx, channel_id, user_id)
    seq = min(seq, row["last_seq"])
    current = tx.one(
        "SELECT last_read_seq, last_read_at FROM channel_reads WHERE channel_id = ? AND user_id = ?",
        (channel_id, user_id),
    )
    current_seq = current["last_read_seq"] if current is not None else 0
    if seq <= current_seq:
        return (
            ReadReceipt(
                scope_id=channel_id,
                user_id=user_id,
                last_read_seq=current_seq,
                last_read_at=ids.wire_time(current["last_read_at"]) if current is not None else "",
            ),
            None,
        )
    read_at = ids.now()
    tx.execute(
        "INSERT INTO channel_reads (channel_id, user_id, last_read_seq, last_read_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (channel_id, user_id) DO UPDATE SET "
        "last_read_seq = excluded.last_read_seq, last_read_at = excluded.last_read_at "
        "WHERE excluded.last_read_seq > channel_reads.last_read_seq",
        (channel_id, user_id, seq, read_at),
    )
    event = insert_event(
        tx,
        workspace_id=row["workspace_id"],
        type="channel.read",
        channel_id=channel_id,
        seq=seq,
        payload=ChannelReadPayload(channel_id=channel_id, user_id=user_id),
        recipients=[user_id],
    )
    receipt = ReadReceipt(
        scope_id=channel_id, user_id=user_id, last_read_seq=seq, last_read_at=ids.wire_time(read_at)
    )
    return receipt, event


# Route resolution (protocol 1.2).


def route_scope(target_ref: str) -> str | None:
    """The bot scope a target id needs, judged by its prefix; ``None`` = not a routable id."""
    if target_ref.startswith(("C", "chn_")):
        return "channels:read"
    if target_ref.startswith(("D", "dm_")):
        return "dms:read"
    if target_ref.startswith(("M", "msg_")):
        return "threads:read"
    return None


def canonical_path(workspace_route_id: str, target_route_id: str) -> str:
    """The web app URL of a target: ``/app/{workspace_route_id}/{target_route_id}``."""
    return f"/app/{quote(workspace_route_id, safe='')}/{quote(target_route_id, safe='')}"


def ensure_thread_route(tx: Tx, message_id: str) -> str:
    """The ``M…`` route id of a root message, allocating (and storing) one when it has none."""
    row = tx.one("SELECT workspace_id, route_id FROM messages WHERE id = ?", (message_id,))
    if row is None:
        raise NotFound()
    if row["route_id"]:
        route_id: str = row["route_id"]
        return route_id
    route_id = _unused_route_id(
        tx,
        "M",
        "SELECT 1 FROM messages WHERE workspace_id = ? AND route_id = ?",
        row["workspace_id"],
    )
    tx.execute(
        "UPDATE messages SET route_id = ? WHERE id = ? AND route_id IS NULL", (route_id, message_id)
    )
    return route_id


def is_legacy_ref(value: str) -> bool:
    return value.startswith(LEGACY_ROUTE_PREFIXES)


def resolve_route(
    tx: Tx, user_id: str, workspace_ref: str, target_ref: str, *, allocate: bool = False
) -> RouteTarget | None:
    """Resolve a public route (``T…``/``C…``/``D…``/``M…``) or a legacy internal-id pair.

    Either reference being a legacy id makes both be read as internal ids. Anything unknown or
    invisible to ``user_id`` raises :class:`RouteNotFound`. A legacy thread root without a
    route id yet returns ``None`` unless ``allocate`` is set (then one is allocated), so the
    caller can retry in a write transaction.
    """
    workspace_ref, target_ref = workspace_ref.strip(), target_ref.strip()
    legacy = is_legacy_ref(workspace_ref) or is_legacy_ref(target_ref)
    column = "id" if legacy else "route_id"
    workspace = tx.one(f"SELECT id, route_id FROM workspaces WHERE {column} = ?", (workspace_ref,))
    if workspace is None or not target_ref:
        raise RouteNotFound()
    role = member_role(tx, workspace["id"], user_id)
    if role is None:
        raise RouteNotFound()
    base: dict[str, str] = {
        "workspace_id": workspace["id"],
        "workspace_route_id": workspace["route_id"],
    }
    channel_prefix, direct_prefix, thread_prefix = (
        ("chn_", "dm_", "msg_") if legacy else ("C", "D", "M")
    )
    try:
        if target_ref.startswith(channel_prefix):
            row = tx.one(
                f"SELECT id, route_id FROM channels WHERE workspace_id = ? AND {column} = ?",
                (workspace["id"], target_ref),
            )
            if row is None:
                raise RouteNotFound()
            visible_channel(tx, row["id"], user_id)
            return RouteTarget(
                **base,
                target_type="channel",
                target_id=row["id"],
                target_route_id=row["route_id"],
                canonical_path=canonical_path(workspace["route_id"], row["route_id"]),
            )
        if target_ref.startswith(direct_prefix):
            row = tx.one(
                f"SELECT id, route_id FROM direct_conversations WHERE workspace_id = ? AND {column} = ?",
                (workspace["id"], target_ref),
            )
            if row is None:
                raise RouteNotFound()
            visible_conversation(tx, row["id"], user_id)
            return RouteTarget(
                **base,
                target_type="direct",
                target_id=row["id"],
                target_route_id=row["route_id"],
                canonical_path=canonical_path(workspace["route_id"], row["route_id"]),
            )
        if target_ref.startswith(thread_prefix):
            return _resolve_thread(tx, user_id, base, column, target_ref, allocate=allocate)
    except RouteNotFound:
        raise
    except NotFound:
        raise RouteNotFound() from None
    raise RouteNotFound()


def _resolve_thread(
    tx: Tx,
    user_id: str,
    base: dict[str, str],
    column: str,
    target_ref: str,
    *,
    allocate: bool,
) -> RouteTarget | None:
    root = tx.one(
        f"SELECT id, route_id, channel_id, direct_conversation_id FROM messages "
        f"WHERE workspace_id = ? AND {column} = ? AND parent_message_id IS NULL",
        (base["workspace_id"], target_ref),
    )
    if root is None:
        raise RouteNotFound()
    if root["channel_id"] is not None:
        parent, _ = visible_channel(tx, root["channel_id"], user_id)
        parent_type = "channel"
    else:
        parent, _ = visible_conversation(tx, root["direct_conversation_id"], user_id)
        parent_type = "direct"
    route_id: str | None = root["route_id"]
    if not route_id:
        if not allocate:
            return None
        route_id = ensure_thread_route(tx, root["id"])
    return RouteTarget(
        **base,
        target_type="thread",
        target_id=root["id"],
        target_route_id=route_id,
        parent_type=parent_type,
        parent_id=parent["id"],
        parent_route_id=parent["route_id"],
        canonical_path=canonical_path(base["workspace_route_id"], route_id),
    )
