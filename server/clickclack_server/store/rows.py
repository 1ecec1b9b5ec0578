"""Row -> wire object builders shared by every area."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from clickclack_sdk import Channel, Upload, User, Workspace
from clickclack_server.db import Tx
from clickclack_server.ids import opt_wire_time, wire_time

USER_COLUMNS = (
    "u.id, u.kind, u.owner_user_id, u.display_name, u.handle, u.avatar_url, u.email, u.created_at, "
    "u.deleted_at, (SELECT former_handle FROM bot_tombstones b WHERE b.bot_user_id = u.id) "
    "AS former_handle"
)


def gravatar(email: str) -> str:
    import hashlib

    digest = hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()
    return f"https://www.gravatar.com/avatar/{digest}?d=identicon"


def user_from_row(row: sqlite3.Row) -> User:
    avatar = row["avatar_url"]
    if not avatar and row["email"] and row["kind"] == "human":
        avatar = gravatar(row["email"])
    return User(
        id=row["id"],
        kind=row["kind"],
        owner_user_id=row["owner_user_id"],
        display_name=row["display_name"],
        handle=row["handle"],
        former_handle=row["former_handle"] or None,
        avatar_url=avatar,
        created_at=wire_time(row["created_at"]),
        deleted_at=opt_wire_time(row["deleted_at"]),
    )


def get_user(tx: Tx, user_id: str) -> User | None:
    row = tx.one(f"SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?", (user_id,))
    return None if row is None else user_from_row(row)


def users_by_id(tx: Tx, user_ids: Iterable[str]) -> dict[str, User]:
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = tx.all(f"SELECT {USER_COLUMNS} FROM users u WHERE u.id IN ({marks})", wanted)
    return {row["id"]: user_from_row(row) for row in rows}


def workspace_from_row(row: sqlite3.Row, role: str | None = None) -> Workspace:
    return Workspace(
        id=row["id"],
        route_id=row["route_id"],
        name=row["name"],
        slug=row["slug"],
        icon_url=row["icon_url"],
        created_at=wire_time(row["created_at"]),
        role=role,
    )


def channel_from_row(row: sqlite3.Row, *, last_read_seq: int = 0, unread_count: int = 0) -> Channel:
    return Channel(
        id=row["id"],
        route_id=row["route_id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        display_title=row["display_title"] or None,
        kind=row["kind"],
        created_at=wire_time(row["created_at"]),
        archived_at=opt_wire_time(row["archived_at"]),
        external_managed=bool(row["external_managed"]),
        external_ref=row["external_ref"] or None,
        external_url=row["external_url"] or None,
        sidebar_section=row["sidebar_section"] or None,
        last_seq=row["last_seq"],
        last_read_seq=last_read_seq,
        unread_count=unread_count,
    )


def upload_from_row(row: sqlite3.Row) -> Upload:
    return Upload(
        id=row["id"],
        workspace_id=row["workspace_id"],
        owner_id=row["owner_id"],
        nonce=row["client_nonce"] or None,
        filename=row["filename"],
        content_type=row["content_type"],
        byte_size=row["byte_size"],
        width=row["width"],
        height=row["height"],
        duration_ms=row["duration_ms"],
        created_at=wire_time(row["created_at"]),
    )
