"""Uploads: admission and quota, nonce idempotency, visibility, and attaching to messages
(protocol 3.11).

The limits are module attributes read at call time so an operator (or a test) can lower them.
"""

from __future__ import annotations

import sqlite3

import attrs

from clickclack_sdk import Upload
from clickclack_server import ids
from clickclack_server.auth import Actor
from clickclack_server.db import Tx
from clickclack_server.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from clickclack_server.store.access import member_role, require_member, require_not_restricted
from clickclack_server.store.messages import message_event, require_dm_scope, visible_message
from clickclack_server.store.rows import upload_from_row
from clickclack_server.text import normalize_nonce

MAX_REQUEST_BYTES = 64 << 20
"""Largest accepted ``POST /api/uploads`` request body (the whole multipart body)."""
QUOTA_BYTES = 512 << 20
"""Bytes one user may keep uploaded in one workspace."""
QUOTA_FILES = 64
"""Files one user may keep uploaded in one workspace."""

QUOTA_EXCEEDED = "upload quota exceeded"
NONCE_CONFLICT = "upload nonce was already used in another workspace"
GUEST_FORBIDDEN = "guests cannot upload files"
AUTHOR_ONLY = "message attachments can only be changed by the message author"
UPLOAD_URL_PREFIX = "/api/uploads/"


@attrs.frozen(kw_only=True)
class Admission:
    """The answer to "may this user start an upload here": a nonce replay, or quota headroom."""

    replay: Upload | None = None
    bytes_left: int = 0


@attrs.frozen(kw_only=True)
class NewUpload:
    """A blob already on disk that should become an ``uploads`` row."""

    workspace_id: str
    nonce: str
    filename: str
    content_type: str
    byte_size: int
    storage_key: str
    width: int = 0
    height: int = 0
    duration_ms: int = 0


@attrs.frozen(kw_only=True)
class Readable:
    """A downloadable upload: its wire object, where its bytes are, and whether a live DM
    message carries it (bot tokens then also need ``dms:read``)."""

    upload: Upload
    storage_key: str
    in_direct_message: bool


def require_uploader(tx: Tx, workspace_id: str, user_id: str) -> None:
    """Members only (400 otherwise); guests, timed-out and blocked members get 403."""
    role = require_member(tx, workspace_id, user_id)
    if role == "guest":
        raise Forbidden(GUEST_FORBIDDEN)
    require_not_restricted(tx, workspace_id, user_id)


def _usage(tx: Tx, workspace_id: str, user_id: str) -> tuple[int, int]:
    row = tx.one(
        "SELECT count(*) AS files, coalesce(sum(byte_size), 0) AS bytes FROM uploads "
        "WHERE workspace_id = ? AND owner_id = ?",
        (workspace_id, user_id),
    )
    assert row is not None
    return int(row["files"]), int(row["bytes"])


def _nonce_row(tx: Tx, user_id: str, nonce: str) -> sqlite3.Row | None:
    if not nonce:
        return None
    return tx.one("SELECT * FROM uploads WHERE owner_id = ? AND client_nonce = ?", (user_id, nonce))


def _replay(tx: Tx, user_id: str, workspace_id: str, nonce: str) -> Upload | None:
    row = _nonce_row(tx, user_id, nonce)
    if row is None:
        return None
    if row["workspace_id"] != workspace_id:
        raise Conflict(NONCE_CONFLICT)
    return upload_from_row(row)


def admit(tx: Tx, user_id: str, workspace_id: str, nonce: str = "") -> Admission:
    """Checks made before any byte is read: membership, nonce replay, restrictions, quota room."""
    require_member(tx, workspace_id, user_id)
    replay = _replay(tx, user_id, workspace_id, normalize_nonce(nonce))
    if replay is not None:
        return Admission(replay=replay)
    require_uploader(tx, workspace_id, user_id)
    files, used = _usage(tx, workspace_id, user_id)
    if files >= QUOTA_FILES or used > QUOTA_BYTES:
        raise TooLarge(QUOTA_EXCEEDED)
    return Admission(bytes_left=QUOTA_BYTES - used)


def record(tx: Tx, user_id: str, new: NewUpload) -> tuple[Upload, bool]:
    """Insert the row for a stored blob; ``(upload, False)`` when the nonce was replayed meanwhile
    (the caller then deletes its blob). Every check is repeated here, under the write lock."""
    require_member(tx, new.workspace_id, user_id)
    nonce = normalize_nonce(new.nonce)
    replay = _replay(tx, user_id, new.workspace_id, nonce)
    if replay is not None:
        return replay, False
    require_uploader(tx, new.workspace_id, user_id)
    files, used = _usage(tx, new.workspace_id, user_id)
    if files + 1 > QUOTA_FILES or used + new.byte_size > QUOTA_BYTES:
        raise TooLarge(QUOTA_EXCEEDED)
    upload_id = ids.new_id("upl")
    tx.execute(
        "INSERT INTO uploads (id, workspace_id, owner_id, client_nonce, filename, content_type, "
        "byte_size, storage_path, created_at, width, height, duration_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            upload_id,
            new.workspace_id,
            user_id,
            nonce,
            new.filename,
            new.content_type,
            new.byte_size,
            new.storage_key,
            ids.now(),
            new.width,
            new.height,
            new.duration_ms,
        ),
    )
    row = tx.one("SELECT * FROM uploads WHERE id = ?", (upload_id,))
    assert row is not None
    return upload_from_row(row), True


