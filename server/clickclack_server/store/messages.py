"""Messages: one creation path for channel roots, DM roots and thread replies; hydration;
timeline windows; edit and delete (protocol 3.7, 3.8, 3.12)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence

import attrs

from clickclack_sdk import (
    Event,
    Message,
    MessageChangedPayload,
    MessageCreatedPayload,
    MessagePage,
    ReactionSummary,
    ThreadReplyCreatedPayload,
    ThreadState,
    ThreadStateUpdatedPayload,
    Upload,
    User,
)
from clickclack_server import ids
from clickclack_server.auth import Actor
from clickclack_server.db import Tx
from clickclack_server.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from clickclack_server.paging import Window
from clickclack_server.store.access import (
    conversation_member_ids,
    require_not_restricted,
    visible_channel,
    visible_conversation,
)
from clickclack_server.store.events import insert_event
from clickclack_server.store.rows import upload_from_row, users_by_id
from clickclack_server.text import normalize_nonce

MESSAGE_KINDS = frozenset({"message", "agent_commentary", "agent_tool"})
GUEST_POST_BUDGET = 3
DAY_NS = 24 * 3600 * 1_000_000_000
NONCE_CONFLICT = "client nonce was already used for a different message"


# Building wire objects.


def thread_state_from_row(row: sqlite3.Row) -> ThreadState:
    return ThreadState(
        root_message_id=row["root_message_id"],
        reply_count=row["reply_count"],
        last_reply_at=ids.opt_wire_time(row["last_reply_at"]),
        last_reply_author_ids=json.loads(row["last_reply_author_ids_json"]),
    )


def empty_thread_state(root_id: str) -> ThreadState:
    return ThreadState(root_message_id=root_id, reply_count=0, last_reply_author_ids=[])


def message_from_row(
    row: sqlite3.Row,
    *,
    author: User | None = None,
    quoted_author: User | None = None,
    attachments: list[Upload] | None = None,
    reactions: list[ReactionSummary] | None = None,
    thread_state: ThreadState | None = None,
) -> Message:
    return Message(
        id=row["id"],
        route_id=row["route_id"],
        workspace_id=row["workspace_id"],
        channel_id=row["channel_id"],
        direct_conversation_id=row["direct_conversation_id"],
        author_id=row["author_id"],
        parent_message_id=row["parent_message_id"],
        thread_root_id=row["thread_root_id"],
        topic_id=row["topic_id"],
        channel_seq=row["channel_seq"],
        thread_seq=row["thread_seq"],
        body=row["body"],
        body_format=row["body_format"],
        created_at=ids.wire_time(row["created_at"]),
        edited_at=ids.opt_wire_time(row["edited_at"]),
        deleted_at=ids.opt_wire_time(row["deleted_at"]),
        kind=row["kind"],
        turn_id=row["turn_id"],
        author=author,
        attachments=attachments or None,
        quoted_message_id=row["quoted_message_id"],
        quoted_body_snapshot=row["quoted_body_snapshot"] if row["quoted_message_id"] else None,
        quoted_author_id=row["quoted_author_id"],
        quoted_author=quoted_author,
        thread_state=thread_state,
        nonce=row["client_nonce"] or None,
        reactions=reactions or None,
    )


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def reaction_summaries(
    tx: Tx, message_ids: Sequence[str], viewer_id: str
) -> dict[str, list[ReactionSummary]]:
    """Per message, one summary per emoji in first-reaction order."""
    if not message_ids:
        return {}
    rows = tx.all(
        f"SELECT message_id, emoji, count(*) AS n, max(user_id = ?) AS mine, min(created_at) AS first "
        f"FROM reactions WHERE message_id IN ({_marks(message_ids)}) "
        f"GROUP BY message_id, emoji ORDER BY first, emoji",
        [viewer_id, *message_ids],
    )
    found: dict[str, list[ReactionSummary]] = {}
    for row in rows:
        found.setdefault(row["message_id"], []).append(
            ReactionSummary(emoji=row["emoji"], count=row["n"], reacted_by_me=bool(row["mine"]))
        )
    return found


def attachments_for(tx: Tx, message_ids: Sequence[str]) -> dict[str, list[Upload]]:
    if not message_ids:
        return {}
    rows = tx.all(
        f"SELECT a.message_id AS attached_to, u.* FROM message_attachments a "
        f"JOIN uploads u ON u.id = a.upload_id WHERE a.message_id IN ({_marks(message_ids)}) "
        f"ORDER BY a.created_at, u.id",
        list(message_ids),
    )
    found: dict[str, list[Upload]] = {}
    for row in rows:
        found.setdefault(row["attached_to"], []).append(upload_from_row(row))
    return found


def hydrate(
    tx: Tx, rows: Sequence[sqlite3.Row], viewer_id: str, *, thread_states: bool = True
) -> list[Message]:
    """Attach authors, quoted authors, attachments, reactions and (roots) thread states."""
    if not rows:
        return []
    message_ids = [row["id"] for row in rows]
    people = users_by_id(
        tx,
        [row["author_id"] for row in rows]
        + [row["quoted_author_id"] for row in rows if row["quoted_author_id"]],
    )
    reactions = reaction_summaries(tx, message_ids, viewer_id)
    attachments = attachments_for(tx, message_ids)
    states: dict[str, ThreadState] = {}
    if thread_states:
        roots = [row["id"] for row in rows if row["parent_message_id"] is None]
        if roots:
            for state_row in tx.all(
                f"SELECT * FROM thread_state WHERE root_message_id IN ({_marks(roots)})", roots
            ):
                states[state_row["root_message_id"]] = thread_state_from_row(state_row)
    return [
        message_from_row(
            row,
            author=people.get(row["author_id"]),
            quoted_author=people.get(row["quoted_author_id"]) if row["quoted_author_id"] else None,
            attachments=attachments.get(row["id"]),
            reactions=reactions.get(row["id"]),
            thread_state=(
                states.get(row["id"], empty_thread_state(row["id"]))
                if thread_states and row["parent_message_id"] is None
                else None
            ),
        )
        for row in rows
    ]


# Lookups and visibility.


def message_row(tx: Tx, message_id: str) -> sqlite3.Row:
    row = tx.one("SELECT * FROM messages WHERE id = ?", (message_id,))
    if row is None:
        raise NotFound()
    return row


def visible_message(tx: Tx, message_id: str, user_id: str) -> tuple[sqlite3.Row, str]:
    """The message and the caller's role, if the caller may see its channel or conversation."""
    row = message_row(tx, message_id)
    if row["direct_conversation_id"] is not None:
        _, role = visible_conversation(tx, row["direct_conversation_id"], user_id)
    else:
        _, role = visible_channel(tx, row["channel_id"], user_id)
    return row, role


