"""Channel messages: send, read, page, edit, delete (protocol 3.7)."""

from __future__ import annotations

from typing import Any

from clickclack_sdk._envelopes import MessageChanged, MessageCreated
from clickclack_sdk._models import Message, MessagePage
from clickclack_sdk._refs import Ref, ident, new_nonce, seg
from clickclack_sdk.resources._base import Resource
from clickclack_sdk.resources._sending import draft, message_by_nonce, send_once
from clickclack_sdk.resources._timeline import Timeline, window_params


class MessagesResource(Resource, Timeline):
    """``client.messages``: channel timelines and single messages (any kind: root, reply, DM)."""

    __slots__ = ()

    async def send(
        self,
        channel: Ref,
        body: str,
        *,
        nonce: str | None = None,
        quote: Ref | None = None,
        upload: Ref | None = None,
        topic_id: str | None = None,
        kind: str | None = None,
        turn_id: str | None = None,
    ) -> MessageCreated:
        """Post a root message to ``channel``, exactly once.

        A nonce is generated unless given, so the call can be retried safely (see
        :mod:`clickclack_sdk.resources._sending`); ``result.replayed`` is True when the server
        answered an earlier message with the same nonce. ``quote`` must be in the same channel;
        ``upload`` attaches an uploaded file; ``kind``/``turn_id`` post agent activity (bots
        with ``agent_activity:write``).
        """
        channel_id = ident(channel)
        workspace_id = getattr(channel, "workspace_id", None)
        if isinstance(workspace_id, str):
            self._client._note_channel(channel_id, workspace_id)
        nonce = nonce or new_nonce()
        data = draft(
            body,
            nonce=nonce,
            quoted_message_id=None if quote is None else ident(quote),
            upload_id=None if upload is None else ident(upload),
            topic_id=topic_id,
            kind=kind,
            turn_id=turn_id,
        )

        async def post() -> MessageCreated:
            return await self._client.call(
                "POST",
                f"/api/channels/{seg(channel_id)}/messages",
                MessageCreated,
                json=data,
                retry=True,
            )

        async def recover() -> MessageCreated | None:
            workspace = self._client._workspace_of_channel(channel_id)
            if workspace is None:
                workspace = (await self._client.channels.find(channel_id)).workspace_id
            found = await message_by_nonce(self._client, workspace, nonce)
            return None if found is None else MessageCreated(message=found)

        return await send_once(post, recover)

    async def get(self, message: Ref) -> Message:
        """``GET /api/messages/{id}``: any visible message, with attachments and reactions."""
        return await self._client.call("GET", f"/api/messages/{seg(message)}", Message, "message")

    async def by_nonce(self, workspace: Ref, nonce: str) -> Message | None:
        """The caller's own message sent with ``nonce``, or ``None`` when there is none."""
        return await message_by_nonce(self._client, ident(workspace), nonce)

    async def page(
        self,
        channel: Ref,
        *,
        limit: int | None = None,
        after_seq: int | None = None,
        before_seq: int | None = None,
        around_seq: int | None = None,
        topic_id: str | None = None,
    ) -> MessagePage:
        """One window of the channel's root timeline, ascending by seq (latest by default;
        ``limit`` 1-200, else the server's 100)."""
        params = window_params(
            limit=limit, after_seq=after_seq, before_seq=before_seq, around_seq=around_seq
        )
        params["topic_id"] = topic_id
        return await self._window(ident(channel), params)

    async def _window(self, channel_id: str, params: dict[str, Any]) -> MessagePage:
        return await self._client.call(
            "GET", f"/api/channels/{seg(channel_id)}/messages", MessagePage, params=params
        )

    async def edit(self, message: Ref, body: str) -> MessageChanged:
        """``PATCH /api/messages/{id}`` (author only): replace the body."""
        return await self._client.call(
            "PATCH", f"/api/messages/{seg(message)}", MessageChanged, json={"body": body}
        )

    async def delete(self, message: Ref) -> MessageChanged:
        """Soft-delete (author, or the workspace owner for channel messages). Deleting again
        answers a zero-value event."""
        return await self._client.call("DELETE", f"/api/messages/{seg(message)}", MessageChanged)

    async def ensure_route(self, message: Ref) -> Message:
        """Allocate (or read) the thread URL id (``M…``) of a channel root."""
        return await self._client.call(
            "POST", f"/api/messages/{seg(message)}/route", Message, "message", retry=True
        )

    async def attach(self, message: Ref, upload: Ref) -> None:
        """Attach an upload to the caller's own message (idempotent)."""
        await self._client.request(
            "POST",
            f"/api/messages/{seg(message)}/attachments",
            json={"upload_id": ident(upload)},
            retry=True,
        )
