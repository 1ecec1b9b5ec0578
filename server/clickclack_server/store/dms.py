"""Direct conversations: pairs unique per workspace, groups up to 32, per-user hiding and read
pointers (protocol 3.12)."""

from __future__ import annotations

import sqlite3

from clickclack_sdk import DirectConversation, DmReadPayload, Event, ReadReceipt
from clickclack_server import ids
from clickclack_server.auth import Actor
from clickclack_server.db import Tx
from clickclack_server.errors import Forbidden, Invalid
from clickclack_server.store.access import (
    require_member,
    require_not_restricted,
    visible_conversation,
)
from clickclack_server.store.events import insert_event
from clickclack_server.store.messages import _active_recipients
from clickclack_server.store.rows import users_by_id

MAX_MEMBERS = 32


def conversation_from_row(tx: Tx, row: sqlite3.Row, viewer_id: str) -> DirectConversation:
    member_ids = [
        r[0]
        for r in tx.all(
            "SELECT user_id FROM direct_conversation_members WHERE conversation_id = ? ORDER BY created_at, user_id",
            (row["id"],),
        )
    ]
    people = users_by_id(tx, member_ids)
    last_read = tx.scalar(
        "SELECT last_read_seq FROM direct_reads WHERE conversation_id = ? AND user_id = ?",
        (row["id"], viewer_id),
    )
    last_read = last_read or 0
    unread = tx.scalar(
        "SELECT count(*) FROM messages WHERE direct_conversation_id = ? AND channel_seq > ? "
        "AND author_id <> ? AND kind = 'message' AND deleted_at IS NULL",
        (row["id"], last_read, viewer_id),
    )
    return DirectConversation(
        id=row["id"],
        route_id=row["route_id"],
        workspace_id=row["workspace_id"],
        created_at=ids.wire_time(row["created_at"]),
        members=[people[m] for m in member_ids if m in people],
        last_seq=row["last_seq"],
        last_read_seq=last_read,
        unread_count=unread,
        can_send=_active_recipients(tx, row["id"], row["workspace_id"], viewer_id) > 0,
    )


def list_for(tx: Tx, user_id: str, workspace_id: str) -> list[DirectConversation]:
    role = require_member(tx, workspace_id, user_id)
    if role == "guest":
        return []
    rows = tx.all(
        "SELECT d.* FROM direct_conversations d "
        "JOIN direct_conversation_members m ON m.conversation_id = d.id AND m.user_id = ? "
        "WHERE d.workspace_id = ? AND NOT EXISTS (SELECT 1 FROM direct_conversation_hidden h "
        "WHERE h.conversation_id = d.id AND h.user_id = ?) ORDER BY d.created_at, d.id",
        (user_id, workspace_id, user_id),
    )
    return [conversation_from_row(tx, row, user_id) for row in rows]


