"""Bot users, their scoped workspace-bound tokens and their command menus (protocol 2.6, 3.13).

Who may do what:
- a *service* bot (no owner) is created and managed by workspace managers (owner/moderator);
- a *user-owned* bot is created by its owner (a human member) and only that owner manages its
  tokens or deletes it; managers can still remove it from their workspace.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

import attrs

from clickclack_sdk import BotCommand, BotCommandBot, BotToken, BotWithTokens, DeletedBot, User
from clickclack_server import ids
from clickclack_server.auth import expand_scopes
from clickclack_server.db import Tx
from clickclack_server.errors import Forbidden, Invalid, NotFound
from clickclack_server.store.access import (
    MANAGER_ROLES,
    member_role,
    require_manager,
    require_member,
    require_not_restricted,
)
from clickclack_server.store.rows import USER_COLUMNS, user_from_row
from clickclack_server.store.users import add_member, create_user

MAX_DISPLAY_NAME_BYTES = 80
MAX_TOKEN_NAME_BYTES = 80
MAX_AVATAR_URL_CHARS = 2048
MAX_COMMANDS = 100
MAX_COMMAND_TEXT_CHARS = 100
COMMAND_PATTERN = re.compile(r"^/[a-z0-9_-]{1,32}$")

OWNER_REQUIRED = "only the bot owner can manage this bot"
OWNER_CREATE_REQUIRED = "only the bot owner can create a user-owned bot"
OWNER_MEMBERSHIP_REQUIRED = "bot owner must be a workspace member"
MULTIPLE_WORKSPACES = "workspace_id is required for bots installed in multiple workspaces"

_TOKEN_COLUMNS = (
    "id, bot_user_id, workspace_id, owner_user_id, name, scopes_json, created_by, created_at, "
    "last_used_at, revoked_at"
)


@attrs.frozen(kw_only=True)
class CommandInput:
    """One validated, normalised entry of a bot's command menu."""

    command: str
    description: str
    args_hint: str


# Tokens.


def mint_token(
    tx: Tx,
    *,
    bot_user_id: str,
    workspace_id: str,
    owner_user_id: str | None,
    name: str = "default",
    scopes: list[str] | None = None,
    created_by: str | None = None,
    setup_nonce: str | None = None,
) -> BotToken:
    """A new ``ccb_`` token; the raw secret is only in the returned object."""
    expanded = expand_scopes(scopes or [])
    name = name.strip() or "default"
    if len(name.encode()) > MAX_TOKEN_NAME_BYTES:
        raise Invalid(f"token name must be at most {MAX_TOKEN_NAME_BYTES} bytes")
    token_id = ids.new_id("btok")
    secret = ids.new_secret("ccb")
    created = ids.now()
    tx.execute(
        "INSERT INTO bot_tokens (id, token_hash, bot_user_id, workspace_id, owner_user_id, name, scopes_json, "
        "created_by, setup_nonce, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            token_id,
            ids.hash_token(secret),
            bot_user_id,
            workspace_id,
            owner_user_id,
            name,
            json.dumps(expanded),
            created_by,
            setup_nonce,
            created,
        ),
    )
    tx.mark_changed("auth")
    return BotToken(
        id=token_id,
        bot_user_id=bot_user_id,
        workspace_id=workspace_id,
        owner_user_id=owner_user_id,
        name=name,
        scopes=expanded,
        created_by=created_by,
        created_at=ids.wire_time(created),
        token=secret,
    )


def token_from_row(row: sqlite3.Row) -> BotToken:
    """Token metadata as listed (never the secret: only its hash is stored)."""
    return BotToken(
        id=row["id"],
        bot_user_id=row["bot_user_id"],
        workspace_id=row["workspace_id"],
        owner_user_id=row["owner_user_id"],
        name=row["name"],
        scopes=list(json.loads(row["scopes_json"])),
        created_by=row["created_by"],
        created_at=ids.wire_time(row["created_at"]),
        last_used_at=ids.opt_wire_time(row["last_used_at"]),
        revoked_at=ids.opt_wire_time(row["revoked_at"]),
    )


def _get_token(tx: Tx, token_id: str) -> BotToken:
    row = tx.one(f"SELECT {_TOKEN_COLUMNS} FROM bot_tokens WHERE id = ?", (token_id,))
    if row is None:
        raise NotFound()
    return token_from_row(row)


