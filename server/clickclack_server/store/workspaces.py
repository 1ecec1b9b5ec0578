"""Workspaces and their member lists (protocol 3.5)."""

from __future__ import annotations

import base64
import json
import re

from clickclack_sdk import (
    Event,
    MemberPage,
    OwnershipTransferredPayload,
    Workspace,
    WorkspaceMember,
    WorkspaceUpdatedPayload,
)
from clickclack_server import ids
from clickclack_server.db import Tx
from clickclack_server.errors import Forbidden, Invalid, NotFound
from clickclack_server.store.access import require_manager, require_member, require_owner
from clickclack_server.store.events import insert_event
from clickclack_server.store.rows import USER_COLUMNS, user_from_row, workspace_from_row
from clickclack_server.store.users import add_member, insert_workspace
from clickclack_server.text import slugify

RESERVED_SLUGS = frozenset({"clickclack", "guests"})
ROLE_ORDER = {"owner": 0, "moderator": 1, "member": 2, "bot": 3, "guest": 4}
_UPLOAD_URL = re.compile(r"^/api/uploads/(upl_[0-9a-z]{26})$")


def list_for_user(tx: Tx, user_id: str, only_workspace: str | None = None) -> list[Workspace]:
    sql = (
        "SELECT w.*, m.role FROM workspaces w JOIN workspace_members m ON m.workspace_id = w.id "
        "WHERE m.user_id = ?"
    )
    params: list[str] = [user_id]
    if only_workspace is not None:
        sql += " AND w.id = ?"
        params.append(only_workspace)
    rows = tx.all(sql + " ORDER BY w.created_at, w.id", params)
    return [workspace_from_row(row, row["role"]) for row in rows]


def get_for_user(tx: Tx, workspace_id: str, user_id: str) -> Workspace:
    role = require_member(tx, workspace_id, user_id)
    row = tx.one("SELECT * FROM workspaces WHERE id = ?", (workspace_id,))
    assert row is not None
    return workspace_from_row(row, role)


def _check_slug(tx: Tx, slug: str, exclude: str | None = None) -> None:
    if not slug:
        raise Invalid("workspace slug is required")
    if slug in RESERVED_SLUGS:
        raise Invalid("workspace slug is reserved")
    if tx.one("SELECT 1 FROM workspaces WHERE slug = ? AND id IS NOT ?", (slug, exclude)):
        raise Invalid("workspace slug is already taken")


def create(tx: Tx, user_id: str, name: str, slug: str) -> Workspace:
    roles = {
        row[0] for row in tx.all("SELECT role FROM workspace_members WHERE user_id = ?", (user_id,))
    }
    if roles and roles <= {"guest"}:
        raise Forbidden("guests cannot create workspaces")
    name = name.strip() or "Untitled"
    if len(name.encode()) > 80:
        raise Invalid("workspace name must be at most 80 bytes")
    slug = slugify(slug.strip() or name)
    _check_slug(tx, slug)
    workspace = insert_workspace(tx, name=name, slug=slug)
    add_member(tx, workspace.id, user_id, "owner")
    from clickclack_server.store.users import insert_channel

    insert_channel(tx, workspace_id=workspace.id, name="general")
    return get_for_user(tx, workspace.id, user_id)


def update(
    tx: Tx,
    workspace_id: str,
    user_id: str,
    *,
    name: str | None,
    slug: str | None,
    icon_url: str | None,
) -> tuple[Workspace, Event]:
    require_manager(tx, workspace_id, user_id)
    if name is None and slug is None and icon_url is None:
        raise Invalid("at least one of name, slug or icon_url is required")
    if name is not None:
        name = name.strip()
        if not name:
            raise Invalid("workspace name is required")
        if len(name.encode()) > 80:
            raise Invalid("workspace name must be at most 80 bytes")
        tx.execute("UPDATE workspaces SET name = ? WHERE id = ?", (name, workspace_id))
    if slug is not None:
        slug = slugify(slug)
        _check_slug(tx, slug, exclude=workspace_id)
        tx.execute("UPDATE workspaces SET slug = ? WHERE id = ?", (slug, workspace_id))
    if icon_url is not None:
        icon_url = icon_url.strip()
        if icon_url:
            match = _UPLOAD_URL.match(icon_url)
            upload = (
                tx.one(
                    "SELECT content_type, workspace_id FROM uploads WHERE id = ?", (match.group(1),)
                )
                if match
                else None
            )
            if (
                upload is None
                or upload["workspace_id"] != workspace_id
                or not upload["content_type"].startswith("image/")
            ):
                raise Invalid("icon_url must be an image upload in this workspace")
        tx.execute("UPDATE workspaces SET icon_url = ? WHERE id = ?", (icon_url, workspace_id))
    event = insert_event(
        tx,
        workspace_id=workspace_id,
        type="workspace.updated",
        payload=WorkspaceUpdatedPayload(workspace_id=workspace_id),
    )
    return get_for_user(tx, workspace_id, user_id), event


