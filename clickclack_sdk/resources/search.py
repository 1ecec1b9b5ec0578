"""Message search (protocol 3.10)."""

from __future__ import annotations

from clickclack_sdk._envelopes import SearchPage
from clickclack_sdk._models import SearchHit
from clickclack_sdk._paging import Pager
from clickclack_sdk._refs import Ref, ident
from clickclack_sdk.resources._base import Resource


class SearchResource(Resource):
    """``client.search``: full-text search over channel messages, or one DM."""

    __slots__ = ()

    async def page(
        self,
        workspace: Ref,
        query: str,
        *,
        channel: Ref | None = None,
        conversation: Ref | None = None,
        sort: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> SearchPage:
        """One page of hits: every term must match; ``sort`` is ``relevance`` (default) or
        ``newest``; ``limit`` 1-100 (default 50). Channel and conversation are exclusive."""
        return await self._client.call(
            "GET",
            "/api/search",
            SearchPage,
            params={
                "workspace_id": ident(workspace),
                "q": query,
                "channel_id": None if channel is None else ident(channel),
                "direct_conversation_id": None if conversation is None else ident(conversation),
                "sort": sort,
                "limit": limit,
                "cursor": cursor,
            },
        )

    def iter(
        self,
        workspace: Ref,
        query: str,
        *,
        channel: Ref | None = None,
        conversation: Ref | None = None,
        sort: str | None = None,
        page_size: int | None = None,
        limit: int | None = None,
    ) -> Pager[SearchHit, str]:
        """Every hit across pages (at most ``limit``), fetched as you iterate."""

        async def fetch(cursor: str) -> tuple[list[SearchHit], str | None]:
            page = await self.page(
                workspace,
                query,
                channel=channel,
                conversation=conversation,
                sort=sort,
                limit=page_size,
                cursor=cursor or None,
            )
            return page.results, page.next_cursor or None

        return Pager(fetch, "", limit=limit)