def _tokens_for(tx: Tx, workspace_id: str, bot_user_id: str) -> list[BotToken]:
    rows = tx.all(
        f"SELECT {_TOKEN_COLUMNS} FROM bot_tokens WHERE workspace_id = ? AND bot_user_id = ? "
        "ORDER BY created_at DESC, id DESC",
        (workspace_id, bot_user_id),
    )
    return [token_from_row(row) for row in rows]


# Bot users.


def create_bot_user(
    tx: Tx,
    *,
    workspace_id: str,
    display_name: str,
    handle: str = "",
    avatar_url: str = "",
    owner_user_id: str | None = None,
) -> User:
    """A ``kind=bot`` user added to the workspace with role ``bot`` (no permission checks)."""
    display_name = display_name.strip()
    if not display_name:
        raise Invalid("display_name is required")
    if len(display_name.encode()) > MAX_DISPLAY_NAME_BYTES:
        raise Invalid(f"display_name must be at most {MAX_DISPLAY_NAME_BYTES} bytes")
    bot = create_user(
        tx,
        display_name=display_name,
        kind="bot",
        handle=handle,
        owner_user_id=owner_user_id,
        avatar_url=_normalize_avatar_url(avatar_url),
    )
    add_member(tx, workspace_id, bot.id, "bot")
    return bot


def _normalize_avatar_url(raw: str) -> str:
    """Empty, an absolute http(s) URL, or an ``/api/uploads/...`` path; nothing else renders."""
    url = raw.strip()
    if not url:
        return ""
    if len(url) > MAX_AVATAR_URL_CHARS:
        raise Invalid(f"avatar_url must be at most {MAX_AVATAR_URL_CHARS} characters")
    lowered = url.lower()
    if not (
        lowered.startswith(("https://", "http://", "/api/uploads/"))
        and not any(ch.isspace() or ord(ch) < 0x20 for ch in url)
    ):
        raise Invalid("avatar_url must be an http(s) URL or an /api/uploads/ path")
    return url


def _require_workspace(tx: Tx, workspace_id: str) -> None:
    if not tx.one("SELECT 1 FROM workspaces WHERE id = ?", (workspace_id,)):
        raise NotFound()


def _check_owner(tx: Tx, workspace_id: str, created_by: str, owner_user_id: str) -> None:
    """A user-owned bot is created by its owner, a non-guest human member of the workspace."""
    if created_by != owner_user_id:
        raise Forbidden(OWNER_CREATE_REQUIRED)
    owner = tx.one(
        "SELECT kind, deleted_at FROM users WHERE id = ?",
        (owner_user_id,),
    )
    role = member_role(tx, workspace_id, owner_user_id)
    if owner is None or owner["kind"] != "human" or owner["deleted_at"] is not None or not role:
        raise Forbidden(OWNER_MEMBERSHIP_REQUIRED)
    if role == "guest":
        raise Forbidden("guests cannot own bots")


def create_bot(
    tx: Tx,
    *,
    workspace_id: str,
    created_by: str,
    display_name: str,
    handle: str = "",
    avatar_url: str = "",
    owner_user_id: str | None = None,
    token_name: str = "default",
    scopes: list[str] | None = None,
    initial_token: bool = True,
) -> tuple[User, BotToken | None]:
    """Create a bot (and by default its first token) on behalf of ``created_by``.

    Service bots (no owner) need a workspace manager; user-owned bots must be created by their
    owner. Scopes are validated even when no token is minted, so a typo never passes silently.
    """
    owner_user_id = (owner_user_id or "").strip() or None
    _require_workspace(tx, workspace_id)
    if owner_user_id is None:
        require_manager(tx, workspace_id, created_by)
    else:
        _check_owner(tx, workspace_id, created_by, owner_user_id)
    expanded = expand_scopes(scopes or [])
    bot = create_bot_user(
        tx,
        workspace_id=workspace_id,
        display_name=display_name,
        handle=handle,
        avatar_url=avatar_url,
        owner_user_id=owner_user_id,
    )
    if not initial_token:
        return bot, None
    token = mint_token(
        tx,
        bot_user_id=bot.id,
        workspace_id=workspace_id,
        owner_user_id=owner_user_id,
        name=token_name,
        scopes=expanded,
        created_by=created_by,
    )
    return bot, token


def _active_bot(tx: Tx, bot_user_id: str) -> sqlite3.Row:
    row = tx.one(
        f"SELECT {USER_COLUMNS} FROM users u WHERE u.id = ? AND u.kind = 'bot' "
        "AND u.deleted_at IS NULL",
        (bot_user_id,),
    )
    if row is None:
        raise NotFound()
    return row


