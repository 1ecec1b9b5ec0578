"""Threads: one level of replies under a root message (protocol 3.8)."""

from __future__ import annotations

from typing import Any

from clickclack_sdk._envelopes import ReplyCreated
from clickclack_sdk._models import Message, ThreadPage
from clickclack_sdk._paging import Pager
from clickclack_sdk._refs import Ref, ident, new_nonce, seg
from clickclack_sdk.resources._base import Resource
from clickclack_sdk.resources._sending import draft, message_by_nonce, send_once
from clickclack_sdk.resources._timeline import window_params


class ThreadsResource(Resource):
    """``client.threads``: open a thread (root, replies, state), reply, iterate replies."""

    __slots__ = ()

    async def open(
        self,
        root: Ref,
        *,
        limit: int | None = None,
        latest: bool = False,
        after_seq: int | None = None,
        before_seq: int | None = None,
        around_seq: int | None = None,
    ) -> ThreadPage:
        """``GET /api/messages/{id}/thread``: the earliest replies by default, the newest with
        ``latest=True``, or a window over ``thread_seq``. Allocates the root's ``route_id``."""
        params = window_params(
            limit=limit, after_seq=after_seq, before_seq=before_seq, around_seq=around_seq
        )
        if latest:
            if any(v is not None for v in (after_seq, before_seq, around_seq)):
                raise ValueError("latest cannot be combined with a seq cursor")
            params["latest"] = "true"
        return await self._client.call(
            "GET", f"/api/messages/{seg(root)}/thread", ThreadPage, params=params
        )

    def iter_replies(
        self,
        root: Ref,
        *,
        after_seq: int = 0,
        page_size: int = 100,
        limit: int | None = None,
    ) -> Pager[Message, int]:
        """Replies oldest first after ``after_seq`` (0: from the first reply)."""

        async def fetch(cursor: int) -> tuple[list[Message], int | None]:
            page = await self.open(root, limit=page_size, after_seq=cursor)
            more = page.newest_seq if page.has_newer and page.replies else None
            return page.replies, more

        return Pager(fetch, after_seq, limit=limit)

    async def reply(
        self,
        root: Ref,
        body: str,
        *,
        nonce: str | None = None,
        quote: Ref | None = None,
    ) -> ReplyCreated:
        """Reply in the thread of ``root`` (a channel or DM root), exactly once (a nonce is
        generated unless given; see :meth:`MessagesResource.send`)."""
        root_id = ident(root)
        workspace_id: Any = getattr(root, "workspace_id", None)
        nonce = nonce or new_nonce()
        data = draft(body, nonce=nonce, quoted_message_id=None if quote is None else ident(quote))

        async def post() -> ReplyCreated:
            return await self._client.call(
                "POST",
                f"/api/messages/{seg(root_id)}/thread/replies",
                ReplyCreated,
                json=data,
                retry=True,
            )

        async def recover() -> ReplyCreated | None:
            workspace = workspace_id
            if not isinstance(workspace, str):
                workspace = (await self._client.messages.get(root_id)).workspace_id
            found = await message_by_nonce(self._client, workspace, nonce)
            if found is None:
                return None
            state = (await self.open(root_id, limit=1)).thread_state
            return ReplyCreated(message=found, thread_state=state)

        return await send_once(post, recover)
