"""The durable event log as realtime reads it: pages, tails, visibility facts, credential
rechecks for open sockets, ephemeral target checks and retention (protocol 4.5-4.8).

Visibility is decided in memory by :func:`clickclack_server.realtime.visibility.may_see`; this
module only loads the facts it needs, so the socket, the replay and the HTTP pull share one rule.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence

import attrs
import orjson

from clickclack_server import ids
from clickclack_server.auth import Actor
from clickclack_server.db import Tx
from clickclack_server.errors import Forbidden, Invalid, NotFound
from clickclack_server.realtime.closes import (
    ACCESS_REVOKED,
    BOT_TOKEN_REVOKED,
    SESSION_REVOKED,
    Close,
)
from clickclack_server.realtime.frames import LogEvent
from clickclack_server.realtime.limits import REPLAY_PAGE
from clickclack_server.realtime.visibility import (
    GUEST_CHANNEL,
    GUEST_ROLE,
    Audience,
    WorkspaceAccess,
    may_see,
)
from clickclack_server.store.access import require_member, require_not_restricted

_COLUMNS = "id, cursor, type, workspace_id, channel_id, seq, created_at, payload_json, is_private"
_CHUNK = 500
CHANNEL_EVENT_TYPES = frozenset({"channel.created", "channel.updated", "channel.deleted"})


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _marks(values: Sequence[str]) -> str:
    return ",".join("?" * len(values))


# Reading the log.


def _log_events(tx: Tx, rows: list[sqlite3.Row]) -> list[LogEvent]:
    private = [row["id"] for row in rows if row["is_private"]]
    recipients: dict[str, set[str]] = {event_id: set() for event_id in private}
    for chunk in _chunks(private):
        for event_id, user_id in tx.all(
            f"SELECT event_id, user_id FROM event_recipients WHERE event_id IN ({_marks(chunk)})",
            chunk,
        ):
            recipients[event_id].add(user_id)
    return [
        LogEvent.build(
            id=row["id"],
            cursor=row["cursor"],
            type=row["type"],
            workspace_id=row["workspace_id"],
            channel_id=row["channel_id"],
            seq=row["seq"],
            created_at=row["created_at"],
            payload=orjson.loads(row["payload_json"]),
            recipients=recipients.get(row["id"]) if row["is_private"] else None,
        )
        for row in rows
    ]


def read_log(
    tx: Tx, workspace_id: str, after: str, *, limit: int, upto: str | None = None
) -> list[LogEvent]:
    """Events of the workspace with ``after < cursor [<= upto]``, oldest first."""
    sql = f"SELECT {_COLUMNS} FROM events WHERE workspace_id = ? AND cursor > ?"
    params: list[object] = [workspace_id, after]
    if upto is not None:
        sql += " AND cursor <= ?"
        params.append(upto)
    params.append(limit)
    return _log_events(tx, tx.all(sql + " ORDER BY cursor LIMIT ?", params))


def _read_log_backward(tx: Tx, workspace_id: str, before: str | None, limit: int) -> list[LogEvent]:
    """Events older than ``before`` (``None``: the newest), newest first."""
    sql = f"SELECT {_COLUMNS} FROM events WHERE workspace_id = ?"
    params: list[object] = [workspace_id]
    if before is not None:
        sql += " AND cursor < ?"
        params.append(before)
    params.append(limit)
    return _log_events(tx, tx.all(sql + " ORDER BY cursor DESC LIMIT ?", params))


def tail_if_missing(tx: Tx, workspace_id: str, cursor: str) -> str | None:
    """``None`` when ``cursor`` is still logged, else the log's newest cursor (the hub's
    check that its ring was not pruned behind its back)."""
    if tx.one("SELECT 1 FROM events WHERE workspace_id = ? AND cursor = ?", (workspace_id, cursor)):
        return None
    return newest_cursor(tx, workspace_id)


def newest_cursor(tx: Tx, workspace_id: str) -> str:
    """The newest retained cursor of the workspace, "" when its log is empty."""
    cursor: str | None = tx.scalar(
        "SELECT cursor FROM events WHERE workspace_id = ? ORDER BY cursor DESC LIMIT 1",
        (workspace_id,),
    )
    return cursor or ""


# Visibility facts.


def _roles(tx: Tx, workspace_id: str, user_id: str | None) -> dict[str, str]:
    if user_id is None:
        rows = tx.all(
            "SELECT user_id, role FROM workspace_members WHERE workspace_id = ?", (workspace_id,)
        )
    else:
        rows = tx.all(
            "SELECT user_id, role FROM workspace_members WHERE workspace_id = ? AND user_id = ?",
            (workspace_id, user_id),
        )
    return {row[0]: row[1] for row in rows}


def _channels(tx: Tx, workspace_id: str) -> dict[str, str]:
    return {
        row[0]: row[1]
        for row in tx.all("SELECT id, name FROM channels WHERE workspace_id = ?", (workspace_id,))
    }


def _conversations(
    tx: Tx, workspace_id: str, conversation_ids: Iterable[str]
) -> dict[str, frozenset[str]]:
    wanted = sorted(set(conversation_ids))
    members: dict[str, set[str]] = {conversation_id: set() for conversation_id in wanted}
    for chunk in _chunks(wanted):
        for conversation_id, user_id in tx.all(
            "SELECT m.conversation_id, m.user_id FROM direct_conversation_members m "
            "JOIN direct_conversations c ON c.id = m.conversation_id "
            f"WHERE c.workspace_id = ? AND m.conversation_id IN ({_marks(chunk)})",
            [workspace_id, *chunk],
        ):
            members[conversation_id].add(user_id)
    return {conversation_id: frozenset(users) for conversation_id, users in members.items()}


def load_access(
    tx: Tx,
    workspace_id: str,
    *,
    viewer: str | None = None,
    conversation_ids: Iterable[str] = (),
) -> WorkspaceAccess:
    """A fresh snapshot: roles of ``viewer`` (every member when ``None``), every channel, and
    the member sets of ``conversation_ids``."""
    return WorkspaceAccess(
        workspace_id=workspace_id,
        roles=_roles(tx, workspace_id, viewer),
        channels=_channels(tx, workspace_id),
        conversations=_conversations(tx, workspace_id, conversation_ids),
    )


def complete_access(
    tx: Tx,
    access: WorkspaceAccess,
    audiences: Iterable[Audience],
    *,
    reload_channels: bool = False,
) -> WorkspaceAccess:
    """``access`` extended with whatever ``audiences`` need that it lacks (itself if nothing)."""
    missing_conversations = set()
    channels_needed = reload_channels
    for audience in audiences:
        if audience.conversation_id is not None and (
            audience.conversation_id not in access.conversations
        ):
            missing_conversations.add(audience.conversation_id)
        if audience.channel_id is not None and audience.channel_id not in access.channels:
            channels_needed = True
    if not missing_conversations and not channels_needed:
        return access
    return attrs.evolve(
        access,
        channels=_channels(tx, access.workspace_id) if channels_needed else access.channels,
        conversations={
            **access.conversations,
            **_conversations(tx, access.workspace_id, missing_conversations),
        },
    )


# The hub's shared reads (one per publication batch and workspace, whatever the socket count).


@attrs.frozen
class HubRead:
    """What the hub learnt in one read: the log tail when it started watching, new events and
    an access snapshot covering all of them."""

    base: str | None
    events: list[LogEvent]
    access: WorkspaceAccess


def hub_read(
    tx: Tx,
    workspace_id: str,
    after: str | None,
    *,
    limit: int,
    access: WorkspaceAccess | None,
    refresh: bool,
) -> HubRead:
    """New events after ``after`` (``None``: only the current tail) and the snapshot to judge
    them; ``refresh`` reloads the whole snapshot (memberships changed)."""
    if after is None:
        base: str | None = newest_cursor(tx, workspace_id)
        events: list[LogEvent] = []
    else:
        base = None
        events = read_log(tx, workspace_id, after, limit=limit)
    access = complete_access(
        tx,
        _hub_snapshot(tx, workspace_id, access, refresh=refresh),
        (event.audience for event in events),
        reload_channels=any(event.type in CHANNEL_EVENT_TYPES for event in events),
    )
    return HubRead(base=base, events=events, access=access)


def hub_access(
    tx: Tx, workspace_id: str, access: WorkspaceAccess | None, audience: Audience, *, refresh: bool
) -> WorkspaceAccess:
    """The hub's snapshot made fresh enough to judge ``audience`` (an ephemeral event)."""
    return complete_access(
        tx, _hub_snapshot(tx, workspace_id, access, refresh=refresh), (audience,)
    )