def require_dm_scope(actor: Actor, row: sqlite3.Row, scope: str) -> None:
    """DM messages additionally need the ``dms:*`` scope for bot tokens."""
    if row["direct_conversation_id"] is not None:
        actor.require_scope(scope)


def message_event(tx: Tx, row: sqlite3.Row, event_type: str) -> Event:
    """``message.updated``/``message.deleted``: channel (if any), root seq, DM privacy."""
    conversation_id = row["direct_conversation_id"]
    payload = MessageChangedPayload(
        message_id=row["id"],
        root_message_id=row["thread_root_id"],
        direct_conversation_id=conversation_id or None,
    )
    return insert_event(
        tx,
        workspace_id=row["workspace_id"],
        type=event_type,
        payload=payload,
        channel_id=row["channel_id"],
        seq=row["channel_seq"] if row["parent_message_id"] is None else None,
        recipients=conversation_member_ids(tx, conversation_id) if conversation_id else None,
    )


# Creation.


@attrs.frozen(kw_only=True)
class Draft:
    """What a client asked to post; ``kind``/``turn_id``/``topic_id`` only for roots."""

    body: str
    nonce: str = ""
    quoted_message_id: str = ""
    topic_id: str = ""
    upload_id: str = ""
    kind: str = ""
    turn_id: str = ""
    correlation_id: str = ""


@attrs.frozen(kw_only=True)
class Created:
    """A created (or nonce-replayed) message. ``events`` is empty on replay."""

    message: Message
    events: list[Event]
    thread_state: ThreadState | None = None
    replayed: bool = False


def _check_kind(actor: Actor, draft: Draft) -> str:
    kind = draft.kind.strip() or "message"
    if kind not in MESSAGE_KINDS:
        raise Invalid("invalid message kind")
    if kind == "message":
        if draft.turn_id.strip():
            raise Invalid("turn_id is only valid for agent activity messages")
        return kind
    if not actor.is_bot_token:
        raise Forbidden("agent activity messages require a bot token")
    actor.require_scope("agent_activity:write")
    return kind