def delete(tx: Tx, workspace_id: str, user_id: str) -> list[str]:
    """Delete the workspace and everything in it (rows cascade); returns the storage keys of
    its upload files, for the caller to remove once the deletion is committed."""
    require_owner(tx, workspace_id, user_id)
    keys = [
        str(row["storage_path"])
        for row in tx.all(
            "SELECT storage_path FROM uploads WHERE workspace_id = ?", (workspace_id,)
        )
    ]
    tx.execute("DELETE FROM bot_tokens WHERE workspace_id = ?", (workspace_id,))
    tx.execute("DELETE FROM workspaces WHERE id = ?", (workspace_id,))
    tx.mark_changed("auth")
    return keys


def transfer_ownership(
    tx: Tx, workspace_id: str, user_id: str, target_id: str
) -> tuple[Workspace, Event]:
    require_owner(tx, workspace_id, user_id)
    target = tx.one(
        "SELECT m.role, u.kind FROM workspace_members m JOIN users u ON u.id = m.user_id "
        "WHERE m.workspace_id = ? AND m.user_id = ?",
        (workspace_id, target_id.strip()),
    )
    if target is None:
        raise NotFound()
    if target["kind"] != "human" or target["role"] not in ("member", "moderator"):
        raise Invalid("new owner must be a human member or moderator")
    tx.execute(
        "UPDATE workspace_members SET role = 'moderator' WHERE workspace_id = ? AND user_id = ?",
        (workspace_id, user_id),
    )
    tx.execute(
        "UPDATE workspace_members SET role = 'owner' WHERE workspace_id = ? AND user_id = ?",
        (workspace_id, target_id.strip()),
    )
    event = insert_event(
        tx,
        workspace_id=workspace_id,
        type="workspace.ownership_transferred",
        payload=OwnershipTransferredPayload(
            workspace_id=workspace_id, new_owner_user_id=target_id.strip()
        ),
    )
    return get_for_user(tx, workspace_id, user_id), event


def _encode_cursor(values: list[object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> list[object]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, UnicodeDecodeError):
        raise Invalid("invalid cursor") from None
    if not isinstance(values, list) or len(values) != 3:
        raise Invalid("invalid cursor")
    return values


def list_members(
    tx: Tx,
    workspace_id: str,
    user_id: str,
    *,
    limit: int,
    cursor: str | None,
    query: str,
    role: str | None,
) -> MemberPage:
    """Members ordered by role, then name, then id; keyset pagination with an opaque cursor."""
    require_member(tx, workspace_id, user_id)
    if role is not None and role not in ROLE_ORDER:
        raise Invalid("invalid role")
    role_sort = (
        "CASE m.role " + " ".join(f"WHEN '{r}' THEN {n}" for r, n in ROLE_ORDER.items()) + " END"
    )
    where = ["m.workspace_id = ?"]
    params: list[object] = [workspace_id]
    if query:
        where.append("(lower(u.display_name) LIKE ? ESCAPE '\\' OR u.handle LIKE ? ESCAPE '\\')")
        pattern = (
            "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        params += [pattern, pattern]
    if role is not None:
        where.append("m.role = ?")
        params.append(role)
    filtered_where, filtered_params = list(where), list(params)
    if cursor:
        sort, name, member_id = _decode_cursor(cursor)
        where.append(f"({role_sort}, lower(u.display_name), u.id) > (?, ?, ?)")
        params += [sort, name, member_id]
    rows = tx.all(
        f"SELECT {USER_COLUMNS}, m.role, m.created_at AS joined_at, {role_sort} AS role_sort "
        f"FROM workspace_members m JOIN users u ON u.id = m.user_id WHERE {' AND '.join(where)} "
        f"ORDER BY role_sort, lower(u.display_name), u.id LIMIT ?",
        [*params, limit + 1],
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    members = [
        WorkspaceMember(
            workspace_id=workspace_id,
            user=user_from_row(row),
            role=row["role"],
            joined_at=ids.wire_time(row["joined_at"]),
        )
        for row in rows
    ]
    next_cursor: str | None = None
    if has_more:
        last = rows[-1]
        next_cursor = _encode_cursor([last["role_sort"], last["display_name"].lower(), last["id"]])
    total_count: int | None = None
    total_by_role: dict[str, int] | None = None
    if not cursor:
        total_count = tx.scalar(
            f"SELECT count(*) FROM workspace_members m JOIN users u ON u.id = m.user_id "
            f"WHERE {' AND '.join(filtered_where)}",
            filtered_params,
        )
        if not query and role is None:
            # Every role is a key, zero included, as the reference's fixed struct sends them.
            totals = dict.fromkeys(ROLE_ORDER, 0)
            for row in tx.all(
                "SELECT role, count(*) FROM workspace_members WHERE workspace_id = ? GROUP BY role",
                (workspace_id,),
            ):
                totals[row[0]] = row[1]
            total_by_role = totals
    return MemberPage(
        members=members,
        has_more=has_more,
        next_cursor=next_cursor,
        total_count=total_count,
        total_by_role=total_by_role,
    )
