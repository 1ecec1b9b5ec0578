"""Bot users and their scoped, workspace-bound tokens (protocol 2.6, 3.13)."""

from __future__ import annotations

import json

from clickclack_sdk import BotToken, User
from clickclack_server import ids
from clickclack_server.auth import expand_scopes
from clickclack_server.db import Tx
from clickclack_server.errors import Invalid
from clickclack_server.store.users import add_member, create_user


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
    token_id = ids.new_id("btok")
    secret = ids.new_id("ccb")
    created = ids.now()
    name = name.strip() or "default"
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


def create_bot_user(
    tx: Tx,
    *,
    workspace_id: str,
    display_name: str,
    handle: str = "",
    avatar_url: str = "",
    owner_user_id: str | None = None,
) -> User:
    """A ``kind=bot`` user added to the workspace with role ``bot``."""
    display_name = display_name.strip()
    if not display_name:
        raise Invalid("display_name is required")
    if len(display_name.encode()) > 80:
        raise Invalid("display_name must be at most 80 bytes")
    bot = create_user(
        tx,
        display_name=display_name,
        kind="bot",
        handle=handle,
        owner_user_id=owner_user_id,
        avatar_url=avatar_url,
    )
    add_member(tx, workspace_id, bot.id, "bot")
    return bot
