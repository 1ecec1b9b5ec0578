"""Async iteration over paged endpoints, one page request at a time.

A :class:`Pager` is a plain async iterator object (not an async generator), so stopping early
leaves nothing to finalise: breaking out of ``async for`` simply stops asking for pages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
C = TypeVar("C")

PageFetcher = Callable[[C], Awaitable[tuple[list[T], C | None]]]
"""Fetch the page at cursor ``C``: its items and the next cursor (``None`` on the last page)."""


class Pager(Generic[T, C]):
    """Yields the items of successive pages until a page says it is the last.

    ``limit`` caps the total number of items yielded (``None``: all of them).
    """

    def __init__(self, fetch: PageFetcher[C, T], start: C, *, limit: int | None = None) -> None:
        self._fetch = fetch
        self._cursor: C | None = start
        self._buffer: deque[T] = deque()
        self._remaining = limit
        self.pages = 0
        """How many pages were requested so far."""

    def __aiter__(self) -> Pager[T, C]:
        return self

    async def __anext__(self) -> T:
        if self._remaining is not None and self._remaining <= 0:
            raise StopAsyncIteration
        while not self._buffer:
            if self._cursor is None:
                raise StopAsyncIteration
            items, self._cursor = await self._fetch(self._cursor)
            self.pages += 1
            self._buffer.extend(items)
            if not items:
                self._cursor = None
        if self._remaining is not None:
            self._remaining -= 1
        return self._buffer.popleft()

    async def collect(self) -> list[T]:
        """Every remaining item as a list."""
        return [item async for item in self]
