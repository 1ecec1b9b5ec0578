"""``admin sessions revoke`` and ``admin invite revoke``: the operator replaces sign-in credentials
(docs/server.md, "Replacing credentials minted before the secrets fix")."""

from __future__ import annotations

from clickclack_server.db import Database, Tx
from clickclack_server.store import sessions as session_store
from clickclack_server.store import users as user_store
from tests.cli.conftest import Booted


def _seed(booted: Booted) -> str:
    """Two sessions for the owner, one for a second user; returns the second user's id."""
    database = Database(booted.data.db_path, readers=1)
    try:

        def seed(tx: Tx) -> str:
            other = user_store.create_user(tx, display_name="Other", email="other@example.com")
            session_store.create_session(tx, booted.owner_id)
            session_store.create_session(tx, booted.owner_id)
            session_store.create_session(tx, other.id)
            return other.id

        return database.write_sync(seed)
    finally:
        database.close()


def _live_sessions(booted: Booted) -> list[object]:
    rows = booted.data.query("SELECT user_id FROM sessions WHERE revoked_at IS NULL ORDER BY id")
    return [row[0] for row in rows]


def test_sessions_revoke_all_ends_every_session_and_pending_magic_link(booted: Booted) -> None:
    _seed(booted)
    booted.data.ok("admin", "magic-link", "create", "--email", "new@example.com")
    assert booted.data.ok("admin", "sessions", "revoke", "--all") == (
        "revoked 3 sessions, 1 magic links"
    )
    assert _live_sessions(booted) == []
    pending = booted.data.scalar(
        "SELECT count(*) FROM auth_magic_links WHERE expires_at > strftime('%Y-%m-%dT%H:%M:%f', 'now')"
    )
    assert pending == 0
    assert booted.data.ok("admin", "sessions", "revoke", "--all") == (
        "revoked 0 sessions, 0 magic links"
    )


def test_sessions_revoke_user_ends_only_theirs(booted: Booted) -> None:
    other = _seed(booted)
    assert booted.data.ok("admin", "sessions", "revoke", "--user", "other@example.com") == (
        "revoked 1 sessions, 0 magic links"
    )
    assert _live_sessions(booted) == [booted.owner_id, booted.owner_id]
    assert other not in _live_sessions(booted)


def test_sessions_revoke_needs_exactly_one_target(booted: Booted) -> None:
    assert booted.data.fails(2, "admin", "sessions", "revoke") == (
        "give exactly one of --all or --user"
    )
    assert booted.data.fails(
        2, "admin", "sessions", "revoke", "--all", "--user", booted.owner_id
    ) == ("give exactly one of --all or --user")
    assert "no user" in booted.data.fails(4, "admin", "sessions", "revoke", "--user", "nobody@x.io")


def test_invite_revoke_deletes_unaccepted_invites(booted: Booted) -> None:
    booted.data.ok("admin", "invite", "create", "--workspace", "clickclack")
    booted.data.ok("admin", "invite", "create", "--workspace", "clickclack")
    assert booted.data.fails(2, "admin", "invite", "revoke").startswith("--all is required")
    assert booted.data.ok("admin", "invite", "revoke", "--all") == "revoked 2 invites"
    assert booted.data.scalar("SELECT count(*) FROM invites") == 0