def _workspace_bot(tx: Tx, workspace_id: str, bot_user_id: str) -> sqlite3.Row:
    """The bot's user row, provided it is a live bot member of the workspace."""
    row = tx.one(
        f"SELECT {USER_COLUMNS} FROM users u JOIN workspace_members m ON m.user_id = u.id "
        "WHERE m.workspace_id = ? AND u.id = ? AND u.kind = 'bot' AND u.deleted_at IS NULL",
        (workspace_id, bot_user_id),
    )
    if row is None:
        raise NotFound()
    return row


def _bot_workspaces(tx: Tx, bot_user_id: str) -> list[str]:
    return [
        row[0]
        for row in tx.all(
            "SELECT workspace_id FROM workspace_members WHERE user_id = ? "
            "ORDER BY created_at, workspace_id",
            (bot_user_id,),
        )
    ]


def _require_token_manager(
    tx: Tx, workspace_id: str, owner_user_id: str | None, requester_id: str
) -> None:
    """User-owned bots: only the owner (still a member); service bots: workspace managers."""
    if owner_user_id is not None:
        if requester_id != owner_user_id:
            raise Forbidden(OWNER_REQUIRED)
        if member_role(tx, workspace_id, requester_id) is None:
            raise Forbidden(OWNER_MEMBERSHIP_REQUIRED)
        return
    require_manager(tx, workspace_id, requester_id)


def sole_workspace(tx: Tx, bot_user_id: str) -> str:
    """The one workspace of a bot, for the legacy workspace-less token routes."""
    _active_bot(tx, bot_user_id)
    workspaces = _bot_workspaces(tx, bot_user_id)
    if not workspaces:
        raise NotFound()
    if len(workspaces) > 1:
        raise Invalid(MULTIPLE_WORKSPACES)
    return workspaces[0]


def list_bots(tx: Tx, workspace_id: str, requester_id: str) -> list[BotWithTokens]:
    """Every live bot of the workspace with its token metadata (newest token first)."""
    require_member(tx, workspace_id, requester_id)
    bots = tx.all(
        f"SELECT {USER_COLUMNS} FROM users u JOIN workspace_members m ON m.user_id = u.id "
        "WHERE m.workspace_id = ? AND u.kind = 'bot' AND u.deleted_at IS NULL "
        "ORDER BY u.created_at, u.id",
        (workspace_id,),
    )
    tokens: dict[str, list[BotToken]] = {}
    for row in tx.all(
        f"SELECT {_TOKEN_COLUMNS} FROM bot_tokens WHERE workspace_id = ? "
        "ORDER BY created_at DESC, id DESC",
        (workspace_id,),
    ):
        tokens.setdefault(row["bot_user_id"], []).append(token_from_row(row))
    return [BotWithTokens(bot=user_from_row(row), tokens=tokens.get(row["id"], [])) for row in bots]


def list_tokens(
    tx: Tx, workspace_id: str | None, bot_user_id: str, requester_id: str
) -> list[BotToken]:
    """Token metadata of one bot in one workspace, newest first (any member may look)."""
    if workspace_id is None:
        workspace_id = sole_workspace(tx, bot_user_id)
    _workspace_bot(tx, workspace_id, bot_user_id)
    require_member(tx, workspace_id, requester_id)
    return _tokens_for(tx, workspace_id, bot_user_id)


def create_token(
    tx: Tx,
    workspace_id: str | None,
    bot_user_id: str,
    requester_id: str,
    *,
    name: str = "",
    scopes: list[str] | None = None,
) -> BotToken:
    """Mint another token for a bot in one workspace (owner or manager, see module doc)."""
    if workspace_id is None:
        workspace_id = sole_workspace(tx, bot_user_id)
    bot = _workspace_bot(tx, workspace_id, bot_user_id)
    _require_token_manager(tx, workspace_id, bot["owner_user_id"], requester_id)
    return mint_token(
        tx,
        bot_user_id=bot_user_id,
        workspace_id=workspace_id,
        owner_user_id=bot["owner_user_id"],
        name=name,
        scopes=scopes,
        created_by=requester_id,
    )


