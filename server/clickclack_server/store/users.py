"""Users, identities, memberships, and the first-run bootstrap."""

from __future__ import annotations

import attrs

from clickclack_sdk import User, Workspace
from clickclack_server import ids
from clickclack_server.db import Tx
from clickclack_server.errors import Invalid
from clickclack_server.store.rows import get_user
from clickclack_server.text import normalize_handle


def create_user(
    tx: Tx,
    *,
    display_name: str,
    email: str = "",
    kind: str = "human",
    handle: str = "",
    owner_user_id: str | None = None,
    avatar_url: str = "",
) -> User:
    user_id = ids.new_id("usr")
    handle = normalize_handle(handle)
    if handle and tx.one("SELECT 1 FROM users WHERE handle = ?", (handle,)):
        raise Invalid("handle is already taken")
    email = email.strip().lower()
    tx.execute(
        "INSERT INTO users (id, kind, owner_user_id, display_name, handle, avatar_url, email, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (user_id, kind, owner_user_id, display_name, handle, avatar_url, email, ids.now()),
    )
    if email and kind == "human":
        tx.execute(
            "INSERT INTO identities (id, user_id, provider, provider_subject, email, created_at) "
            "VALUES (?, ?, 'magic', ?, ?, ?)",
            (ids.new_id("idn"), user_id, email, email, ids.now()),
        )
    user = get_user(tx, user_id)
    assert user is not None
    return user


def find_user_by_email(tx: Tx, email: str) -> User | None:
    user_id = tx.scalar(
        "SELECT user_id FROM identities WHERE email = ? ORDER BY created_at LIMIT 1",
        (email.strip().lower(),),
    )
    if user_id is None:
        user_id = tx.scalar(
            "SELECT id FROM users WHERE email = ? AND kind = 'human' ORDER BY created_at LIMIT 1",
            (email.strip().lower(),),
        )
    return None if user_id is None else get_user(tx, user_id)


def add_member(tx: Tx, workspace_id: str, user_id: str, role: str) -> bool:
    """Add a membership; False when the user already was a member (role unchanged)."""
    cursor = tx.execute(
        "INSERT OR IGNORE INTO workspace_members (workspace_id, user_id, role, created_at) "
        "VALUES (?, ?, ?, ?)",
        (workspace_id, user_id, role, ids.now()),
    )
    tx.mark_changed("auth")
    return cursor.rowcount == 1


def insert_workspace(tx: Tx, *, name: str, slug: str) -> Workspace:
    from clickclack_server.store.rows import workspace_from_row

    workspace_id = ids.new_id("wsp")
    tx.execute(
        "INSERT INTO workspaces (id, route_id, name, slug, icon_url, created_at) VALUES (?, ?, ?, ?, '', ?)",
        (workspace_id, ids.new_route_id("T"), name, slug, ids.now()),
    )
    row = tx.one("SELECT * FROM workspaces WHERE id = ?", (workspace_id,))
    assert row is not None
    return workspace_from_row(row)


def insert_channel(tx: Tx, *, workspace_id: str, name: str, kind: str = "public") -> str:
    """Insert a bare channel row (no event); returns its id. Used by bootstrap paths."""
    channel_id = ids.new_id("chn")
    tx.execute(
        "INSERT INTO channels (id, route_id, workspace_id, name, kind, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (channel_id, ids.new_route_id("C"), workspace_id, name, kind, ids.now()),
    )
    return channel_id


@attrs.frozen
class BootstrapResult:
    user_id: str
    workspace_id: str
    channel_id: str
    created: bool


def bootstrap(
    tx: Tx, *, name: str, email: str = "", workspace_name: str = "ClickClack"
) -> BootstrapResult:
    """First user, workspace and ``#general`` when the database has no user yet (idempotent)."""
    first = tx.one("SELECT id FROM users ORDER BY created_at, id LIMIT 1")
    if first is not None:
        membership = tx.one(
            "SELECT m.workspace_id FROM workspace_members m JOIN workspaces w ON w.id = m.workspace_id "
            "WHERE m.user_id = ? ORDER BY w.created_at LIMIT 1",
            (first["id"],),
        )
        workspace_id = membership["workspace_id"] if membership else ""
        channel_id = (
            tx.scalar(
                "SELECT id FROM channels WHERE workspace_id = ? ORDER BY name = 'general' DESC, name LIMIT 1",
                (workspace_id,),
            )
            or ""
        )
        return BootstrapResult(first["id"], workspace_id, channel_id, False)
    user = create_user(tx, display_name=name, email=email)
    from clickclack_server.text import slugify

    workspace = insert_workspace(tx, name=workspace_name, slug=slugify(workspace_name))
    add_member(tx, workspace.id, user.id, "owner")
    channel_id = insert_channel(tx, workspace_id=workspace.id, name="general")
    return BootstrapResult(user.id, workspace.id, channel_id, True)