def _replay(
    tx: Tx, actor: Actor, nonce: str, match: dict[str, object], viewer_id: str
) -> Created | None:
    row = tx.one(
        "SELECT * FROM messages WHERE author_id = ? AND client_nonce = ?", (actor.user_id, nonce)
    )
    if row is None:
        return None
    for column, expected in match.items():
        if (row[column] or "") != (expected or ""):
            raise Invalid(NONCE_CONFLICT)
    [message] = hydrate(tx, [row], viewer_id, thread_states=False)
    state = None
    if row["parent_message_id"] is not None:
        state_row = tx.one(
            "SELECT * FROM thread_state WHERE root_message_id = ?", (row["thread_root_id"],)
        )
        state = thread_state_from_row(state_row) if state_row else None
    return Created(message=message, events=[], thread_state=state, replayed=True)


def guest_posts_today(tx: Tx, workspace_id: str, user_id: str) -> int:
    """Posts, replies and slash-command invocations of the user in the rolling day."""
    since = ids.format_ns(time.time_ns() - DAY_NS)
    posted: int = tx.scalar(
        "SELECT (SELECT count(*) FROM messages WHERE workspace_id = ? AND author_id = ? AND created_at > ?)"
        " + (SELECT count(*) FROM slash_command_invocations "
        "WHERE workspace_id = ? AND user_id = ? AND created_at > ?)",
        (workspace_id, user_id, since, workspace_id, user_id, since),
    )
    return posted


def spend_guest_budget(tx: Tx, workspace_id: str, user_id: str, role: str) -> None:
    """Guests share one rolling budget across posts, replies and slash-command invocations."""
    if role == "guest" and guest_posts_today(tx, workspace_id, user_id) >= GUEST_POST_BUDGET:
        raise RateLimited("waiting room post limit reached")


def _quote(tx: Tx, draft: Draft, *, scope_column: str, scope_id: str) -> sqlite3.Row | None:
    quoted_id = draft.quoted_message_id.strip()
    if not quoted_id:
        return None
    quoted = tx.one("SELECT * FROM messages WHERE id = ?", (quoted_id,))
    if quoted is None or quoted[scope_column] != scope_id:
        raise Invalid("quoted message is not in this channel, conversation, or thread")
    return quoted


def _attach_new_upload(
    tx: Tx, actor: Actor, message_id: str, workspace_id: str, upload_id: str
) -> None:
    """Attach at creation: only an upload the author may read (their own, or one already shared
    with them) and only by someone allowed to upload, so private files cannot be published by id."""
    from clickclack_server.store.uploads import readable_row, require_uploader

    actor.require_scope("uploads:write")
    require_uploader(tx, workspace_id, actor.user_id)
    if readable_row(tx, upload_id, actor.user_id)["workspace_id"] != workspace_id:
        raise NotFound()
    tx.execute(
        "INSERT OR IGNORE INTO message_attachments (message_id, upload_id, created_at) VALUES (?, ?, ?)",
        (message_id, upload_id, ids.now()),
    )


def _active_recipients(tx: Tx, conversation_id: str, workspace_id: str, sender: str) -> int:
    return int(
        tx.scalar(
            "SELECT count(*) FROM direct_conversation_members d "
            "JOIN users u ON u.id = d.user_id AND u.deleted_at IS NULL "
            "JOIN workspace_members m ON m.workspace_id = ? AND m.user_id = d.user_id "
            "WHERE d.conversation_id = ? AND d.user_id <> ?",
            (workspace_id, conversation_id, sender),
        )
    )