def _hub_snapshot(
    tx: Tx, workspace_id: str, access: WorkspaceAccess | None, *, refresh: bool
) -> WorkspaceAccess:
    """``access`` as is, or reloaded whole (every member, the conversations it knew)."""
    if access is not None and not refresh:
        return access
    known = access.conversations.keys() if access is not None else ()
    return load_access(tx, workspace_id, conversation_ids=known)


# Replay for one socket.


@attrs.frozen
class ReplayStart:
    """Facts a catch-up checks before sending anything (protocol 4.6 step 2)."""

    known: bool
    tail: str
    backlog: int
    after_visible: bool


def replay_start(
    tx: Tx, workspace_id: str, viewer: str, after: str, *, budget: int, check_cursor: bool
) -> ReplayStart:
    """The log tail, how many events lie in ``(after, tail]`` (counted up to ``budget + 1``)
    and, with ``check_cursor``, whether ``after`` is a retained cursor the viewer may see."""
    tail = newest_cursor(tx, workspace_id)
    backlog = tx.scalar(
        "SELECT count(*) FROM (SELECT 1 FROM events WHERE workspace_id = ? AND cursor > ? "
        "AND cursor <= ? LIMIT ?)",
        (workspace_id, after, tail, budget + 1),
    )
    known = visible = True
    if check_cursor and after:
        rows = tx.all(
            f"SELECT {_COLUMNS} FROM events WHERE workspace_id = ? AND cursor = ?",
            (workspace_id, after),
        )
        known = bool(rows)
        visible = False
        if rows:
            [event] = _log_events(tx, rows)
            access = complete_access(
                tx, load_access(tx, workspace_id, viewer=viewer), [event.audience]
            )
            visible = may_see(viewer, event.audience, access)
    return ReplayStart(known=known, tail=tail, backlog=int(backlog), after_visible=visible)


