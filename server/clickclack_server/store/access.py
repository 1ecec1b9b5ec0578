"""Membership, role and visibility checks every area shares (protocol 2.7)."""

from __future__ import annotations

import sqlite3

from clickclack_server import ids
from clickclack_server.auth import current_actor
from clickclack_server.db import Tx
from clickclack_server.errors import Forbidden, Invalid, NotFound

MANAGER_ROLES = frozenset({"owner", "moderator"})
GUEST_CHANNEL = "guest"


def member_role(tx: Tx, workspace_id: str, user_id: str) -> str | None:
    """The user's role, or None. A bot token's own user is refused outside the token's workspace
    (403), whichever route got here: this is where token workspace isolation is enforced."""
    actor = current_actor.get()
    if (
        actor is not None
        and actor.token_workspace_id is not None
        and actor.user_id == user_id
        and workspace_id != actor.token_workspace_id
    ):
        raise Forbidden("bot token cannot access this workspace")
    role: str | None = tx.scalar(
        "SELECT role FROM workspace_members WHERE workspace_id = ? AND user_id = ?",
        (workspace_id, user_id),
    )
    return role


def require_member(tx: Tx, workspace_id: str, user_id: str) -> str:
    """The caller's role in the workspace; a missing workspace or non-member answers 400."""
    role = member_role(tx, workspace_id, user_id)
    if role is None:
        if not tx.one("SELECT 1 FROM workspaces WHERE id = ?", (workspace_id,)):
            raise NotFound()
        raise Invalid("not a member of this workspace")
    return role


def require_manager(tx: Tx, workspace_id: str, user_id: str) -> str:
    role = require_member(tx, workspace_id, user_id)
    if role not in MANAGER_ROLES:
        raise Forbidden("workspace manager permission required")
    return role


def require_owner(tx: Tx, workspace_id: str, user_id: str) -> str:
    role = require_member(tx, workspace_id, user_id)
    if role != "owner":
        raise Forbidden("workspace owner permission required")
    return role


def require_not_restricted(tx: Tx, workspace_id: str, user_id: str) -> None:
    """Timed-out or blocked members cannot write (403 ``moderation restriction``)."""
    row = tx.one(
        "SELECT timeout_until, blocked_at FROM workspace_member_moderation "
        "WHERE workspace_id = ? AND user_id = ?",
        (workspace_id, user_id),
    )
    if row is None:
        return
    if row["blocked_at"] is not None or (
        row["timeout_until"] is not None and row["timeout_until"] > ids.now()
    ):
        raise Forbidden("moderation restriction")


def visible_channel(tx: Tx, channel_id: str, user_id: str) -> tuple[sqlite3.Row, str]:
    """The channel row and the caller's role; unknown, foreign or guest-hidden -> 400 no rows."""
    row = tx.one("SELECT * FROM channels WHERE id = ?", (channel_id,))
    if row is None:
        raise NotFound()
    role = member_role(tx, row["workspace_id"], user_id)
    if role is None or (role == "guest" and row["name"] != GUEST_CHANNEL):
        raise NotFound()
    return row, role


def visible_conversation(tx: Tx, conversation_id: str, user_id: str) -> tuple[sqlite3.Row, str]:
    """The DM row and the caller's role; only current members (non-guests) may see it."""
    row = tx.one("SELECT * FROM direct_conversations WHERE id = ?", (conversation_id,))
    if row is None:
        raise NotFound()
    role = member_role(tx, row["workspace_id"], user_id)
    if (
        role is None
        or role == "guest"
        or not tx.one(
            "SELECT 1 FROM direct_conversation_members WHERE conversation_id = ? AND user_id = ?",
            (conversation_id, user_id),
        )
    ):
        raise NotFound()
    return row, role


def conversation_member_ids(tx: Tx, conversation_id: str) -> list[str]:
    return [
        row[0]
        for row in tx.all(
            "SELECT user_id FROM direct_conversation_members WHERE conversation_id = ? ORDER BY user_id",
            (conversation_id,),
        )
    ]
