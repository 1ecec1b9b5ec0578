"""Durable events: written in the mutation's own transaction (protocol 4.4, 4.8)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from clickclack_sdk import Event, to_data
from clickclack_sdk._payloads import EventPayload
from clickclack_server import ids
from clickclack_server.db import Tx
from clickclack_server.db.sqlite import CommittedEvent

DURABLE_EVENT_TYPES = (
    "channel.created",
    "channel.updated",
    "message.created",
    "message.updated",
    "message.deleted",
    "thread.reply_created",
    "thread.state_updated",
    "reaction.added",
    "reaction.removed",
    "channel.read",
    "dm.read",
    "member.moderation_updated",
    "workspace.updated",
    "workspace.ownership_transferred",
)


def _next_cursor(tx: Tx, workspace_id: str) -> str:
    """``cur_`` + ULID strictly above the workspace's newest cursor."""
    candidate = ids.new_ulid()
    newest: str | None = tx.scalar(
        "SELECT cursor FROM events WHERE workspace_id = ? ORDER BY cursor DESC LIMIT 1",
        (workspace_id,),
    )
    if newest is not None and "cur_" + candidate <= newest:
        frontier = ids.ulid_ms(newest.removeprefix("cur_"))
        candidate = ids.ulid_at_ms(frontier)
        if "cur_" + candidate <= newest:
            candidate = ids.ulid_at_ms(frontier + 1)
    return "cur_" + candidate


def insert_event(
    tx: Tx,
    *,
    workspace_id: str,
    type: str,
    payload: EventPayload,
    channel_id: str | None = None,
    seq: int | None = None,
    recipients: Iterable[str] | None = None,
) -> Event:
    """Insert one durable event; ``recipients`` makes it private to those user ids."""
    data: dict[str, Any] = to_data(payload)
    event_id = ids.new_id("evt")
    cursor = _next_cursor(tx, workspace_id)
    created = ids.now()
    recipient_set = frozenset(recipients) if recipients is not None else None
    tx.execute(
        "INSERT INTO events (id, cursor, workspace_id, channel_id, type, seq, payload_json, "
        "created_at, is_private) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event_id,
            cursor,
            workspace_id,
            channel_id,
            type,
            seq,
            json.dumps(data, separators=(",", ":")),
            created,
            1 if recipient_set is not None else 0,
        ),
    )
    if recipient_set is not None:
        tx.conn.executemany(
            "INSERT INTO event_recipients (event_id, user_id) VALUES (?, ?)",
            [(event_id, user_id) for user_id in sorted(recipient_set)],
        )
    tx.events.append(
        CommittedEvent(
            id=event_id,
            cursor=cursor,
            type=type,
            workspace_id=workspace_id,
            channel_id=channel_id,
            seq=seq,
            created_at=created,
            payload=data,
            recipients=recipient_set,
        )
    )
    return Event(
        id=event_id,
        cursor=cursor,
        type=type,
        workspace_id=workspace_id,
        channel_id=channel_id,
        seq=seq,
        created_at=ids.wire_time(created),
        payload=data,
    )
