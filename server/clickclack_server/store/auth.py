"""Magic links (protocol 2.3): minting a one-time ``mgt_`` token and trading it for a session.

Only the SHA-256 of a token is stored. Minting is shared by ``POST /api/auth/magic/request``
(dev servers) and the ``clickclack admin magic-link create`` command (production path).
"""

from __future__ import annotations

import time

from clickclack_sdk import MagicLink, Session, User
from clickclack_server import ids
from clickclack_server.db import Tx
from clickclack_server.errors import Invalid, NotFound
from clickclack_server.store.rows import get_user
from clickclack_server.store.sessions import create_session
from clickclack_server.store.users import create_user, find_user_by_email

MAGIC_LINK_LIFETIME_NS = 15 * 60 * 1_000_000_000


def create_magic_link(tx: Tx, *, email: str, display_name: str = "") -> tuple[MagicLink, str]:
    """A new magic link for ``email`` (trimmed, lower-cased) and its raw ``mgt_`` token."""
    email = email.strip().lower()
    if not email:
        raise Invalid("email is required")
    link_id = ids.new_id("mln")
    token = ids.new_secret("mgt")
    now_ns = time.time_ns()
    created = ids.format_ns(now_ns)
    expires = ids.format_ns(now_ns + MAGIC_LINK_LIFETIME_NS)
    display_name = display_name.strip()
    tx.execute(
        "INSERT INTO auth_magic_links (id, token_hash, email, display_name, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (link_id, ids.hash_token(token), email, display_name, created, expires),
    )
    link = MagicLink(
        id=link_id,
        email=email,
        display_name=display_name,
        created_at=ids.wire_time(created),
        expires_at=ids.wire_time(expires),
    )
    return link, token


def consume_magic_link(tx: Tx, token: str) -> tuple[User, Session]:
    """Spend a magic link once: resolve or create the human user and open a 30-day session.

    Unknown token -> 400 ``sql: no rows in result set``; spent or expired links answer 400 with
    their own text. No workspace membership is added here.
    """
    row = tx.one(
        "SELECT id, email, display_name, expires_at, used_at FROM auth_magic_links "
        "WHERE token_hash = ?",
        (ids.hash_token(token),),
    )
    if row is None:
        raise NotFound()
    if row["used_at"] is not None:
        raise Invalid("magic link already used")
    now = ids.now()
    if row["expires_at"] <= now:
        raise Invalid("magic link expired")
    user = find_user_by_email(tx, row["email"])
    if user is None:
        user = create_user(
            tx, display_name=row["display_name"].strip() or row["email"], email=row["email"]
        )
    elif user.deleted_at is not None:
        raise Invalid("this account cannot sign in")
    spent = tx.execute(
        "UPDATE auth_magic_links SET used_at = ? WHERE id = ? AND used_at IS NULL",
        (now, row["id"]),
    )
    if spent.rowcount != 1:
        raise Invalid("magic link already used")
    session = create_session(tx, user.id)
    tx.mark_changed("auth")
    fresh = get_user(tx, user.id)
    assert fresh is not None
    return fresh, session


def expire_magic_links(tx: Tx) -> int:
    """End every unspent, unexpired magic link now; returns how many were ended."""
    now = ids.now()
    cursor = tx.execute(
        "UPDATE auth_magic_links SET expires_at = ? WHERE used_at IS NULL AND expires_at > ?",
        (now, now),
    )
    return cursor.rowcount