def revoke_token(tx: Tx, token_id: str, requester_id: str) -> BotToken:
    """Set ``revoked_at`` once (idempotent); the token stops authenticating immediately."""
    token = _get_token(tx, token_id)
    owner = tx.scalar("SELECT owner_user_id FROM users WHERE id = ?", (token.bot_user_id,))
    _require_token_manager(tx, token.workspace_id, owner, requester_id)
    tx.execute(
        "UPDATE bot_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
        (ids.now(), token_id),
    )
    tx.mark_changed("auth")
    return _get_token(tx, token_id)


def remove_membership(tx: Tx, workspace_id: str, bot_user_id: str, requester_id: str) -> None:
    """A manager removes a bot from the workspace: tokens revoked, menu dropped, member gone."""
    require_manager(tx, workspace_id, requester_id)
    _workspace_bot(tx, workspace_id, bot_user_id)
    tx.execute(
        "UPDATE bot_tokens SET revoked_at = COALESCE(revoked_at, ?) "
        "WHERE workspace_id = ? AND bot_user_id = ?",
        (ids.now(), workspace_id, bot_user_id),
    )
    tx.execute(
        "DELETE FROM bot_commands WHERE workspace_id = ? AND bot_user_id = ?",
        (workspace_id, bot_user_id),
    )
    # Slash commands answered by this bot could no longer post: retire them with it.
    tx.execute(
        "UPDATE slash_commands SET revoked_at = COALESCE(revoked_at, ?) "
        "WHERE workspace_id = ? AND bot_user_id = ?",
        (ids.now(), workspace_id, bot_user_id),
    )
    tx.execute(
        "DELETE FROM workspace_members WHERE workspace_id = ? AND user_id = ?",
        (workspace_id, bot_user_id),
    )
    tx.mark_changed("auth")


def delete_bot(tx: Tx, bot_user_id: str, requester_id: str) -> tuple[DeletedBot, list[str]]:
    """Soft-delete a bot everywhere; returns the tombstone and the workspaces it was in.

    The handle is freed (kept as ``former_handle`` in ``bot_tombstones``), every token is
    revoked, menus and memberships are removed. User-owned bots: only the owner. Service bots:
    the requester must manage every workspace the bot is in.
    """
    bot = _active_bot(tx, bot_user_id)
    workspaces = _bot_workspaces(tx, bot_user_id)
    if bot["owner_user_id"] is not None:
        if requester_id != bot["owner_user_id"]:
            raise Forbidden(OWNER_REQUIRED)
    else:
        if not workspaces:
            raise Forbidden("workspace manager permission required")
        for workspace_id in workspaces:
            if member_role(tx, workspace_id, requester_id) not in MANAGER_ROLES:
                raise Forbidden("workspace manager permission required")
    deleted_at = ids.now()
    tx.execute(
        "UPDATE bot_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE bot_user_id = ?",
        (deleted_at, bot_user_id),
    )
    tx.execute("DELETE FROM bot_commands WHERE bot_user_id = ?", (bot_user_id,))
    tx.execute(
        "UPDATE slash_commands SET revoked_at = COALESCE(revoked_at, ?) WHERE bot_user_id = ?",
        (deleted_at, bot_user_id),
    )
    tx.execute("DELETE FROM workspace_members WHERE user_id = ?", (bot_user_id,))
    tx.execute(
        "INSERT INTO bot_tombstones (bot_user_id, former_handle, deleted_at, deleted_by) "
        "VALUES (?, ?, ?, ?)",
        (bot_user_id, bot["handle"], deleted_at, requester_id),
    )
    tx.execute(
        "UPDATE users SET deleted_at = ?, handle = '' WHERE id = ?", (deleted_at, bot_user_id)
    )
    tx.mark_changed("auth")
    deleted = DeletedBot(
        id=bot_user_id,
        display_name=bot["display_name"],
        former_handle=bot["handle"],
        deleted_at=ids.wire_time(deleted_at),
    )
    return deleted, workspaces


# Command menus (discovery metadata only; they do not dispatch anything).


def normalize_command_name(raw: str) -> str:
    """``Deploy`` / ``/deploy`` -> ``/deploy``: trimmed, lower-cased, one leading slash."""
    name = raw.strip().lower()
    return name if name.startswith("/") else "/" + name