def create_root(
    tx: Tx,
    actor: Actor,
    draft: Draft,
    *,
    channel_id: str | None = None,
    conversation_id: str | None = None,
) -> Created:
    """Post a root message to a channel or a DM (nonce replay returns the existing one)."""
    body = draft.body.strip()
    if not body:
        raise Invalid("message body is required")
    kind = _check_kind(actor, draft)
    nonce = normalize_nonce(draft.nonce)
    topic_id = draft.topic_id.strip()
    turn_id = draft.turn_id.strip()
    if conversation_id is not None:
        scope_row, role = visible_conversation(tx, conversation_id, actor.user_id)
        scope_column, scope_id = "direct_conversation_id", conversation_id
    else:
        assert channel_id is not None
        scope_row, role = visible_channel(tx, channel_id, actor.user_id)
        scope_column, scope_id = "channel_id", channel_id
    if nonce:
        replay = _replay(
            tx,
            actor,
            nonce,
            {
                scope_column: scope_id,
                "parent_message_id": None,
                "body": body,
                "quoted_message_id": draft.quoted_message_id.strip(),
                "topic_id": topic_id,
                "kind": kind,
                "turn_id": turn_id,
            },
            actor.user_id,
        )
        if replay is not None:
            return replay
    workspace_id = scope_row["workspace_id"]
    if topic_id:
        raise Invalid("topic not found")
    require_not_restricted(tx, workspace_id, actor.user_id)
    spend_guest_budget(tx, workspace_id, actor.user_id, role)
    if conversation_id is not None and not _active_recipients(
        tx, conversation_id, workspace_id, actor.user_id
    ):
        raise Conflict("direct conversation has no active recipient")
    quoted = _quote(tx, draft, scope_column=scope_column, scope_id=scope_id)
    table = "direct_conversations" if conversation_id is not None else "channels"
    seq = tx.scalar(
        f"UPDATE {table} SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq", (scope_id,)
    )
    message_id = ids.new_id("msg")
    created = ids.now()
    tx.execute(
        "INSERT INTO messages (id, workspace_id, channel_id, direct_conversation_id, author_id, "
        "thread_root_id, channel_seq, body, created_at, quoted_message_id, quoted_body_snapshot, "
        "quoted_author_id, client_nonce, kind, turn_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message_id,
            workspace_id,
            channel_id,
            conversation_id,
            actor.user_id,
            message_id,
            seq,
            body,
            created,
            quoted["id"] if quoted else None,
            quoted["body"] if quoted else None,
            quoted["author_id"] if quoted else None,
            nonce,
            kind,
            turn_id or None,
        ),
    )
    tx.execute("INSERT INTO thread_state (root_message_id) VALUES (?)", (message_id,))
    if draft.upload_id.strip():
        _attach_new_upload(tx, actor, message_id, workspace_id, draft.upload_id.strip())
    recipients: list[str] | None = None
    if conversation_id is not None:
        recipients = conversation_member_ids(tx, conversation_id)
        tx.execute(
            "DELETE FROM direct_conversation_hidden WHERE conversation_id = ?", (conversation_id,)
        )
    payload = MessageCreatedPayload(
        message_id=message_id,
        direct_conversation_id=conversation_id,
        author_id=actor.user_id,
        kind=kind if kind != "message" else None,
        turn_id=turn_id or None,
        nonce=nonce or None,
        correlation_id=draft.correlation_id,
    )
    event = insert_event(
        tx,
        workspace_id=workspace_id,
        type="message.created",
        payload=payload,
        channel_id=channel_id,
        seq=seq,
        recipients=recipients,
    )
    [message] = hydrate(tx, [message_row(tx, message_id)], actor.user_id, thread_states=False)
    return Created(message=message, events=[event])


