"""Incoming hooks, slash commands and outgoing event subscriptions (protocol 3.14-3.16).

The hook calls are typed. Registration objects (slash commands, event subscriptions, delivery
records) come back as plain dicts: they are administrative, and their field lists are the
reference server's to extend.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clickclack_sdk._envelopes import MessageCreated, SlashCommandResult
from clickclack_sdk._errors import ClickClackError
from clickclack_sdk._refs import Ref, ident, seg
from clickclack_sdk.resources._base import Resource


class HooksResource(Resource):
    """``client.hooks``: post through the Mattermost-shaped hook, invoke slash commands,
    register slash commands and event subscriptions."""

    __slots__ = ()

    async def mattermost(self, channel: Ref, text: str, **fields: Any) -> MessageCreated:
        """``POST /api/hooks/mattermost/{channel}``: post ``text`` as the caller. Other
        Mattermost fields are accepted and ignored by the server. Not idempotent (no nonce),
        so never retried."""
        return await self._client.call(
            "POST",
            f"/api/hooks/mattermost/{seg(channel)}",
            MessageCreated,
            json={**fields, "text": text},
        )

    async def slash(self, channel: Ref, command: str, text: str = "") -> SlashCommandResult:
        """``POST /api/hooks/slash/{channel}`` (form-encoded): run a registered command, or
        post ``"<command> <text>"`` as the caller when none is registered."""
        response = await self._client.request(
            "POST",
            f"/api/hooks/slash/{seg(channel)}",
            content=_form({"command": command, "text": text}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return self._client.decode(response, SlashCommandResult)

    async def create_slash_command(
        self,
        workspace: Ref,
        command: str,
        callback_url: str,
        bot: Ref,
        *,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Register a slash command (managers); the answer holds the one-time
        ``signing_secret``."""
        body: dict[str, Any] = {
            "command": command,
            "callback_url": callback_url,
            "bot_user_id": ident(bot),
        }
        if description is not None:
            body["description"] = description
        return await self._raw(
            "POST", f"/api/workspaces/{seg(workspace)}/slash-commands", "slash_command", body
        )

    async def slash_commands(self, workspace: Ref) -> list[dict[str, Any]]:
        """The workspace's slash commands (secrets redacted)."""
        return await self._raw_list(
            f"/api/workspaces/{seg(workspace)}/slash-commands", "slash_commands"
        )

    async def revoke_slash_command(self, command_id: str) -> dict[str, Any]:
        """Stop a slash command (idempotent)."""
        return await self._raw(
            "POST", f"/api/slash-commands/{seg(command_id)}/revoke", "slash_command", retry=True
        )

    async def rotate_slash_command_secret(self, command_id: str) -> dict[str, Any]:
        """A new signing secret (shown once in the answer)."""
        return await self._raw(
            "POST", f"/api/slash-commands/{seg(command_id)}/rotate-secret", "slash_command"
        )

    async def create_event_subscription(
        self, workspace: Ref, event_types: Iterable[str], callback_url: str
    ) -> dict[str, Any]:
        """Have durable events of ``event_types`` (or ``"*"``) POSTed to ``callback_url``."""
        return await self._raw(
            "POST",
            f"/api/workspaces/{seg(workspace)}/event-subscriptions",
            "event_subscription",
            {"event_types": list(event_types), "callback_url": callback_url},
        )

    async def event_subscriptions(self, workspace: Ref) -> list[dict[str, Any]]:
        """The workspace's event subscriptions (secrets redacted)."""
        return await self._raw_list(
            f"/api/workspaces/{seg(workspace)}/event-subscriptions", "event_subscriptions"
        )

    async def revoke_event_subscription(self, subscription_id: str) -> dict[str, Any]:
        """Stop a subscription's deliveries (idempotent)."""
        return await self._raw(
            "POST",
            f"/api/event-subscriptions/{seg(subscription_id)}/revoke",
            "event_subscription",
            retry=True,
        )

    async def rotate_event_subscription_secret(self, subscription_id: str) -> dict[str, Any]:
        """A new signing secret (shown once in the answer)."""
        return await self._raw(
            "POST",
            f"/api/event-subscriptions/{seg(subscription_id)}/rotate-secret",
            "event_subscription",
        )

    async def event_types(self) -> list[str]:
        """The durable event types a subscription may name."""
        return [str(name) for name in await self._raw_list("/api/event-types", "event_types")]

    async def deliveries(
        self, subscription_id: str, *, limit: int | None = None, before: str | None = None
    ) -> dict[str, Any]:
        """One page of a subscription's delivery log, newest first:
        ``{"deliveries": [...], "next_cursor": str | None}``."""
        response = await self._client.request(
            "GET",
            f"/api/event-subscriptions/{seg(subscription_id)}/deliveries",
            params={"limit": limit, "before": before},
        )
        page: dict[str, Any] = response.json()
        return page

    async def _raw(
        self,
        method: str,
        path: str,
        key: str,
        body: dict[str, Any] | None = None,
        *,
        retry: bool | None = None,
    ) -> dict[str, Any]:
        """The object under ``key`` of the JSON answer."""
        value = await self._member(method, path, key, body, retry=retry)
        if not isinstance(value, dict):
            raise ClickClackError(f"unexpected response shape ({key!r} is not an object)")
        return value

    async def _raw_list(self, path: str, key: str) -> list[Any]:
        """The list under ``key`` of a GET answer."""
        value = await self._member("GET", path, key)
        if not isinstance(value, list):
            raise ClickClackError(f"unexpected response shape ({key!r} is not a list)")
        return value

    async def _member(
        self,
        method: str,
        path: str,
        key: str,
        body: dict[str, Any] | None = None,
        *,
        retry: bool | None = None,
    ) -> Any:
        response = await self._client.request(method, path, json=body, retry=retry)
        try:
            return response.json()[key]
        except (ValueError, KeyError, TypeError):
            raise ClickClackError(
                f"{response.status_code}: unexpected response shape (no {key!r})",
                status=response.status_code,
            ) from None


def _form(fields: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()