@attrs.frozen
class ReplayPage:
    """Raw log events (visible or not, so the reader's position moves past all of them) and
    the viewer's snapshot to filter them with."""

    events: list[LogEvent]
    access: WorkspaceAccess


def replay_page(
    tx: Tx, workspace_id: str, viewer: str, after: str, upto: str, *, limit: int
) -> ReplayPage:
    events = read_log(tx, workspace_id, after, upto=upto, limit=limit)
    access = complete_access(
        tx,
        load_access(tx, workspace_id, viewer=viewer),
        (event.audience for event in events),
    )
    return ReplayPage(events=events, access=access)


# HTTP pull (protocol 4.7).


def _page_sizes(first: int) -> Iterator[int]:
    """Raw page sizes for a filtered scan: start near what is wanted, grow to a full page
    (most events are visible to most readers, so a small first page usually suffices)."""
    size = max(16, min(first, REPLAY_PAGE))
    while True:
        yield size
        size = min(size * 4, REPLAY_PAGE)


def _visible_tail(tx: Tx, workspace_id: str, viewer: str, access: WorkspaceAccess) -> str:
    before: str | None = None
    sizes = _page_sizes(1)
    while True:
        events = _read_log_backward(tx, workspace_id, before, next(sizes))
        if not events:
            return ""
        access = complete_access(tx, access, (event.audience for event in events))
        for event in events:
            if may_see(viewer, event.audience, access):
                return event.cursor
        before = events[-1].cursor


@attrs.frozen
class Pull:
    """A page of visible events and, when asked for, the newest visible cursor."""

    events: list[LogEvent]
    tail_cursor: str | None


