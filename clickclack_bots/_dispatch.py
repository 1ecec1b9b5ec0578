"""Lanes: per-conversation ordering with concurrency across conversations.

Each job names a lane (a channel, a thread or a DM). A lane is a bounded memory channel with
one worker task, so its jobs run one at a time in arrival order; different lanes run at the
same time, at most ``max_concurrency`` jobs overall (a :class:`trio.CapacityLimiter`). A full
lane blocks :meth:`Dispatcher.submit`, which is the backpressure that reaches the realtime
socket. Idle lanes end their worker after ``idle_timeout`` seconds, so a bot that saw a
million conversations does not keep a million tasks.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import attrs
import trio

J = TypeVar("J")


@attrs.frozen(kw_only=True)
class DispatchStatistics:
    """Counters of the lanes at one moment."""

    lanes: int
    """Lanes with a live worker."""
    queued: int
    """Jobs waiting in lanes (not yet started)."""
    max_lane_depth: int
    """The longest lane's queue."""
    in_flight: int
    """Jobs running now."""
    submitted: int
    completed: int


@attrs.define(eq=False)
class _Lane(Generic[J]):
    send: trio.MemorySendChannel[J]
    receive: trio.MemoryReceiveChannel[J]
    busy: bool = False
    last_active: float = 0.0


class Dispatcher(Generic[J]):
    """Runs ``process(job)`` for submitted jobs, in order per lane, concurrently across lanes.

    Use :meth:`run` in a nursery (``await nursery.start(dispatcher.run)``), :meth:`submit`
    jobs, then :meth:`close`: lanes finish their queues and ``run`` returns. Cancelling
    ``run``'s scope abandons whatever is still queued or running.
    """

    def __init__(
        self,
        process: Callable[[J], Awaitable[None]],
        *,
        max_concurrency: int = 64,
        lane_buffer: int = 256,
        idle_timeout: float = 30.0,
    ) -> None:
        if max_concurrency < 1 or lane_buffer < 0:
            raise ValueError("max_concurrency must be >= 1 and lane_buffer >= 0")
        self._process = process
        self._limiter = trio.CapacityLimiter(max_concurrency)
        self._lane_buffer = lane_buffer
        self._idle_timeout = idle_timeout
        self._lanes: dict[str, _Lane[J]] = {}
        self._nursery: trio.Nursery | None = None
        self._closed = trio.Event()
        self._idle = trio.Event()
        self._submitted = 0
        self._completed = 0

    @property
    def limiter(self) -> trio.CapacityLimiter:
        """The global capacity limit (scheduled calls share it)."""
        return self._limiter

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            reaper = trio.CancelScope()
            nursery.start_soon(self._reap, reaper)
            await self._closed.wait()
            reaper.cancel()
            for lane in list(self._lanes.values()):
                lane.send.close()

    async def _reap(self, scope: trio.CancelScope) -> None:
        """End the workers of lanes idle for ``idle_timeout`` (checked every half of it)."""
        with scope:
            while True:
                await trio.sleep(self._idle_timeout / 2)
                now = trio.current_time()
                for key, lane in list(self._lanes.items()):
                    if (
                        not lane.busy
                        and now - lane.last_active >= self._idle_timeout
                        and lane.receive.statistics().current_buffer_used == 0
                    ):
                        del self._lanes[key]
                        lane.send.close()  # its worker sees the end of the channel and exits

    def close(self) -> None:
        """Accept no more jobs; queued ones still run."""
        self._closed.set()

    async def submit(self, lane_key: str, job: J) -> None:
        """Queue ``job`` on ``lane_key`` (blocks while that lane is full)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            if self._closed.is_set() or self._nursery is None:
                raise trio.ClosedResourceError("dispatcher is closed or not running")
            lane = self._lanes.get(lane_key)
            if lane is None:
                send, receive = trio.open_memory_channel[J](self._lane_buffer)
                lane = self._lanes[lane_key] = _Lane(send, receive)
                self._nursery.start_soon(self._work, lane_key, lane)
            if self._idle.is_set():
                self._idle = trio.Event()
            self._submitted += 1
            try:
                try:
                    lane.send.send_nowait(job)
                except trio.WouldBlock:
                    await lane.send.send(job)
                    return
            except trio.BrokenResourceError:
                # The lane's worker is gone (it was cancelled): forget the lane; a cancelled
                # caller stops at the checkpoint, any other gets a fresh lane.
                self._submitted -= 1
                if self._lanes.get(lane_key) is lane:
                    del self._lanes[lane_key]
                await trio.lowlevel.checkpoint()
                continue
            except BaseException:
                self._submitted -= 1  # never queued (cancelled while the lane was full)
                raise
            await trio.lowlevel.checkpoint()
            return

    async def _work(self, key: str, lane: _Lane[J]) -> None:
        receive = lane.receive
        with receive:
            while True:
                try:
                    job = receive.receive_nowait()
                except trio.WouldBlock:
                    if self._submitted == self._completed:
                        self._idle.set()
                    lane.last_active = trio.current_time()
                    try:
                        job = await receive.receive()
                    except trio.EndOfChannel:
                        return
                except trio.EndOfChannel:
                    return
                lane.busy = True
                try:
                    async with self._limiter:
                        await self._process(job)
                finally:
                    lane.busy = False
                    self._completed += 1
                if self._submitted == self._completed:
                    self._idle.set()

    async def wait_idle(self) -> None:
        """Block until every submitted job has completed."""
        while self._submitted != self._completed:
            await self._idle.wait()
            if self._submitted != self._completed:
                self._idle = trio.Event()
        await trio.lowlevel.checkpoint()

    def statistics(self) -> DispatchStatistics:
        depths = [lane.receive.statistics().current_buffer_used for lane in self._lanes.values()]
        return DispatchStatistics(
            lanes=len(self._lanes),
            queued=sum(depths),
            max_lane_depth=max(depths, default=0),
            in_flight=self._limiter.borrowed_tokens,
            submitted=self._submitted,
            completed=self._completed,
        )


def deadline_after(timeout: float | None) -> float:
    """A Trio deadline ``timeout`` seconds from now (``inf`` for ``None``)."""
    return math.inf if timeout is None else trio.current_time() + timeout
