"""Session tokens (``sst_``): 30-day bearer/cookie credentials stored as SHA-256 (protocol 2.2)."""

from __future__ import annotations

import time

from clickclack_sdk import Session
from clickclack_server import ids
from clickclack_server.db import Tx

SESSION_LIFETIME_NS = 30 * 24 * 3600 * 1_000_000_000


def create_session(tx: Tx, user_id: str) -> Session:
    session_id = ids.new_id("ses")
    token = ids.new_secret("sst")
    now_ns = time.time_ns()
    created, expires = ids.format_ns(now_ns), ids.format_ns(now_ns + SESSION_LIFETIME_NS)
    tx.execute(
        "INSERT INTO sessions (id, token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        (session_id, ids.hash_token(token), user_id, created, expires),
    )
    return Session(
        id=session_id,
        token=token,
        user_id=user_id,
        created_at=ids.wire_time(created),
        expires_at=ids.wire_time(expires),
    )


def revoke_session(tx: Tx, token: str) -> bool:
    """Revoke the session behind ``token``; False when it was unknown or already revoked."""
    cursor = tx.execute(
        "UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
        (ids.now(), ids.hash_token(token)),
    )
    tx.mark_changed("auth")
    return cursor.rowcount == 1


def revoke_sessions(tx: Tx, tokens: list[str]) -> int:
    """Revoke every live session among ``tokens`` (logout); unknown ones, such as bot tokens,
    are ignored. Returns how many sessions this call ended."""
    ended = 0
    for token in tokens:
        if token.strip():
            ended += revoke_session(tx, token)
    return ended


def revoke_all_sessions(tx: Tx, *, user_id: str | None = None) -> int:
    """Revoke every live session (of ``user_id`` when given); returns how many were revoked.

    The operator's answer to leaked or guessable session tokens: everyone signs in again.
    """
    now = ids.now()
    where = "revoked_at IS NULL AND expires_at > ?"
    params: tuple[str, ...] = (now,)
    if user_id is not None:
        where += " AND user_id = ?"
        params += (user_id,)
    cursor = tx.execute(f"UPDATE sessions SET revoked_at = ? WHERE {where}", (now, *params))
    tx.mark_changed("auth")
    return cursor.rowcount
