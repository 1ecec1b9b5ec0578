"""Member moderation: timeouts, blocks, notes and role changes by workspace managers (3.5).

Only active managers (owners and moderators who are neither blocked nor timed out) may read the
moderation roster or change it. A manager acts only on members ranked below them (owner >
bot > moderator > member > guest), never on themselves and never on an owner, and can assign
only roles ranked below their own (``owner`` is never assignable here: ownership moves through
``transfer-ownership``). Every change writes a private ``member.moderation_updated`` event for
the target and the active managers, and clears the auth memo: roles and blocks change what a
credential may do at once.
"""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta, timezone

import attrs

from clickclack_sdk import Event, MemberModeration, MemberModerationUpdatedPayload
from clickclack_server import ids
from clickclack_server.db import Tx
from clickclack_server.errors import Forbidden, Invalid, NotFound
from clickclack_server.store.access import (
    MANAGER_ROLES,
    member_role,
    require_member,
    require_not_restricted,
)
from clickclack_server.store.events import insert_event
from clickclack_server.store.messages import GUEST_POST_BUDGET, guest_posts_today
from clickclack_server.store.rows import USER_COLUMNS, user_from_row
from clickclack_server.store.workspaces import ROLE_ORDER

RESTRICTED = "moderation restriction"
ROLE_RANK = {"owner": 5, "bot": 4, "moderator": 3, "member": 2, "guest": 1}
"""Who may act on whom: a manager acts only on lower ranks and assigns only lower ranks."""
ACCEPTED_ROLES = frozenset({"owner", "moderator", "member", "guest"})
"""Role names a patch may carry (``bot`` is never assignable; ``owner`` is refused later)."""
MAX_TIMEOUT_MINUTES = 100 * 365 * 24 * 60
"""A century: far beyond any real timeout, well inside what every timestamp type can hold."""
MINUTE_NS = 60 * 1_000_000_000

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_ROLE_SORT = (
    "CASE m.role " + " ".join(f"WHEN '{r}' THEN {n}" for r, n in ROLE_ORDER.items()) + " END"
)
_ROSTER_SQL = (
    f"SELECT {USER_COLUMNS}, m.role, mm.timeout_until, mm.blocked_at, mm.moderation_note, "
    "mm.moderation_by, mm.moderation_at "
    "FROM workspace_members m JOIN users u ON u.id = m.user_id "
    "LEFT JOIN workspace_member_moderation mm "
    "ON mm.workspace_id = m.workspace_id AND mm.user_id = m.user_id "
    "WHERE m.workspace_id = ?"
)


@attrs.frozen(kw_only=True)
class ModerationPatch:
    """What a PATCH asks for; ``None`` (and ``""`` for ``role``) leaves a field unchanged."""

    role: str = ""
    timeout_until: str | None = None
    timeout_minutes: int | None = None
    clear_timeout: bool = False
    blocked: bool | None = None
    moderation_note: str | None = None


def _require_active_manager(tx: Tx, workspace_id: str, user_id: str) -> str:
    """The caller's role: an owner or moderator who may write (else 403 restriction)."""
    role = require_member(tx, workspace_id, user_id)
    if role not in MANAGER_ROLES:
        raise Forbidden(RESTRICTED)
    require_not_restricted(tx, workspace_id, user_id)
    return role


def _member_from_row(tx: Tx, workspace_id: str, row: sqlite3.Row) -> MemberModeration:
    remaining = limit = 0
    if row["role"] == "guest":
        limit = GUEST_POST_BUDGET
        remaining = max(0, limit - guest_posts_today(tx, workspace_id, row["id"]))
    return MemberModeration(
        workspace_id=workspace_id,
        user=user_from_row(row),
        role=row["role"],
        posts_remaining=remaining,
        post_limit=limit,
        timeout_until=ids.opt_wire_time(row["timeout_until"]),
        blocked_at=ids.opt_wire_time(row["blocked_at"]),
        moderation_note=row["moderation_note"] or None,
        moderation_by=row["moderation_by"] or None,
        moderation_at=ids.opt_wire_time(row["moderation_at"]),
    )


def list_members(tx: Tx, workspace_id: str, user_id: str) -> list[MemberModeration]:
    """Every member with their moderation state, ordered like the member list (role, name)."""
    _require_active_manager(tx, workspace_id, user_id)
    rows = tx.all(
        f"{_ROSTER_SQL} ORDER BY {_ROLE_SORT}, lower(u.display_name), u.id", (workspace_id,)
    )
    return [_member_from_row(tx, workspace_id, row) for row in rows]


def _get_member(tx: Tx, workspace_id: str, user_id: str) -> MemberModeration:
    row = tx.one(f"{_ROSTER_SQL} AND m.user_id = ?", (workspace_id, user_id))
    if row is None:
        raise NotFound()
    return _member_from_row(tx, workspace_id, row)