def pull(
    tx: Tx, workspace_id: str, viewer: str, *, after: str, limit: int, include_tail: bool
) -> Pull:
    """Up to ``limit`` events after ``after`` that ``viewer`` may see, oldest first; the tail
    is computed first (the pull endpoint's ``include_tail``)."""
    require_member(tx, workspace_id, viewer)
    access = load_access(tx, workspace_id, viewer=viewer)
    tail = _visible_tail(tx, workspace_id, viewer, access) if include_tail else None
    found: list[LogEvent] = []
    position = after
    for size in _page_sizes(limit):
        if len(found) >= limit:
            break
        events = read_log(tx, workspace_id, position, limit=size)
        if not events:
            break
        access = complete_access(tx, access, (event.audience for event in events))
        for event in events:
            if may_see(viewer, event.audience, access):
                found.append(event)
                if len(found) == limit:
                    break
        position = events[-1].cursor
    return Pull(events=found, tail_cursor=tail)


# Credential rechecks for open sockets (protocol 2.2).


def _existing(tx: Tx, sql: str, values: Sequence[str], *extra: object) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(set(values))):
        found.update(row[0] for row in tx.all(sql.format(marks=_marks(chunk)), [*extra, *chunk]))
    return found


def check_credentials(tx: Tx, sockets: Sequence[tuple[Actor, str]]) -> list[Close | None]:
    """For each (credential, workspace) of an open socket: ``None`` while still valid, else
    the close it must get. Runs a handful of batched queries whatever the number of sockets."""
    now = ids.now()
    user_ids = [actor.user_id for actor, _ in sockets]
    members: set[tuple[str, str]] = set()
    for chunk in _chunks(sorted(set(user_ids))):
        members.update(
            (row[0], row[1])
            for row in tx.all(
                "SELECT m.workspace_id, m.user_id FROM workspace_members m "
                "JOIN users u ON u.id = m.user_id AND u.deleted_at IS NULL "
                f"WHERE m.user_id IN ({_marks(chunk)})",
                chunk,
            )
        )
    sessions = _existing(
        tx,
        "SELECT id FROM sessions WHERE revoked_at IS NULL AND expires_at > ? AND id IN ({marks})",
        [actor.session_id for actor, _ in sockets if actor.session_id],
        now,
    )
    tokens = _existing(
        tx,
        "SELECT t.id FROM bot_tokens t WHERE t.revoked_at IS NULL "
        "AND EXISTS (SELECT 1 FROM workspace_members m WHERE m.workspace_id = t.workspace_id "
        "AND m.user_id = t.bot_user_id) AND (t.owner_user_id IS NULL OR EXISTS (SELECT 1 FROM "
        "workspace_members o WHERE o.workspace_id = t.workspace_id AND o.user_id = t.owner_user_id)) "
        "AND t.id IN ({marks})",
        [actor.bot_token_id for actor, _ in sockets if actor.bot_token_id],
    )
    verdicts: list[Close | None] = []
    for actor, workspace_id in sockets:
        if (workspace_id, actor.user_id) not in members:
            verdicts.append(ACCESS_REVOKED)
        elif actor.session_id is not None and actor.session_id not in sessions:
            verdicts.append(SESSION_REVOKED)
        elif actor.bot_token_id is not None and actor.bot_token_id not in tokens:
            verdicts.append(BOT_TOKEN_REVOKED)
        else:
            verdicts.append(None)
    return verdicts


# Ephemeral publications (protocol 4.7).


def check_ephemeral_target(
    tx: Tx,
    workspace_id: str,
    user_id: str,
    *,
    channel_id: str | None,
    conversation_id: str | None,
) -> None:
    """The caller may publish to this target: a writing member who can see the channel or is
    a (non-guest) member of the conversation; 403 for an inaccessible or foreign target."""
    role = require_member(tx, workspace_id, user_id)
    require_not_restricted(tx, workspace_id, user_id)
    if channel_id is not None:
        row = tx.one("SELECT workspace_id, name FROM channels WHERE id = ?", (channel_id,))
        if (
            row is None
            or row["workspace_id"] != workspace_id
            or (role == GUEST_ROLE and row["name"] != GUEST_CHANNEL)
        ):
            raise Forbidden("channel is not accessible")
    if conversation_id is not None and (
        role == GUEST_ROLE
        or not tx.one(
            "SELECT 1 FROM direct_conversation_members m JOIN direct_conversations c "
            "ON c.id = m.conversation_id WHERE c.id = ? AND c.workspace_id = ? AND m.user_id = ?",
            (conversation_id, workspace_id, user_id),
        )
    ):
        raise Forbidden("direct conversation is not accessible")


