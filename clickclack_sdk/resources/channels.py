"""Channels and channel read pointers (protocol 3.6, 3.7)."""

from __future__ import annotations

import builtins
from typing import Any

from clickclack_sdk._envelopes import ChannelChanged
from clickclack_sdk._errors import NotFound
from clickclack_sdk._models import Channel, ReadReceipt
from clickclack_sdk._refs import Ref, ident, seg
from clickclack_sdk.resources._base import Resource


class ChannelsResource(Resource):
    """``client.channels``: list, look up by id/name/#name, create, edit, archive, mark read."""

    __slots__ = ()

    async def list(self, workspace: Ref) -> builtins.list[Channel]:
        """Every channel of the workspace ordered by name, archived ones included."""
        channels = await self._client.call(
            "GET", f"/api/workspaces/{seg(workspace)}/channels", builtins.list[Channel], "channels"
        )
        for channel in channels:
            self._client._note_channel(channel.id, channel.workspace_id)
        return channels

    async def find(self, ref: str, *, workspace: Ref | None = None) -> Channel:
        """The channel whose id or name is ``ref`` (``#`` optional, case-insensitive).

        Names need ``workspace``; a ``chn_`` id without one is looked for in every visible
        workspace. Raises :class:`NotFound` when nothing matches.
        """
        wanted = ref.strip()
        if workspace is not None:
            scopes = [ident(workspace)]
        elif wanted.startswith("chn_"):
            scopes = [w.id for w in await self._client.workspaces.list()]
        else:
            raise ValueError("a channel name needs a workspace")
        name = wanted.removeprefix("#").lower()
        for workspace_id in scopes:
            channels = await self.list(workspace_id)
            for channel in channels:
                if channel.id == wanted:
                    return channel
            for channel in channels:
                if channel.name.lower() == name:
                    return channel
        raise NotFound(f"channel not found: {ref}", error="channel not found")

    async def create(
        self,
        workspace: Ref,
        name: str,
        *,
        display_title: str | None = None,
        kind: str | None = None,
        external_managed: bool | None = None,
        external_ref: str | None = None,
        external_url: str | None = None,
        sidebar_section: str | None = None,
    ) -> ChannelChanged:
        """``POST /api/workspaces/{id}/channels``: the name is slugified by the server; a
        duplicate name is an :class:`InvalidRequest`."""
        body = _fields(
            name=name,
            display_title=display_title,
            kind=kind,
            external_managed=external_managed,
            external_ref=external_ref,
            external_url=external_url,
            sidebar_section=sidebar_section,
        )
        created = await self._client.call(
            "POST", f"/api/workspaces/{seg(workspace)}/channels", ChannelChanged, json=body
        )
        self._client._note_channel(created.channel.id, created.channel.workspace_id)
        return created

    async def update(
        self,
        channel: Ref,
        *,
        name: str | None = None,
        display_title: str | None = None,
        kind: str | None = None,
        archived: bool | None = None,
        external_managed: bool | None = None,
        external_ref: str | None = None,
        external_url: str | None = None,
        sidebar_section: str | None = None,
    ) -> ChannelChanged:
        """``PATCH /api/channels/{id}`` (workspace owner or bots): change the given fields;
        "" clears the optional text fields."""
        body = _fields(
            name=name,
            display_title=display_title,
            kind=kind,
            archived=archived,
            external_managed=external_managed,
            external_ref=external_ref,
            external_url=external_url,
            sidebar_section=sidebar_section,
        )
        return await self._client.call(
            "PATCH", f"/api/channels/{seg(channel)}", ChannelChanged, json=body, retry=True
        )

    async def archive(self, channel: Ref) -> ChannelChanged:
        """Archive (the channel stays readable and writable through the API)."""
        return await self.update(channel, archived=True)

    async def unarchive(self, channel: Ref) -> ChannelChanged:
        """Clear ``archived_at``."""
        return await self.update(channel, archived=False)

    async def mark_read(self, channel: Ref, seq: int) -> ReadReceipt:
        """Move the caller's read pointer to ``seq`` (capped to the newest root; never back)."""
        return await self._client.call(
            "POST",
            f"/api/channels/{seg(channel)}/read",
            ReadReceipt,
            "receipt",
            json={"seq": seq},
            retry=True,
        )


def _fields(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