def create_reply(tx: Tx, actor: Actor, root_id: str, draft: Draft) -> Created:
    """Reply in a thread (one level only) and update the root's thread state."""
    root, role = visible_message(tx, root_id, actor.user_id)
    require_dm_scope(actor, root, "dms:write")
    if root["parent_message_id"] is not None:
        raise Invalid("nested thread replies are not supported")
    body = draft.body.strip()
    if not body:
        raise Invalid("reply body is required")
    nonce = normalize_nonce(draft.nonce)
    if nonce:
        replay = _replay(
            tx,
            actor,
            nonce,
            {
                "parent_message_id": root_id,
                "body": body,
                "quoted_message_id": draft.quoted_message_id.strip(),
            },
            actor.user_id,
        )
        if replay is not None:
            return replay
    workspace_id = root["workspace_id"]
    conversation_id = root["direct_conversation_id"]
    require_not_restricted(tx, workspace_id, actor.user_id)
    spend_guest_budget(tx, workspace_id, actor.user_id, role)
    quoted = _quote(tx, draft, scope_column="thread_root_id", scope_id=root_id)
    seq = (
        tx.scalar(
            "SELECT coalesce(max(thread_seq), 0) + 1 FROM messages "
            "WHERE thread_root_id = ? AND thread_seq IS NOT NULL",
            (root_id,),
        )
        or 1
    )
    message_id = ids.new_id("msg")
    created = ids.now()
    tx.execute(
        "INSERT INTO messages (id, workspace_id, channel_id, direct_conversation_id, author_id, "
        "parent_message_id, thread_root_id, thread_seq, body, created_at, quoted_message_id, "
        "quoted_body_snapshot, quoted_author_id, client_nonce) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message_id,
            workspace_id,
            root["channel_id"],
            conversation_id,
            actor.user_id,
            root_id,
            root_id,
            seq,
            body,
            created,
            quoted["id"] if quoted else None,
            quoted["body"] if quoted else None,
            quoted["author_id"] if quoted else None,
            nonce,
        ),
    )
    state_row = tx.one("SELECT * FROM thread_state WHERE root_message_id = ?", (root_id,))
    recent: list[str] = json.loads(state_row["last_reply_author_ids_json"]) if state_row else []
    recent = [actor.user_id, *[user for user in recent if user != actor.user_id]][:3]
    tx.execute(
        "INSERT INTO thread_state (root_message_id, reply_count, last_reply_at, last_reply_author_ids_json) "
        "VALUES (?, 1, ?, ?) ON CONFLICT (root_message_id) DO UPDATE SET "
        "reply_count = reply_count + 1, last_reply_at = excluded.last_reply_at, "
        "last_reply_author_ids_json = excluded.last_reply_author_ids_json",
        (root_id, created, json.dumps(recent)),
    )
    recipients = conversation_member_ids(tx, conversation_id) if conversation_id else None
    reply_payload = ThreadReplyCreatedPayload(
        message_id=message_id,
        root_message_id=root_id,
        direct_conversation_id=conversation_id or None,
        nonce=nonce or None,
        correlation_id=draft.correlation_id,
    )
    state_payload = ThreadStateUpdatedPayload(
        root_message_id=root_id, direct_conversation_id=conversation_id or None
    )
    events = [
        insert_event(
            tx,
            workspace_id=workspace_id,
            type="thread.reply_created",
            payload=reply_payload,
            channel_id=root["channel_id"],
            recipients=recipients,
        ),
        insert_event(
            tx,
            workspace_id=workspace_id,
            type="thread.state_updated",
            payload=state_payload,
            channel_id=root["channel_id"],
            recipients=recipients,
        ),
    ]
    [message] = hydrate(tx, [message_row(tx, message_id)], actor.user_id, thread_states=False)
    state = tx.one("SELECT * FROM thread_state WHERE root_message_id = ?", (root_id,))
    assert state is not None
    return Created(message=message, events=events, thread_state=thread_state_from_row(state))


# Reading.