def normalize_commands(items: list[Any]) -> list[CommandInput]:
    """Validate a ``commands`` array: at most 100 entries, each ``/`` + 1-32 of ``a-z 0-9 _ -``,
    unique, a required description and an optional args hint of at most 100 characters each."""
    if len(items) > MAX_COMMANDS:
        raise Invalid(f"commands must contain at most {MAX_COMMANDS} entries")
    result: list[CommandInput] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise Invalid(f"commands[{index}] must be an object")
        fields: dict[str, str] = {}
        for key in ("command", "description", "args_hint"):
            value = item.get(key)
            if value is not None and not isinstance(value, str):
                raise Invalid(f"commands[{index}].{key} must be a string")
            fields[key] = (value or "").strip()
        command = normalize_command_name(fields["command"])
        if not COMMAND_PATTERN.match(command):
            raise Invalid(
                f"commands[{index}].command must be / followed by 1-32 characters of a-z, 0-9, _ or -"
            )
        if command in seen:
            raise Invalid(f"commands[{index}].command duplicates {command}")
        seen.add(command)
        description = fields["description"]
        if not description:
            raise Invalid(f"commands[{index}].description is required")
        if len(description) > MAX_COMMAND_TEXT_CHARS:
            raise Invalid(
                f"commands[{index}].description must be at most {MAX_COMMAND_TEXT_CHARS} characters"
            )
        if len(fields["args_hint"]) > MAX_COMMAND_TEXT_CHARS:
            raise Invalid(
                f"commands[{index}].args_hint must be at most {MAX_COMMAND_TEXT_CHARS} characters"
            )
        result.append(
            CommandInput(command=command, description=description, args_hint=fields["args_hint"])
        )
    return result


_COMMAND_SELECT = (
    "SELECT c.id, c.workspace_id, c.bot_user_id, c.command, c.description, c.args_hint, "
    "c.created_at, c.updated_at, u.handle, u.display_name, u.avatar_url "
    "FROM bot_commands c JOIN users u ON u.id = c.bot_user_id "
    "JOIN workspace_members m ON m.workspace_id = c.workspace_id AND m.user_id = c.bot_user_id "
    "WHERE c.workspace_id = ? AND u.deleted_at IS NULL"
)


def _command_from_row(row: sqlite3.Row) -> BotCommand:
    return BotCommand(
        id=row["id"],
        command=row["command"],
        description=row["description"],
        args_hint=row["args_hint"],
        bot=BotCommandBot(
            id=row["bot_user_id"],
            handle=row["handle"],
            display_name=row["display_name"],
            avatar_url=row["avatar_url"],
        ),
        created_at=ids.wire_time(row["created_at"]),
        updated_at=ids.wire_time(row["updated_at"]),
    )


def set_commands(
    tx: Tx, workspace_id: str, bot_user_id: str, commands: list[CommandInput]
) -> list[BotCommand]:
    """Replace the bot's menu in one workspace (``[]`` clears it); sorted by command.

    A command that stays keeps its id and ``created_at``; ``updated_at`` moves on every call.
    """
    _workspace_bot(tx, workspace_id, bot_user_id)
    require_not_restricted(tx, workspace_id, bot_user_id)
    wanted = [command.command for command in commands]
    marks = ",".join("?" * len(wanted))
    tx.execute(
        "DELETE FROM bot_commands WHERE workspace_id = ? AND bot_user_id = ?"
        + (f" AND command NOT IN ({marks})" if wanted else ""),
        (workspace_id, bot_user_id, *wanted),
    )
    now = ids.now()
    for command in commands:
        tx.execute(
            "INSERT INTO bot_commands (id, bot_user_id, workspace_id, command, description, "
            "args_hint, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (bot_user_id, workspace_id, command) DO UPDATE SET "
            "description = excluded.description, args_hint = excluded.args_hint, "
            "updated_at = excluded.updated_at",
            (
                ids.new_id("botcmd"),
                bot_user_id,
                workspace_id,
                command.command,
                command.description,
                command.args_hint,
                now,
                now,
            ),
        )
    rows = tx.all(
        _COMMAND_SELECT + " AND c.bot_user_id = ? ORDER BY c.command", (workspace_id, bot_user_id)
    )
    return [_command_from_row(row) for row in rows]


def list_commands(tx: Tx, workspace_id: str, requester_id: str) -> list[BotCommand]:
    """Every live bot's menu entries in the workspace, by command then bot name."""
    require_member(tx, workspace_id, requester_id)
    rows = tx.all(
        _COMMAND_SELECT + " ORDER BY c.command, lower(u.display_name), u.id", (workspace_id,)
    )
    return [_command_from_row(row) for row in rows]
