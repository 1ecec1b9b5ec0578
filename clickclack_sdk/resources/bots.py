"""Bots, bot tokens and bot command menus (protocol 2.6, 3.13)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

import attrs

from clickclack_sdk._envelopes import BotCreated, BotWithTokens
from clickclack_sdk._models import BotCommand, BotToken, DeletedBot
from clickclack_sdk._refs import Ref, seg
from clickclack_sdk.resources._base import Resource


@attrs.frozen(kw_only=True)
class BotCommandSpec:
    """One entry of a bot's command menu, as sent with :meth:`BotsResource.set_commands`."""

    command: str
    description: str
    args_hint: str = ""


class BotsResource(Resource):
    """``client.bots``: manage bots and tokens (human sessions); a bot's own command menu."""

    __slots__ = ()

    async def create(
        self,
        workspace: Ref,
        display_name: str,
        *,
        handle: str | None = None,
        avatar_url: str | None = None,
        owner: Ref | None = None,
        token_name: str | None = None,
        scopes: Iterable[str] | None = None,
        initial_token: bool = True,
    ) -> BotCreated:
        """Create a bot member of ``workspace``: a service bot (workspace managers) or, with
        ``owner`` (the caller), a user-owned bot. ``scopes`` accepts bundles (``bot:write``,
        the default) and concrete scopes; the raw token is in ``result.bot_token.token``."""
        body: dict[str, Any] = {"display_name": display_name, "initial_token": initial_token}
        for key, value in (("handle", handle), ("avatar_url", avatar_url)):
            if value is not None:
                body[key] = value
        if owner is not None:
            body["owner_user_id"] = seg(owner)
        if token_name is not None:
            body["token_name"] = token_name
        if scopes is not None:
            body["scopes"] = list(scopes)
        return await self._client.call(
            "POST", f"/api/workspaces/{seg(workspace)}/bots", BotCreated, json=body
        )

    async def list(self, workspace: Ref) -> builtins.list[BotWithTokens]:
        """Every live bot of the workspace with its token metadata (any member may look)."""
        return await self._client.call(
            "GET",
            f"/api/workspaces/{seg(workspace)}/bots",
            builtins.list[BotWithTokens],
            "bots",
        )

    async def tokens(self, bot: Ref, *, workspace: Ref | None = None) -> builtins.list[BotToken]:
        """A bot's tokens in ``workspace``, newest first (without ``workspace``: the legacy
        route, only for a bot in exactly one workspace)."""
        return await self._client.call(
            "GET", _tokens_path(bot, workspace), builtins.list[BotToken], "bot_tokens"
        )

    async def create_token(
        self,
        bot: Ref,
        *,
        workspace: Ref | None = None,
        name: str | None = None,
        scopes: Iterable[str] | None = None,
    ) -> BotToken:
        """Mint another token (the raw secret is in ``.token``, shown only this once)."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if scopes is not None:
            body["scopes"] = builtins.list(scopes)
        return await self._client.call(
            "POST", _tokens_path(bot, workspace), BotToken, "bot_token", json=body
        )

    async def revoke_token(self, token_id: str) -> BotToken:
        """Revoke a token by its ``btok_`` id (idempotent)."""
        return await self._client.call(
            "POST", f"/api/bot-tokens/{seg(token_id)}/revoke", BotToken, "bot_token", retry=True
        )

    async def remove_from_workspace(self, workspace: Ref, bot: Ref) -> None:
        """Remove the bot from ``workspace`` (managers): its tokens there are revoked."""
        await self._client.request(
            "DELETE", f"/api/workspaces/{seg(workspace)}/bots/{seg(bot)}/membership"
        )

    async def delete(self, bot: Ref) -> DeletedBot:
        """Delete the bot everywhere; its handle is released (kept as ``former_handle``)."""
        return await self._client.call("DELETE", f"/api/bots/{seg(bot)}", DeletedBot, "deleted_bot")

    async def set_commands(self, commands: Iterable[BotCommandSpec]) -> builtins.list[BotCommand]:
        """Replace the calling bot's command menu (bot token with ``commands:write``); an
        empty list clears it. Menus are discovery metadata only."""
        body = {"commands": [attrs.asdict(command) for command in commands]}
        return await self._client.call(
            "PUT", "/api/bots/self/commands", builtins.list[BotCommand], "bot_commands", json=body
        )

    async def commands(self, workspace: Ref) -> builtins.list[BotCommand]:
        """Every bot command menu entry of the workspace."""
        return await self._client.call(
            "GET",
            f"/api/workspaces/{seg(workspace)}/bot-commands",
            builtins.list[BotCommand],
            "bot_commands",
        )


def _tokens_path(bot: Ref, workspace: Ref | None) -> str:
    if workspace is None:
        return f"/api/bots/{seg(bot)}/tokens"
    return f"/api/workspaces/{seg(workspace)}/bots/{seg(bot)}/tokens"
