"""Intake: how one account's events reach the lanes, with nothing skipped however far behind.

The socket replays at most 5,000 events from a cursor; further behind, or from a pruned
cursor, it closes with 4001 (protocol 4.6). So :class:`Intake` works in passes:

1. **Catch up** through ``GET /api/realtime/events`` from the position (the cursor of the last
   event handed over; at start, the saved one), page by page, until a short page says the tail
   is reached;
2. **follow** the socket from there (the SDK stream: reconnects with backoff from its cursor);
3. a 4001 while following means the socket cannot replay: back to 1 from the position.

Every event goes through the one ``deliver`` callable (the runtime's lanes and commit tracking),
in cursor order, each durable event once: anything at or before the position is dropped.

Pull has no staleness check (protocol 4.7), so gaps are found here: pruning removes the
*oldest* events, so while the oldest event the bot can see is at or before a position, nothing
after that position is gone. After each page fetched from a position, the oldest retained event
is looked up; if it lies beyond the position, the events between may have been pruned: that is
an :class:`EventGap`, handed to ``on_gap`` once, and the intake goes on from the oldest retained
event (the page already fetched). A gap is never skipped over silently, and nothing still
retained is skipped either.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Awaitable, Callable
from typing import Literal

import attrs
import trio

from clickclack_bots._bot import Bot
from clickclack_bots._context import ResyncContext, Services
from clickclack_sdk import (
    ClickClackError,
    Client,
    Event,
    EventBatch,
    EventStream,
    ResyncRequired,
    RetryPolicy,
)

log = logging.getLogger("clickclack_bots")

PAGE_SIZE = 500
"""Events per pull page (the endpoint's maximum)."""
POLL_INTERVAL = 1.0
"""Seconds between pulls at the tail with ``transport="pull"``."""
GAP_REASON = "events pruned past the cursor"


class EventGap(ResyncRequired):
    """Events after ``cursor`` may have been pruned from the server's log before the bot got
    them: the resync handlers receive this as ``ctx.error``.

    ``cursor`` is the last event handed over before the gap; ``resumed_at`` the oldest retained
    event the bot may see, the first one handled after the gap (``None``: nothing is retained
    after ``cursor``; the bot goes on with new events), created at ``resumed_created_at``;
    ``tail`` the newest event the bot could see when the gap was found (``None``: none). What
    lay strictly between ``cursor`` and ``resumed_at`` is gone: refetch state through REST.
    """

    def __init__(
        self,
        *,
        cursor: str,
        resumed_at: str | None,
        resumed_created_at: str | None,
        tail: str | None,
    ) -> None:
        if resumed_at is None:
            where = "nothing after it is retained; going on with new events"
        else:
            where = (
                f"resuming at the oldest retained event {resumed_at} "
                f"(created {resumed_created_at}); newest {tail}"
            )
        super().__init__(
            f"event gap: events after {cursor} were pruned before they were handled; {where}",
            cursor=cursor,
            reason=GAP_REASON,
        )
        self.resumed_at = resumed_at
        self.resumed_created_at = resumed_created_at
        self.tail = tail


@attrs.frozen(kw_only=True)
class IntakeStatistics:
    """Counters of an :class:`Intake`."""

    connected: bool
    live: bool
    """Following the socket (or, with pull, polling at the tail)."""
    reconnects: int
    catch_ups: int
    """Catch-up passes through pull (one at start, one after each 4001)."""
    catch_up_events: int
    """Events handed over from pull pages (the others came over the socket)."""
    refusals: int
    """Closes 4001 (the socket could not replay from the position)."""
    gaps: int


Deliver = Callable[[Event], Awaitable[None]]
GapHandler = Callable[[EventGap], Awaitable[None]]


class Intake:
    """Catch up by pull, follow the socket, catch up again on 4001 (see the module docstring).

    ``await nursery.start(intake.run, cursor)`` returns once the server answered the first pull
    (credentials and workspace checked); failures before that are raised to the starter.
    Transient failures are retried with ``policy``; others end :meth:`run` with the error.
    """

    def __init__(
        self,
        client: Client,
        workspace_id: str,
        *,
        deliver: Deliver,
        on_gap: GapHandler,
        policy: RetryPolicy,
        transport: Literal["websocket", "pull"] = "websocket",
        ping_interval: float | None = 30.0,
        page_size: int = PAGE_SIZE,
        poll_interval: float = POLL_INTERVAL,
        label: str = "",
    ) -> None:
        self._client = client
        self._workspace_id = workspace_id
        self._deliver = deliver
        self._on_gap = on_gap
        self._policy = policy
        self._transport = transport
        self._ping_interval = ping_interval
        self._page_size = page_size
        self._poll_interval = poll_interval
        self._label = label
        self.position = ""
        """Cursor of the last durable event handed over (at start: where it resumes)."""
        self._reported: str | None = None
        self._stream: EventStream | None = None
        self._task_status: trio.TaskStatus[None] | None = None
        self._connected = False
        self._live = trio.Event()
        self._delivered = 0
        self._reconnects = 0
        self._stream_reconnects = 0
        self._catch_ups = 0
        self._catch_up_events = 0
        self._refusals = 0
        self._gaps = 0

    def statistics(self) -> IntakeStatistics:
        stream = self._stream.statistics() if self._stream is not None else None
        return IntakeStatistics(
            connected=stream.connected if stream is not None else self._connected,
            live=self._live.is_set(),
            reconnects=self._reconnects
            + self._stream_reconnects
            + (stream.reconnects if stream else 0),
            catch_ups=self._catch_ups,
            catch_up_events=self._catch_up_events,
            refusals=self._refusals,
            gaps=self._gaps,
        )

    async def wait_live(self) -> None:
        """Block until the intake is caught up and follows the socket (or polls the tail)."""
        await self._live.wait()

    async def run(
        self, start: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Hand over every event after ``start`` until cancelled (or a fatal error)."""
        self.position = start
        self._task_status = task_status
        stalls = 0
        while True:
            before = self._delivered
            cursor = await self._catch_up()
            if self._transport == "pull":
                self._live.set()
                await trio.sleep(self._poll_interval * random.uniform(0.9, 1.1))
                continue
            await self._follow(cursor)
            # Refused (4001). Refused again with nothing handed over since the last pass: the
            # position itself is what the socket cannot start from; do not spin on it.
            stalls = stalls + 1 if self._delivered == before else 0
            if stalls:
                await trio.sleep(self._policy.delay(stalls))

    # Catching up.

    async def _catch_up(self) -> str:
        """Pull from the position to the tail; returns the cursor for the socket to start at."""
        self._catch_ups += 1
        began, start, handed = trio.current_time(), self.position, 0
        while True:
            after = self.position
            batch = await self._pull(after, self._page_size, include_tail=True)
            if after:
                await self._check_gap(after, batch)
            for event in batch.events:
                if await self._hand_over(event):
                    self._catch_up_events += 1
                    handed += 1
            if len(batch.events) < self._page_size:
                break
        if handed >= self._page_size:
            log.info(
                "[%s] caught up %d events by pull from %s in %.1fs",
                self._label,
                handed,
                start or "the oldest retained event",
                trio.current_time() - began,
            )
        tail = batch.tail_cursor or ""
        if not handed and tail < self.position:
            # The position is no event the bot may see now (pruned, or hidden since): the
            # socket would refuse it. Nothing visible follows it, so start at the visible tail.
            return tail
        return self.position

    async def _check_gap(self, after: str, batch: EventBatch) -> None:
        """Report an :class:`EventGap` when events after ``after`` may have been pruned
        before ``batch`` (fetched from ``after``) was read."""
        oldest = await self._pull("", 1)
        if oldest.events and oldest.events[0].cursor <= after:
            return
        if self._reported == after:  # reported once; nothing handed over since
            return
        self._reported = after
        first = batch.events[0] if batch.events else None
        gap = EventGap(
            cursor=after,
            resumed_at=first.cursor if first else None,
            resumed_created_at=first.created_at if first else None,
            tail=batch.tail_cursor or None,
        )
        self._gaps += 1
        await self._on_gap(gap)

    async def _pull(self, after: str, limit: int, *, include_tail: bool = False) -> EventBatch:
        """One pull page, retried with the policy on transient failures."""
        failures = 0
        while True:
            try:
                batch = await self._client.realtime.pull(
                    self._workspace_id,
                    after_cursor=after or None,
                    limit=limit,
                    include_tail=include_tail,
                )
            except ClickClackError as error:
                self._connected = False
                failures += 1
                if not self._policy.is_retryable(error) or not self._policy.allows(failures):
                    raise
                await trio.sleep(self._policy.delay(failures, error))
                continue
            if failures and self._task_status is None:
                self._reconnects += 1
            self._connected = True
            if self._task_status is not None:
                status, self._task_status = self._task_status, None
                status.started()
            return batch

    # Following the socket.

    async def _follow(self, cursor: str) -> None:
        """Hand over socket events from ``cursor`` until the server refuses replay (4001)."""
        try:
            async with self._client.realtime.connect(
                self._workspace_id,
                after_cursor=cursor,  # never None: that would mean "from the tail"
                transport="websocket",
                reconnect=self._policy,
                ping_interval=self._ping_interval,
            ) as stream:
                self._stream = stream
                self._live.set()
                async for event in stream:
                    await self._hand_over(event)
        except ResyncRequired as refused:
            self._refusals += 1
            log.info(
                "[%s] the socket cannot replay from %s (%s): catching up by pull",
                self._label,
                self.position or "the oldest retained event",
                refused.reason or "close 4001",
            )
            return
        finally:
            if self._stream is not None:
                self._stream_reconnects += self._stream.statistics().reconnects
                self._stream = None
            if self._live.is_set():
                self._live = trio.Event()
        raise ClickClackError("realtime stream ended")

    async def _hand_over(self, event: Event) -> bool:
        """Deliver ``event`` unless it is a durable one at or before the position."""
        if event.cursor:
            if self.position and event.cursor <= self.position:
                return False
            self.position = event.cursor
        self._delivered += 1
        await self._deliver(event)
        return True


async def run_resync_hooks(
    bot: Bot,
    services: Services,
    gap: EventGap,
    *,
    label: str,
    hook_log: Callable[[str], logging.LoggerAdapter[logging.Logger]],
) -> None:
    """The default gap handling: say so loudly, then run the bot's resync hooks (``ctx.error``
    is ``gap``), each within the handler timeout; the retained events are handled after."""
    log.error("[%s] %s; running %d resync hook(s)", label, gap, len(bot.resync_hooks))
    for key, hook in bot.resync_hooks:
        ctx = ResyncContext(
            services,
            gap,
            handler_key=key,
            seed=f"resync-{gap.cursor}",  # the same gap after a crash: the same nonces
            log=hook_log(key),
        )
        try:
            with trio.move_on_after(bot.handler_timeout or math.inf):
                await hook(ctx)
        except Exception:
            log.exception("[%s] resync hook %s failed", label, key)
