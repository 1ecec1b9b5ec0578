"""Reactions on roots, replies and DM messages (protocol 3.9)."""

from __future__ import annotations

from urllib.parse import quote

from clickclack_sdk._envelopes import ReactionsChanged
from clickclack_sdk._refs import Ref, seg
from clickclack_sdk.resources._base import Resource


class ReactionsResource(Resource):
    """``client.reactions``: add and remove the caller's reactions (both are idempotent)."""

    __slots__ = ()

    async def add(self, message: Ref, emoji: str) -> ReactionsChanged:
        """React with ``emoji`` (stored verbatim). ``result.changed`` is False when the caller
        had already reacted with it."""
        return await self._client.call(
            "POST",
            f"/api/messages/{seg(message)}/reactions",
            ReactionsChanged,
            json={"emoji": emoji},
            retry=True,
        )

    async def remove(self, message: Ref, emoji: str) -> ReactionsChanged:
        """Take the caller's ``emoji`` reaction back (``changed`` False when there was none)."""
        if not emoji.strip():
            raise ValueError("emoji is required")
        return await self._client.call(
            "DELETE",
            f"/api/messages/{seg(message)}/reactions/{quote(emoji, safe='')}",
            ReactionsChanged,
        )
