"""Channel and DM timelines share page parameters and iteration (protocol 3.1)."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from clickclack_sdk._models import Message, MessagePage
from clickclack_sdk._paging import Pager
from clickclack_sdk._refs import Ref, ident

FetchPage = Callable[[dict[str, Any]], Awaitable[MessagePage]]


def window_params(
    *,
    limit: int | None,
    after_seq: int | None,
    before_seq: int | None,
    around_seq: int | None,
) -> dict[str, Any]:
    """Query parameters of one timeline window; at most one cursor, none means "latest"."""
    if sum(value is not None for value in (after_seq, before_seq, around_seq)) > 1:
        raise ValueError("after_seq, before_seq and around_seq are mutually exclusive")
    return {
        "limit": limit,
        "after_seq": after_seq,
        "before_seq": before_seq,
        "around_seq": around_seq,
    }


def iter_backward(
    fetch: FetchPage, *, before_seq: int | None, page_size: int, limit: int | None
) -> Pager[Message, int]:
    """Newest first: the latest window (or the one before ``before_seq``), then older ones."""

    async def page(cursor: int) -> tuple[list[Message], int | None]:
        params = window_params(
            limit=page_size,
            after_seq=None,
            before_seq=None if cursor < 0 else cursor,
            around_seq=None,
        )
        result = await fetch(params)
        more = result.oldest_seq if result.has_older and result.messages else None
        return list(reversed(result.messages)), more

    return Pager(page, -1 if before_seq is None else before_seq, limit=limit)


def iter_forward(
    fetch: FetchPage, *, after_seq: int, page_size: int, limit: int | None
) -> Pager[Message, int]:
    """Oldest first from ``after_seq`` (exclusive; 0 = the beginning) up to the newest."""

    async def page(cursor: int) -> tuple[list[Message], int | None]:
        params = window_params(limit=page_size, after_seq=cursor, before_seq=None, around_seq=None)
        result = await fetch(params)
        more = result.newest_seq if result.has_newer and result.messages else None
        return result.messages, more

    return Pager(page, after_seq, limit=limit)


class Timeline(abc.ABC):
    """Newest-first and oldest-first iteration over a channel's or a DM's roots, for a resource
    that can fetch one window of a timeline by id."""

    @abc.abstractmethod
    async def _window(self, timeline_id: str, params: dict[str, Any]) -> MessagePage: ...

    def iter_backward(
        self,
        timeline: Ref,
        *,
        before_seq: int | None = None,
        page_size: int = 100,
        limit: int | None = None,
    ) -> Pager[Message, int]:
        """Roots newest first, from the latest (or before ``before_seq``) back to the first."""
        return iter_backward(
            partial(self._window, ident(timeline)),
            before_seq=before_seq,
            page_size=page_size,
            limit=limit,
        )

    def iter_forward(
        self,
        timeline: Ref,
        *,
        after_seq: int = 0,
        page_size: int = 100,
        limit: int | None = None,
    ) -> Pager[Message, int]:
        """Roots oldest first, after ``after_seq`` (0: from the start) up to the newest."""
        return iter_forward(
            partial(self._window, ident(timeline)),
            after_seq=after_seq,
            page_size=page_size,
            limit=limit,
        )
