"""The caller's own profile, notification settings, appearance preferences and bots (protocol 3.4).

``PATCH /api/me`` is a patch: a field left out (or ``null``) stays as it is. Every value is
validated before anything is written, so a rejected request changes nothing.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import attrs

from clickclack_sdk import (
    AppearancePreferences,
    NotificationSettings,
    OwnedBot,
    User,
    WorkspaceSummary,
)
from clickclack_server.db import Tx
from clickclack_server.errors import Invalid, NotFound
from clickclack_server.store.rows import USER_COLUMNS, get_user, user_from_row

MAX_DISPLAY_NAME_BYTES = 80
MAX_AVATAR_URL_CHARS = 500
_PUSHOVER_KEY = re.compile(r"^[A-Za-z0-9]{30}$")

# Accepted values per appearance field; the default spelling of each is stored as "unset".
APPEARANCE_VALUES: dict[str, dict[str, str | None]] = {
    "color_mode": {"": None, "system": None, "light": "light", "dark": "dark"},
    "board_theme": {"": None, "signal": None, "ember": "ember", "moss": "moss", "iris": "iris"},
    "message_layout": {"": None, "standard": None, "outlined": "outlined"},
    "density": {"": None, "comfortable": None, "compact": "compact"},
}


@attrs.frozen(kw_only=True)
class ProfilePatch:
    """A validated ``PATCH /api/me`` body; ``None`` means "leave unchanged".

    ``appearance`` maps a field to its new stored value (``None`` = back to the default).
    """

    display_name: str | None = None
    handle: str | None = None
    avatar_url: str | None = None
    notifications: NotificationSettings | None = None
    appearance: dict[str, str | None] = attrs.field(factory=dict)


def normalize_display_name(raw: str) -> str:
    """Trimmed, 1-80 bytes of UTF-8."""
    name = raw.strip()
    if not name:
        raise Invalid("display_name is required")
    if len(name.encode()) > MAX_DISPLAY_NAME_BYTES:
        raise Invalid("display_name is too long")
    return name


def normalize_avatar_url(raw: str) -> str:
    """Empty (use the default avatar) or an absolute http(s) URL of at most 500 characters."""
    url = raw.strip()
    if not url:
        return ""
    if len(url) > MAX_AVATAR_URL_CHARS:
        raise Invalid("avatar_url must be at most 500 characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise Invalid("avatar_url must be an http or https URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise Invalid("avatar_url must be an http or https URL")
    return url


def normalize_notification_settings(enabled: bool, user_key: str) -> NotificationSettings:
    """Pushover delivery needs a 30-character alphanumeric user key when enabled."""
    key = user_key.strip()
    if enabled and not key:
        raise Invalid("pushover_user_key is required when pushover notifications are enabled")
    if key and not _PUSHOVER_KEY.match(key):
        raise Invalid("pushover_user_key must be 30 alphanumeric characters")
    return NotificationSettings(pushover_enabled=enabled, pushover_user_key=key)


def normalize_appearance(field: str, raw: str) -> str | None:
    """The stored form of one appearance value (``None`` = default); unknown -> 400."""
    allowed = APPEARANCE_VALUES[field]
    if raw not in allowed:
        raise Invalid(f"{field} is invalid")
    return allowed[raw]


def _notification_settings(tx: Tx, user_id: str) -> NotificationSettings:
    row = tx.one(
        "SELECT pushover_enabled, pushover_user_key FROM user_notification_settings "
        "WHERE user_id = ?",
        (user_id,),
    )
    if row is None:
        return NotificationSettings()
    return NotificationSettings(
        pushover_enabled=bool(row["pushover_enabled"]), pushover_user_key=row["pushover_user_key"]
    )


def _appearance(tx: Tx, user_id: str) -> AppearancePreferences | None:
    row = tx.one(
        "SELECT color_mode, board_theme, message_layout, density "
        "FROM user_appearance_preferences WHERE user_id = ?",
        (user_id,),
    )
    if row is None:
        return None
    return AppearancePreferences(**{field: row[field] or None for field in APPEARANCE_VALUES})


def current_user(tx: Tx, user_id: str) -> User:
    """The caller as ``/api/me`` shows it: notification settings, appearance preferences (once
    any were saved) and ``password_enrolled`` (always false: this server has no passwords)."""
    user = get_user(tx, user_id)
    if user is None:
        raise NotFound()
    return attrs.evolve(
        user,
        notification_settings=_notification_settings(tx, user_id),
        appearance_preferences=_appearance(tx, user_id),
        password_enrolled=False,
    )


def update_current_user(tx: Tx, user_id: str, patch: ProfilePatch) -> User:
    """Apply ``patch`` to the caller's profile; a handle held by someone else -> 400."""
    if get_user(tx, user_id) is None:
        raise NotFound()
    if patch.handle and tx.one(
        "SELECT 1 FROM users WHERE handle = ? AND id <> ?", (patch.handle, user_id)
    ):
        raise Invalid("handle is already taken")
    columns = {
        "display_name": patch.display_name,
        "handle": patch.handle,
        "avatar_url": patch.avatar_url,
    }
    for column, value in columns.items():
        if value is not None:
            tx.execute(f"UPDATE users SET {column} = ? WHERE id = ?", (value, user_id))
    if patch.notifications is not None:
        tx.execute(
            "INSERT INTO user_notification_settings (user_id, pushover_enabled, pushover_user_key) "
            "VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
            "pushover_enabled = excluded.pushover_enabled, "
            "pushover_user_key = excluded.pushover_user_key",
            (
                user_id,
                int(patch.notifications.pushover_enabled),
                patch.notifications.pushover_user_key,
            ),
        )
    if patch.appearance:
        tx.execute(
            "INSERT OR IGNORE INTO user_appearance_preferences (user_id) VALUES (?)", (user_id,)
        )
        for field, value in patch.appearance.items():
            assert field in APPEARANCE_VALUES
            tx.execute(
                f"UPDATE user_appearance_preferences SET {field} = ? WHERE user_id = ?",
                (value, user_id),
            )
    return current_user(tx, user_id)


def owned_bots(tx: Tx, user_id: str) -> list[OwnedBot]:
    """Bots the caller owns, one entry per workspace the bot and the caller share, with the
    number of unrevoked tokens the bot holds there. Ordered by bot creation, then workspace."""
    rows = tx.all(
        f"""
        SELECT {USER_COLUMNS}, w.id AS ws_id, w.route_id AS ws_route_id, w.name AS ws_name,
          (SELECT count(*) FROM bot_tokens t
            WHERE t.bot_user_id = u.id AND t.workspace_id = w.id AND t.revoked_at IS NULL)
            AS active_token_count
        FROM users u
        JOIN workspace_members bm ON bm.user_id = u.id
        JOIN workspaces w ON w.id = bm.workspace_id
        JOIN workspace_members om ON om.workspace_id = w.id AND om.user_id = ?
        WHERE u.owner_user_id = ? AND u.kind = 'bot' AND u.deleted_at IS NULL
        ORDER BY u.created_at, u.id, w.created_at, w.id
        """,
        (user_id, user_id),
    )
    return [
        OwnedBot(
            bot=user_from_row(row),
            workspace=WorkspaceSummary(
                id=row["ws_id"], route_id=row["ws_route_id"], name=row["ws_name"]
            ),
            active_token_count=row["active_token_count"],
        )
        for row in rows
    ]