def is_member(tx: Tx, workspace_id: str, user_id: str) -> bool:
    return (
        tx.one(
            "SELECT 1 FROM workspace_members WHERE workspace_id = ? AND user_id = ?",
            (workspace_id, user_id),
        )
        is not None
    )


# Retention (protocol 4.8).


@attrs.frozen
class PruneBounds:
    """What a prune deletes: events created before ``created_before`` and/or with a cursor
    before ``cursor_before`` (both exclusive). ``nothing`` when no event qualifies."""

    created_before: str | None = None
    cursor_before: str | None = None
    nothing: bool = False


def prune_bounds(
    tx: Tx,
    workspace_id: str,
    *,
    older_than_days: int | None = None,
    before: str | None = None,
    keep_latest: int | None = None,
    now_ns: int | None = None,
) -> PruneBounds:
    """Fix a prune's cutoffs once (``older_than_days`` ago or the RFC 3339 instant
    ``before``; the newest ``keep_latest`` by cursor always stay), so that deleting in
    batches, each its own transaction, removes exactly what one statement would have."""
    if older_than_days is None and before is None and keep_latest is None:
        raise Invalid("one of --older-than-days, --before or --keep-latest is required")
    if older_than_days is not None and before is not None:
        raise Invalid("--older-than-days and --before are mutually exclusive")
    if older_than_days is not None and older_than_days < 0:
        raise Invalid("--older-than-days must not be negative")
    if keep_latest is not None and keep_latest < 0:
        raise Invalid("--keep-latest must not be negative")
    if not tx.one("SELECT 1 FROM workspaces WHERE id = ?", (workspace_id,)):
        raise NotFound()
    created_before: str | None = None
    if older_than_days is not None:
        now = time.time_ns() if now_ns is None else now_ns
        created_before = ids.format_ns(now - older_than_days * 86_400 * 1_000_000_000)
    elif before is not None:
        try:
            cutoff = ids.parse_rfc3339_ns(before)
        except ValueError:
            raise Invalid(f"invalid --before {before!r}; expected RFC 3339") from None
        created_before = ids.format_ns(cutoff)
    cursor_before: str | None = None
    if keep_latest:
        cursor_before = tx.scalar(
            "SELECT cursor FROM events WHERE workspace_id = ? ORDER BY cursor DESC LIMIT 1 OFFSET ?",
            (workspace_id, keep_latest - 1),
        )
        if cursor_before is None:
            return PruneBounds(nothing=True)
    return PruneBounds(created_before=created_before, cursor_before=cursor_before)


def prune_batch(tx: Tx, workspace_id: str, bounds: PruneBounds, *, limit: int | None = None) -> int:
    """Delete up to ``limit`` (all when ``None``) of the oldest events within ``bounds``;
    recipient rows cascade. Returns how many went (fewer than ``limit``: done)."""
    if bounds.nothing:
        return 0
    where = ["workspace_id = ?"]
    params: list[object] = [workspace_id]
    if bounds.created_before is not None:
        where.append("created_at < ?")
        params.append(bounds.created_before)
    if bounds.cursor_before is not None:
        where.append("cursor < ?")
        params.append(bounds.cursor_before)
    condition = " AND ".join(where)
    if limit is None:
        return tx.execute(f"DELETE FROM events WHERE {condition}", params).rowcount
    return tx.execute(
        f"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE {condition} "
        "ORDER BY cursor LIMIT ?)",
        [*params, limit],
    ).rowcount


def prune_events(
    tx: Tx,
    workspace_id: str,
    *,
    older_than_days: int | None = None,
    before: str | None = None,
    keep_latest: int | None = None,
    now_ns: int | None = None,
) -> int:
    """Delete the workspace's events created before the cutoff (``older_than_days`` ago, or
    the RFC 3339 instant ``before``), except the newest ``keep_latest`` by cursor, in one
    statement; recipient rows cascade. With only ``keep_latest`` every older event goes.
    Returns how many went. (``clickclack admin events prune`` deletes in batches instead.)"""
    bounds = prune_bounds(
        tx,
        workspace_id,
        older_than_days=older_than_days,
        before=before,
        keep_latest=keep_latest,
        now_ns=now_ns,
    )
    return prune_batch(tx, workspace_id, bounds)
