"""Direct conversations and their messages (protocol 3.12)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from clickclack_sdk._envelopes import MessageCreated
from clickclack_sdk._models import DirectConversation, MessagePage, ReadReceipt
from clickclack_sdk._refs import Ref, ident, new_nonce, seg
from clickclack_sdk.resources._base import Resource
from clickclack_sdk.resources._sending import draft, message_by_nonce, send_once
from clickclack_sdk.resources._timeline import Timeline, window_params


class DmsResource(Resource, Timeline):
    """``client.dms``: open conversations with people, send and read DMs."""

    __slots__ = ()

    async def list(self, workspace: Ref) -> builtins.list[DirectConversation]:
        """The caller's conversations in the workspace (hidden ones excluded), oldest first."""
        return await self._client.call(
            "GET",
            "/api/dms",
            builtins.list[DirectConversation],
            "conversations",
            params={"workspace_id": ident(workspace)},
        )

    async def create(self, workspace: Ref, members: Iterable[Ref]) -> DirectConversation:
        """Open a conversation with ``members`` (the caller is added). A one-to-one pair is
        reused (and un-hidden) if it exists, so that case is safe to retry."""
        member_ids = [ident(member) for member in members]
        return await self._client.call(
            "POST",
            "/api/dms",
            DirectConversation,
            "conversation",
            json={"workspace_id": ident(workspace), "member_ids": member_ids},
            retry=len(set(member_ids)) <= 2,
        )

    async def get(self, conversation: Ref) -> DirectConversation:
        """``GET /api/dms/{id}`` (also for hidden conversations)."""
        return await self._client.call(
            "GET", f"/api/dms/{seg(conversation)}", DirectConversation, "conversation"
        )

    async def hide(self, conversation: Ref) -> None:
        """Hide the conversation for the caller only (humans); a new message un-hides it."""
        await self._client.request("DELETE", f"/api/dms/{seg(conversation)}")

    async def open(self, conversation: Ref) -> DirectConversation:
        """Un-hide a conversation for the caller (humans)."""
        return await self._client.call(
            "POST",
            f"/api/dms/{seg(conversation)}/open",
            DirectConversation,
            "conversation",
            retry=True,
        )

    async def send(
        self,
        conversation: Ref,
        body: str,
        *,
        nonce: str | None = None,
        quote: Ref | None = None,
        upload: Ref | None = None,
        kind: str | None = None,
        turn_id: str | None = None,
    ) -> MessageCreated:
        """Post a DM root, exactly once (see :meth:`MessagesResource.send`)."""
        conversation_id = ident(conversation)
        workspace_id: Any = getattr(conversation, "workspace_id", None)
        nonce = nonce or new_nonce()
        data = draft(
            body,
            nonce=nonce,
            quoted_message_id=None if quote is None else ident(quote),
            upload_id=None if upload is None else ident(upload),
            kind=kind,
            turn_id=turn_id,
        )

        async def post() -> MessageCreated:
            return await self._client.call(
                "POST",
                f"/api/dms/{seg(conversation_id)}/messages",
                MessageCreated,
                json=data,
                retry=True,
            )

        async def recover() -> MessageCreated | None:
            workspace = workspace_id
            if not isinstance(workspace, str):
                workspace = (await self.get(conversation_id)).workspace_id
            found = await message_by_nonce(self._client, workspace, nonce)
            return None if found is None else MessageCreated(message=found)

        return await send_once(post, recover)

    async def page(
        self,
        conversation: Ref,
        *,
        limit: int | None = None,
        after_seq: int | None = None,
        before_seq: int | None = None,
        around_seq: int | None = None,
    ) -> MessagePage:
        """One window of the conversation (same rules as channel pages)."""
        params = window_params(
            limit=limit, after_seq=after_seq, before_seq=before_seq, around_seq=around_seq
        )
        return await self._window(ident(conversation), params)

    async def mark_read(self, conversation: Ref, seq: int) -> ReadReceipt:
        """Move the caller's DM read pointer to ``seq`` (never backwards)."""
        return await self._client.call(
            "POST",
            f"/api/dms/{seg(conversation)}/read",
            ReadReceipt,
            "receipt",
            json={"seq": seq},
            retry=True,
        )

    async def _window(self, conversation_id: str, params: dict[str, Any]) -> MessagePage:
        return await self._client.call(
            "GET", f"/api/dms/{seg(conversation_id)}/messages", MessagePage, params=params
        )
