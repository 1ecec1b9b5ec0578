"""Reactions: one per (message, user, emoji), summarised per emoji (protocol 3.9)."""

from __future__ import annotations

from clickclack_sdk import Event, ReactionPayload, ReactionSummary
from clickclack_server import ids
from clickclack_server.auth import Actor
from clickclack_server.db import Tx
from clickclack_server.errors import Invalid
from clickclack_server.store.access import conversation_member_ids, require_not_restricted
from clickclack_server.store.events import insert_event
from clickclack_server.store.messages import reaction_summaries, require_dm_scope, visible_message


def _toggle(
    tx: Tx, actor: Actor, message_id: str, emoji: str, add: bool
) -> tuple[Event | None, list[ReactionSummary]]:
    row, _ = visible_message(tx, message_id, actor.user_id)
    require_dm_scope(actor, row, "dms:write")
    if not emoji:
        raise Invalid("emoji is required")
    require_not_restricted(tx, row["workspace_id"], actor.user_id)
    if add:
        changed = tx.execute(
            "INSERT OR IGNORE INTO reactions (message_id, user_id, emoji, created_at) VALUES (?, ?, ?, ?)",
            (message_id, actor.user_id, emoji, ids.now()),
        ).rowcount
    else:
        changed = tx.execute(
            "DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND emoji = ?",
            (message_id, actor.user_id, emoji),
        ).rowcount
    summaries = reaction_summaries(tx, [message_id], actor.user_id).get(message_id, [])
    if not changed:
        return None, summaries
    conversation_id = row["direct_conversation_id"]
    payload = ReactionPayload(
        message_id=message_id,
        emoji=emoji,
        user_id=actor.user_id,
        count=next((s.count for s in summaries if s.emoji == emoji), 0),
        direct_conversation_id=conversation_id or None,
    )
    event = insert_event(
        tx,
        workspace_id=row["workspace_id"],
        type="reaction.added" if add else "reaction.removed",
        payload=payload,
        channel_id=row["channel_id"],
        seq=row["channel_seq"] if row["parent_message_id"] is None else None,
        recipients=conversation_member_ids(tx, conversation_id) if conversation_id else None,
    )
    return event, summaries


def add(
    tx: Tx, actor: Actor, message_id: str, emoji: str
) -> tuple[Event | None, list[ReactionSummary]]:
    """Add a reaction; ``None`` event when it was already there."""
    return _toggle(tx, actor, message_id, emoji, add=True)


def remove(
    tx: Tx, actor: Actor, message_id: str, emoji: str
) -> tuple[Event | None, list[ReactionSummary]]:
    """Remove a reaction; ``None`` event when there was none."""
    return _toggle(tx, actor, message_id, emoji, add=False)
