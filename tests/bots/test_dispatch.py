"""Lanes: order within a lane, concurrency across lanes, a global limit, backpressure."""

from __future__ import annotations

import pytest
import trio
import trio.lowlevel
import trio.testing

from clickclack_bots import Dispatcher


async def test_order_within_lane_and_concurrency_across_lanes() -> None:
    seen: dict[str, list[int]] = {"a": [], "b": []}
    running: set[str] = set()
    overlap = trio.Event()
    release = trio.Event()

    async def process(job: tuple[str, int]) -> None:
        lane, n = job
        running.add(lane)
        if len(running) == 2:
            overlap.set()
        if n == 0:
            await release.wait()
        await trio.lowlevel.checkpoint()
        seen[lane].append(n)
        running.discard(lane)

    dispatcher: Dispatcher[tuple[str, int]] = Dispatcher(process, lane_buffer=100)
    async with trio.open_nursery() as nursery:
        await nursery.start(dispatcher.run)
        for n in range(20):
            await dispatcher.submit("a", ("a", n))
            await dispatcher.submit("b", ("b", n))
        with trio.fail_after(5):
            await overlap.wait()  # both lanes' first jobs run at the same time
        assert seen == {"a": [], "b": []}  # and nothing overtook them
        release.set()
        with trio.fail_after(5):
            await dispatcher.wait_idle()
        dispatcher.close()
    assert seen == {"a": list(range(20)), "b": list(range(20))}
    stats = dispatcher.statistics()
    assert (stats.submitted, stats.completed, stats.queued) == (40, 40, 0)


async def test_global_capacity_limit() -> None:
    active = 0
    peak = 0
    gate = trio.Event()

    async def process(job: int) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await gate.wait()
        active -= 1

    dispatcher: Dispatcher[int] = Dispatcher(process, max_concurrency=3)
    async with trio.open_nursery() as nursery:
        await nursery.start(dispatcher.run)
        for n in range(10):
            await dispatcher.submit(f"lane-{n}", n)
        await trio.testing.wait_all_tasks_blocked()
        stats = dispatcher.statistics()
        assert (peak, stats.in_flight, stats.lanes) == (3, 3, 10)
        gate.set()
        await dispatcher.wait_idle()
        dispatcher.close()
    assert peak == 3


async def test_full_lane_blocks_submit() -> None:
    gate = trio.Event()

    async def process(job: int) -> None:
        await gate.wait()

    dispatcher: Dispatcher[int] = Dispatcher(process, lane_buffer=2)
    async with trio.open_nursery() as nursery:
        await nursery.start(dispatcher.run)
        for n in range(3):  # one running, two buffered
            await dispatcher.submit("x", n)
        await trio.testing.wait_all_tasks_blocked()
        assert dispatcher.statistics().max_lane_depth == 2
        with trio.move_on_after(0.05) as blocked:
            await dispatcher.submit("x", 3)
        assert blocked.cancelled_caught
        await dispatcher.submit("other", 4)  # other lanes are not blocked
        gate.set()
        await dispatcher.wait_idle()
        dispatcher.close()


async def test_idle_lanes_end_and_closed_dispatcher_refuses(autojump_clock: trio.abc.Clock) -> None:
    done: list[int] = []

    async def process(job: int) -> None:
        done.append(job)

    dispatcher: Dispatcher[int] = Dispatcher(process, idle_timeout=1.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(dispatcher.run)
        await dispatcher.submit("x", 1)
        await dispatcher.wait_idle()
        assert dispatcher.statistics().lanes == 1
        await trio.sleep(2)
        assert dispatcher.statistics().lanes == 0
        await dispatcher.submit("x", 2)  # a new worker for the same lane
        await dispatcher.wait_idle()
        dispatcher.close()
    assert done == [1, 2]
    with pytest.raises(trio.ClosedResourceError):
        await dispatcher.submit("x", 3)


def test_bad_limits() -> None:
    async def process(job: int) -> None: ...

    with pytest.raises(ValueError):
        Dispatcher(process, max_concurrency=0)