def storage_keys(tx: Tx) -> list[str]:
    """The storage key of every ``uploads`` row: the blobs that must be kept."""
    return [str(row["storage_path"]) for row in tx.all("SELECT storage_path FROM uploads")]


def by_nonce(tx: Tx, user_id: str, workspace_id: str, nonce: str) -> Upload:
    """The caller's upload with ``nonce`` in ``workspace_id``; NotFound, or 409 across workspaces."""
    require_member(tx, workspace_id, user_id)
    replay = _replay(tx, user_id, workspace_id, normalize_nonce(nonce))
    if replay is None:
        raise NotFound()
    return replay


# Visibility.


def _attached_where_visible(tx: Tx, upload_id: str, user_id: str, role: str) -> bool:
    """Attached to a live message in a channel the caller sees or a DM the caller belongs to."""
    return (
        tx.one(
            """
            SELECT 1 FROM message_attachments a
            JOIN messages m ON m.id = a.message_id AND m.deleted_at IS NULL
            LEFT JOIN channels c ON c.id = m.channel_id
            WHERE a.upload_id = ? AND (
                (m.channel_id IS NOT NULL AND (? <> 'guest' OR c.name = 'guest'))
                OR (m.direct_conversation_id IS NOT NULL AND ? <> 'guest' AND EXISTS (
                    SELECT 1 FROM direct_conversation_members d
                    WHERE d.conversation_id = m.direct_conversation_id AND d.user_id = ?))
            )
            LIMIT 1
            """,
            (upload_id, role, role, user_id),
        )
        is not None
    )


def _shown_as_picture(tx: Tx, row: sqlite3.Row) -> bool:
    """The workspace icon, or the avatar of one of the workspace's members."""
    url = UPLOAD_URL_PREFIX + row["id"]
    if tx.one("SELECT 1 FROM workspaces WHERE id = ? AND icon_url = ?", (row["workspace_id"], url)):
        return True
    return (
        tx.one(
            "SELECT 1 FROM users u JOIN workspace_members m ON m.user_id = u.id "
            "WHERE m.workspace_id = ? AND u.avatar_url = ? LIMIT 1",
            (row["workspace_id"], url),
        )
        is not None
    )


def readable_row(tx: Tx, upload_id: str, user_id: str) -> sqlite3.Row:
    """The upload if the caller may read it, else NotFound (existence is never revealed).

    Readers are members of the upload's workspace who either uploaded it, can see a live message
    it is attached to, or see it as the workspace icon or a member's avatar.
    """
    row = tx.one("SELECT * FROM uploads WHERE id = ?", (upload_id,))
    if row is None:
        raise NotFound()
    role = member_role(tx, row["workspace_id"], user_id)
    if role is None:
        raise NotFound()
    if row["owner_id"] == user_id:
        return row
    if _attached_where_visible(tx, upload_id, user_id, role):
        return row
    if _shown_as_picture(tx, row):
        return row
    raise NotFound()


def readable(tx: Tx, upload_id: str, user_id: str) -> Readable:
    """What a download needs: the readable upload, its storage key, and its DM status."""
    row = readable_row(tx, upload_id, user_id)
    in_dm = (
        tx.one(
            "SELECT 1 FROM message_attachments a JOIN messages m ON m.id = a.message_id "
            "WHERE a.upload_id = ? AND m.direct_conversation_id IS NOT NULL "
            "AND m.deleted_at IS NULL LIMIT 1",
            (upload_id,),
        )
        is not None
    )
    return Readable(
        upload=upload_from_row(row), storage_key=row["storage_path"], in_direct_message=in_dm
    )


# Attaching.


def attach(tx: Tx, actor: Actor, message_id: str, upload_id: str) -> bool:
    """Attach an upload to the caller's own message; True (and a ``message.updated`` event) only
    when the attachment is new."""
    upload_id = upload_id.strip()
    if not upload_id:
        raise Invalid("upload_id is required")
    row, _ = visible_message(tx, message_id, actor.user_id)
    require_dm_scope(actor, row, "dms:write")
    actor.require_workspace(row["workspace_id"])
    if row["author_id"] != actor.user_id:
        raise Forbidden(AUTHOR_ONLY)
    if row["deleted_at"] is not None:
        raise Invalid("message is deleted")
    require_uploader(tx, row["workspace_id"], actor.user_id)
    upload = readable_row(tx, upload_id, actor.user_id)
    if upload["workspace_id"] != row["workspace_id"]:
        raise Invalid("upload is not in the message's workspace")
    inserted = tx.execute(
        "INSERT OR IGNORE INTO message_attachments (message_id, upload_id, created_at) "
        "VALUES (?, ?, ?)",
        (row["id"], upload_id, ids.now()),
    )
    if inserted.rowcount != 1:
        return False
    message_event(tx, row, "message.updated")
    return True
