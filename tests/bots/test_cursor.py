"""Committed cursors: contiguous finished prefix only; the file store survives restarts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from clickclack_bots import (
    BEGINNING,
    CommitTracker,
    CursorStoreError,
    FileCursorStore,
    MemoryCursorStore,
)


@given(st.permutations(list(range(12))))
def test_committed_is_the_finished_prefix(order: list[int]) -> None:
    tracker = CommitTracker("cur_000")
    entries = [tracker.add(f"cur_{i + 1:03d}") for i in range(12)]
    done: set[int] = set()
    for index in order:
        entries[index].finish()
        entries[index].finish()  # idempotent
        done.add(index)
        prefix = 0
        while prefix in done:
            prefix += 1
        expected = "cur_000" if prefix == 0 else f"cur_{prefix:03d}"
        assert tracker.committed == expected
        assert tracker.lag == 12 - prefix
    assert tracker.last_seen == "cur_012"


def test_jump_commits_after_earlier_events_finish() -> None:
    tracker = CommitTracker(None)
    first = tracker.add("cur_1")
    tracker.jump("cur_9")
    assert tracker.committed is None
    first.finish()
    assert tracker.committed == "cur_9"
    assert tracker.lag == 0


async def test_wait_changed_wakes_every_waiter() -> None:
    tracker = CommitTracker("")
    entry = tracker.add("cur_1")
    woke: list[int] = []

    async def waiter(n: int) -> None:
        await tracker.wait_changed()
        woke.append(n)

    async with trio.open_nursery() as nursery:
        for n in range(3):
            nursery.start_soon(waiter, n)
        await trio.testing.wait_all_tasks_blocked()
        entry.finish()
    assert sorted(woke) == [0, 1, 2]


async def test_file_store_round_trip_and_layout(tmp_path: Path) -> None:
    store = FileCursorStore(tmp_path / "state")
    assert await store.load("wsp_1.usr/../x") is None
    await store.save("wsp_1.usr/../x", BEGINNING)
    assert await store.load("wsp_1.usr/../x") == ""
    await store.save("wsp_1.usr/../x", "cur_01")
    assert await store.load("wsp_1.usr/../x") == "cur_01"
    files = sorted(p.name for p in (tmp_path / "state").iterdir())
    assert files == ["wsp_1.usr_.._x.cursor.json"]
    assert json.loads((tmp_path / "state" / files[0]).read_text())["cursor"] == "cur_01"


@pytest.mark.parametrize("content", ["not json", "[]", '{"cursor": 5}'])
async def test_file_store_refuses_to_guess(tmp_path: Path, content: str) -> None:
    store = FileCursorStore(tmp_path)
    store.path_for("acct").write_text(content)
    with pytest.raises(CursorStoreError):
        await store.load("acct")


async def test_memory_store() -> None:
    store = MemoryCursorStore()
    assert await store.load("a") is None
    await store.save("a", "cur_1")
    assert await store.load("a") == "cur_1"