def create(tx: Tx, actor: Actor, workspace_id: str, member_ids: list[str]) -> DirectConversation:
    """Start (or, for a pair, reopen) a conversation; the caller is always a member."""
    role = require_member(tx, workspace_id, actor.user_id)
    if role == "guest":
        raise Forbidden("guests cannot start direct conversations")
    require_not_restricted(tx, workspace_id, actor.user_id)
    wanted: list[str] = []
    for member in [actor.user_id, *member_ids]:
        member = member.strip()
        if member and member not in wanted:
            wanted.append(member)
    if len(wanted) < 2:
        raise Invalid("direct conversation needs at least two members")
    if len(wanted) > MAX_MEMBERS:
        raise Invalid("direct conversation has too many members")
    for member in wanted:
        member_role = tx.scalar(
            "SELECT m.role FROM workspace_members m JOIN users u ON u.id = m.user_id "
            "WHERE m.workspace_id = ? AND m.user_id = ? AND u.deleted_at IS NULL",
            (workspace_id, member),
        )
        if member_role is None or member_role == "guest":
            raise Invalid("direct conversation members must be workspace members")
    pair_key = ":".join(sorted(wanted)) if len(wanted) == 2 else None
    if pair_key is not None:
        existing = tx.one(
            "SELECT * FROM direct_conversations WHERE workspace_id = ? AND member_set_key = ?",
            (workspace_id, pair_key),
        )
        if existing is not None:
            tx.execute(
                "DELETE FROM direct_conversation_hidden WHERE conversation_id = ? AND user_id = ?",
                (existing["id"], actor.user_id),
            )
            return conversation_from_row(tx, existing, actor.user_id)
    conversation_id = ids.new_id("dm")
    created = ids.now()
    tx.execute(
        "INSERT INTO direct_conversations (id, route_id, workspace_id, created_at, member_set_key) "
        "VALUES (?, ?, ?, ?, ?)",
        (conversation_id, ids.new_route_id("D"), workspace_id, created, pair_key),
    )
    tx.conn.executemany(
        "INSERT INTO direct_conversation_members (conversation_id, user_id, created_at) VALUES (?, ?, ?)",
        [(conversation_id, member, created) for member in wanted],
    )
    row = tx.one("SELECT * FROM direct_conversations WHERE id = ?", (conversation_id,))
    assert row is not None
    return conversation_from_row(tx, row, actor.user_id)


def get(tx: Tx, user_id: str, conversation_id: str) -> DirectConversation:
    row, _ = visible_conversation(tx, conversation_id, user_id)
    return conversation_from_row(tx, row, user_id)


def hide(tx: Tx, user_id: str, conversation_id: str) -> None:
    visible_conversation(tx, conversation_id, user_id)
    tx.execute(
        "INSERT OR IGNORE INTO direct_conversation_hidden (conversation_id, user_id, hidden_at) VALUES (?, ?, ?)",
        (conversation_id, user_id, ids.now()),
    )


def reopen(tx: Tx, user_id: str, conversation_id: str) -> DirectConversation:
    row, _ = visible_conversation(tx, conversation_id, user_id)
    tx.execute(
        "DELETE FROM direct_conversation_hidden WHERE conversation_id = ? AND user_id = ?",
        (conversation_id, user_id),
    )
    return conversation_from_row(tx, row, user_id)


def mark_read(
    tx: Tx, user_id: str, conversation_id: str, seq: int
) -> tuple[ReadReceipt, Event | None]:
    """Move the caller's read pointer forward (capped at the last seq); emits private dm.read."""
    if seq < 0:
        raise Invalid("seq must not be negative")
    row, _ = visible_conversation(tx, conversation_id, user_id)
    target = min(seq, row["last_seq"])
    current = tx.one(
        "SELECT last_read_seq, last_read_at FROM direct_reads WHERE conversation_id = ? AND user_id = ?",
        (conversation_id, user_id),
    )
    if current is not None and current["last_read_seq"] >= target:
        receipt = ReadReceipt(
            scope_id=conversation_id,
            user_id=user_id,
            last_read_seq=current["last_read_seq"],
            last_read_at=ids.wire_time(current["last_read_at"]),
        )
        return receipt, None
    if current is None and target == 0:
        return ReadReceipt(
            scope_id=conversation_id, user_id=user_id, last_read_seq=0, last_read_at=""
        ), None
    now = ids.now()
    tx.execute(
        "INSERT INTO direct_reads (conversation_id, user_id, last_read_seq, last_read_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (conversation_id, user_id) DO UPDATE SET last_read_seq = excluded.last_read_seq, "
        "last_read_at = excluded.last_read_at",
        (conversation_id, user_id, target, now),
    )
    event = insert_event(
        tx,
        workspace_id=row["workspace_id"],
        type="dm.read",
        payload=DmReadPayload(direct_conversation_id=conversation_id, user_id=user_id),
        seq=target,
        recipients=[user_id],
    )
    receipt = ReadReceipt(
        scope_id=conversation_id,
        user_id=user_id,
        last_read_seq=target,
        last_read_at=ids.wire_time(now),
    )
    return receipt, event