def window_rows(
    tx: Tx, where: str, params: Sequence[object], seq_column: str, window: Window
) -> tuple[list[sqlite3.Row], bool, bool]:
    """Rows of one sequence (ascending) for ``window`` plus has_older/has_newer."""
    base = f"SELECT * FROM messages WHERE {where} AND {seq_column} IS NOT NULL"
    limit = window.limit
    if window.after is not None:
        rows = tx.all(
            f"{base} AND {seq_column} > ? ORDER BY {seq_column} LIMIT ?",
            [*params, window.after, limit],
        )
    elif window.before is not None:
        rows = tx.all(
            f"{base} AND {seq_column} < ? ORDER BY {seq_column} DESC LIMIT ?",
            [*params, window.before, limit],
        )[::-1]
    elif window.around is not None:
        older = tx.all(
            f"{base} AND {seq_column} <= ? ORDER BY {seq_column} DESC LIMIT ?",
            [*params, window.around, (limit + 1) // 2],
        )[::-1]
        newer = tx.all(
            f"{base} AND {seq_column} > ? ORDER BY {seq_column} LIMIT ?",
            [*params, window.around, limit - len(older)],
        )
        rows = older + newer
    else:
        rows = tx.all(f"{base} ORDER BY {seq_column} DESC LIMIT ?", [*params, limit])[::-1]

    def exists(condition: str, value: int) -> bool:
        return (
            tx.one(f"{base} AND {seq_column} {condition} ? LIMIT 1", [*params, value]) is not None
        )

    if rows:
        return rows, exists("<", rows[0][seq_column]), exists(">", rows[-1][seq_column])
    if window.after is not None:
        return rows, exists("<=", window.after), False
    if window.before is not None:
        return rows, False, exists(">=", window.before)
    return rows, False, False


def page(
    tx: Tx, rows: list[sqlite3.Row], has_older: bool, has_newer: bool, seq_column: str, viewer: str
) -> MessagePage:
    return MessagePage(
        messages=hydrate(tx, rows, viewer),
        oldest_seq=rows[0][seq_column] if rows else 0,
        newest_seq=rows[-1][seq_column] if rows else 0,
        has_older=has_older,
        has_newer=has_newer,
    )


def channel_page(
    tx: Tx, user_id: str, channel_id: str, window: Window, topic_id: str | None
) -> MessagePage:
    visible_channel(tx, channel_id, user_id)
    where, params = "channel_id = ?", [channel_id]
    if topic_id is not None:
        where += " AND topic_id = ?"
        params.append(topic_id)
    rows, older, newer = window_rows(tx, where, params, "channel_seq", window)
    return page(tx, rows, older, newer, "channel_seq", user_id)


def conversation_page(tx: Tx, user_id: str, conversation_id: str, window: Window) -> MessagePage:
    visible_conversation(tx, conversation_id, user_id)
    rows, older, newer = window_rows(
        tx, "direct_conversation_id = ?", [conversation_id], "channel_seq", window
    )
    return page(tx, rows, older, newer, "channel_seq", user_id)


def get_message(tx: Tx, actor: Actor, message_id: str) -> Message:
    row, _ = visible_message(tx, message_id, actor.user_id)
    require_dm_scope(actor, row, "dms:read")
    [message] = hydrate(tx, [row], actor.user_id)
    return message


def by_nonce(tx: Tx, actor: Actor, workspace_id: str, nonce: str) -> Message:
    """The caller's message with ``nonce``; 404-able NotFound, or a conflict across workspaces."""
    row = tx.one(
        "SELECT * FROM messages WHERE author_id = ? AND client_nonce = ?",
        (actor.user_id, normalize_nonce(nonce)),
    )
    if row is None:
        raise NotFound()
    if row["workspace_id"] != workspace_id:
        raise Invalid(NONCE_CONFLICT)
    [message] = hydrate(tx, [row], actor.user_id)
    return message


# Editing and deleting.


def edit(tx: Tx, actor: Actor, message_id: str, body: str) -> tuple[Message, Event]:
    row, _ = visible_message(tx, message_id, actor.user_id)
    require_dm_scope(actor, row, "dms:write")
    if row["author_id"] != actor.user_id:
        raise Invalid("only the author can edit a message")
    if row["deleted_at"] is not None:
        raise Invalid("message is deleted")
    body = body.strip()
    if not body:
        raise Invalid("message body is required")
    require_not_restricted(tx, row["workspace_id"], actor.user_id)
    tx.execute(
        "UPDATE messages SET body = ?, edited_at = ? WHERE id = ?", (body, ids.now(), message_id)
    )
    updated = message_row(tx, message_id)
    event = message_event(tx, updated, "message.updated")
    [message] = hydrate(tx, [updated], actor.user_id)
    return message, event


def delete(tx: Tx, actor: Actor, message_id: str) -> tuple[Message, Event | None]:
    """Soft delete (body cleared, attachments detached); ``None`` event when already deleted."""
    row, role = visible_message(tx, message_id, actor.user_id)
    require_dm_scope(actor, row, "dms:write")
    may_moderate = row["direct_conversation_id"] is None and role == "owner"
    if row["author_id"] != actor.user_id and not may_moderate:
        raise Forbidden("message is not writable")
    if row["deleted_at"] is not None:
        [message] = hydrate(tx, [row], actor.user_id)
        return message, None
    tx.execute(
        "UPDATE messages SET body = '', deleted_at = ? WHERE id = ?", (ids.now(), message_id)
    )
    tx.execute("DELETE FROM message_attachments WHERE message_id = ?", (message_id,))
    updated = message_row(tx, message_id)
    event = message_event(tx, updated, "message.deleted")
    [message] = hydrate(tx, [updated], actor.user_id)
    return message, event


def ensure_route(tx: Tx, actor: Actor, message_id: str) -> Message:
    """Allocate the thread URL id (``M...``) of a channel root; idempotent."""
    row, _ = visible_message(tx, message_id, actor.user_id)
    require_dm_scope(actor, row, "dms:read")
    if row["parent_message_id"] is not None:
        raise Invalid("thread root must be a root message")
    if row["route_id"] is None:
        allocate_route(tx, row)
        row = message_row(tx, message_id)
    [message] = hydrate(tx, [row], actor.user_id)
    return message


def allocate_route(tx: Tx, row: sqlite3.Row) -> None:
    while True:
        try:
            tx.execute(
                "UPDATE messages SET route_id = ? WHERE id = ? AND route_id IS NULL",
                (ids.new_route_id("M"), row["id"]),
            )
            return
        except sqlite3.IntegrityError:
            continue
