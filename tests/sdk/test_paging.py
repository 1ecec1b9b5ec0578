"""``Pager``: page-by-page async iteration."""

from __future__ import annotations

from clickclack_sdk import Pager


def _pages(data: list[list[int]]) -> tuple[Pager[int, int], list[int]]:
    asked: list[int] = []

    async def fetch(cursor: int) -> tuple[list[int], int | None]:
        asked.append(cursor)
        more = cursor + 1 if cursor + 1 < len(data) else None
        return data[cursor], more

    return Pager(fetch, 0), asked


async def test_yields_every_item_in_page_order() -> None:
    pager, asked = _pages([[1, 2], [3], [4, 5]])
    assert [item async for item in pager] == [1, 2, 3, 4, 5]
    assert asked == [0, 1, 2] and pager.pages == 3
    assert [item async for item in pager] == []


async def test_an_empty_page_ends_iteration() -> None:
    pager, asked = _pages([[1], [], [2]])
    assert await pager.collect() == [1]
    assert asked == [0, 1]


async def test_limit_stops_before_asking_for_more_pages() -> None:
    async def fetch(cursor: int) -> tuple[list[int], int | None]:
        return [cursor * 10, cursor * 10 + 1], cursor + 1

    pager = Pager(fetch, 0, limit=3)
    assert await pager.collect() == [0, 1, 10]
    assert pager.pages == 2


async def test_pages_are_fetched_lazily() -> None:
    pager, asked = _pages([[1, 2], [3]])
    assert await pager.__anext__() == 1
    assert asked == [0]
    assert await pager.__anext__() == 2
    assert asked == [0]
    assert await pager.__anext__() == 3
    assert asked == [0, 1]