def go_quote(text: str) -> str:
    """``text`` as Go's ``%q`` renders it (the reference server's error texts use it)."""
    out = ['"']
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in named:
            out.append(named[char])
        elif char == "\v":
            out.append("\\v")
        elif char.isprintable():
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def parse_timestamp(text: str) -> str:
    """An RFC 3339 timestamp (any offset, any fraction) in storage form (UTC, fixed width)."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise Invalid("timeout_until must be an RFC 3339 timestamp")
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    fraction = ((match.group(7) or "") + "000000000")[:9]
    offset = timedelta(0)
    if match.group(8) != "Z":
        offset_hours, offset_minutes = int(match.group(10)), int(match.group(11))
        if offset_hours > 23 or offset_minutes > 59:
            raise Invalid("timeout_until must be an RFC 3339 timestamp")
        offset = timedelta(hours=offset_hours, minutes=offset_minutes)
        if match.group(9) == "-":
            offset = -offset
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset))
        utc = local.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Invalid("timeout_until must be an RFC 3339 timestamp") from None
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{fraction}Z"
    )


def _new_timeout(patch: ModerationPatch) -> str | None:
    """The timeout end a patch sets (storage form), or None when it sets none."""
    minutes = patch.timeout_minutes
    if minutes is not None and not 0 <= minutes <= MAX_TIMEOUT_MINUTES:
        raise Invalid(f"timeout_minutes must be between 0 and {MAX_TIMEOUT_MINUTES}")
    if patch.timeout_until is not None and patch.timeout_until.strip():
        return parse_timestamp(patch.timeout_until.strip())
    if minutes:
        return ids.format_ns(time.time_ns() + minutes * MINUTE_NS)
    return None


def _check_role(role: str, actor_role: str) -> None:
    if role not in ACCEPTED_ROLES:
        raise Invalid(f"invalid workspace role {go_quote(role)}")
    if role == "owner":
        raise Invalid("owner role cannot be assigned here")
    if ROLE_RANK[role] >= ROLE_RANK[actor_role]:
        raise Invalid("role is too high for this moderator")


def _recipients(tx: Tx, workspace_id: str, target_id: str) -> set[str]:
    """The target and every active manager (blocked or timed-out managers are left out)."""
    rows = tx.all(
        "SELECT m.user_id FROM workspace_members m LEFT JOIN workspace_member_moderation mm "
        "ON mm.workspace_id = m.workspace_id AND mm.user_id = m.user_id "
        "WHERE m.workspace_id = ? AND m.role IN ('owner', 'moderator') "
        "AND mm.blocked_at IS NULL AND (mm.timeout_until IS NULL OR mm.timeout_until <= ?)",
        (workspace_id, ids.now()),
    )
    return {target_id, *(row[0] for row in rows)}


def update_member(
    tx: Tx, workspace_id: str, actor_id: str, target_id: str, patch: ModerationPatch
) -> tuple[MemberModeration, Event]:
    """Apply ``patch`` to ``target_id`` as ``actor_id``; answers the new state and its event.

    Checks run in the reference server's order: the caller (member, active manager), then the
    target (not the caller, a member, not an owner, ranked below the caller), then the values.
    ``clear_timeout`` wins over a timeout set in the same request; ``blocked: false`` unblocks.
    """
    actor_role = _require_active_manager(tx, workspace_id, actor_id)
    if target_id == actor_id:
        raise Invalid("moderators cannot moderate themselves")
    target_role = member_role(tx, workspace_id, target_id)
    if target_role is None:
        raise NotFound()
    if target_role == "owner":
        raise Invalid("owners cannot be moderated")
    if ROLE_RANK.get(target_role, 0) >= ROLE_RANK[actor_role]:
        raise Invalid("target role is too high for this moderator")
    if patch.role:
        _check_role(patch.role, actor_role)
    timeout = _new_timeout(patch)

    now = ids.now()
    if patch.role:
        tx.execute(
            "UPDATE workspace_members SET role = ? WHERE workspace_id = ? AND user_id = ?",
            (patch.role, workspace_id, target_id),
        )
        target_role = patch.role
    current = tx.one(
        "SELECT timeout_until, blocked_at, moderation_note FROM workspace_member_moderation "
        "WHERE workspace_id = ? AND user_id = ?",
        (workspace_id, target_id),
    )
    timeout_until = current["timeout_until"] if current else None
    blocked_at = current["blocked_at"] if current else None
    note = current["moderation_note"] if current else ""
    if timeout is not None:
        timeout_until = timeout
    if patch.clear_timeout:
        timeout_until = None
    if patch.blocked is not None:
        blocked_at = now if patch.blocked else None
    if patch.moderation_note is not None:
        note = patch.moderation_note
    tx.execute(
        "INSERT INTO workspace_member_moderation (workspace_id, user_id, timeout_until, "
        "blocked_at, moderation_note, moderation_by, moderation_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (workspace_id, user_id) DO UPDATE SET timeout_until = excluded.timeout_until, "
        "blocked_at = excluded.blocked_at, moderation_note = excluded.moderation_note, "
        "moderation_by = excluded.moderation_by, moderation_at = excluded.moderation_at",
        (workspace_id, target_id, timeout_until, blocked_at, note, actor_id, now),
    )
    tx.mark_changed("auth")
    event = insert_event(
        tx,
        workspace_id=workspace_id,
        type="member.moderation_updated",
        payload=MemberModerationUpdatedPayload(user_id=target_id, role=target_role),
        recipients=_recipients(tx, workspace_id, target_id),
    )
    return _get_member(tx, workspace_id, target_id), event
