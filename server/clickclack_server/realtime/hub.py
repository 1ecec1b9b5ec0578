"""The in-process realtime hub: wakes sockets, fans hub-only frames out, rechecks credentials.

Durable events are not pushed through the hub. A commit only marks its workspace dirty; one
reader per watched workspace (the *pump*) reads the new events from the log once, serialises
them once into the workspace's :class:`~clickclack_server.realtime.ring.Ring` together with a
fresh visibility snapshot, and wakes every socket of the workspace. Each socket then filters the
ring in memory from its own position, so live delivery costs one log read per publication and
workspace, not one per socket; a socket that fell behind the ring reads the log itself.
Reading the log (rather than trusting the order commit callbacks arrive in) keeps the ring
gap-free even for events written by another process, such as an admin command.

Credentials of open sockets are rechecked in batches: after every change to credentials or
memberships in this process (the database's ``auth`` change topic) and every
:data:`~clickclack_server.realtime.limits.RECHECK_INTERVAL` seconds. A socket delivers only
once it has been checked against the latest change.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from clickclack_sdk import Event
from clickclack_server.auth import Actor
from clickclack_server.db import Database
from clickclack_server.db.sqlite import CommittedEvent
from clickclack_server.realtime.closes import (
    ACCESS_REVOKED,
    REPLAY_INTERRUPTED,
    SHUTTING_DOWN,
    VERIFICATION_UNAVAILABLE,
    Close,
)
from clickclack_server.realtime.frames import frame_of
from clickclack_server.realtime.limits import RECHECK_INTERVAL, REPLAY_PAGE, RING_SIZE, WAKE_SLICE
from clickclack_server.realtime.ring import Ring
from clickclack_server.realtime.subscriber import Subscriber
from clickclack_server.realtime.visibility import Audience, WorkspaceAccess, may_see
from clickclack_server.store import realtime as store

log = logging.getLogger("clickclack_server.realtime")

CHANGE_TOPICS = ("auth", "dms")
"""Database change topics after which credentials and visibility snapshots are stale."""

BOT_CLOSING_NOTICES = frozenset({"bot.deleted", "bot.membership_removed"})


class HubUnavailable(RuntimeError):
    """The hub's service is not running (the server is starting or stopping)."""


class Topic:
    """One watched workspace: its sockets, its ring of recent events and its snapshot."""

    __slots__ = (
        "_dirty",
        "_lot",
        "access",
        "access_generation",
        "cancel_scope",
        "lock",
        "ring",
        "subscribers",
        "workspace_id",
    )

    def __init__(self, workspace_id: str) -> None:
        self.workspace_id = workspace_id
        self.subscribers: set[Subscriber] = set()
        self.ring: Ring | None = None
        self.access: WorkspaceAccess | None = None
        self.access_generation = -1
        self.lock = trio.Lock()
        self.cancel_scope = trio.CancelScope()
        self._dirty = True
        self._lot = trio.lowlevel.ParkingLot()

    def mark_dirty(self) -> None:
        self._dirty = True
        self._lot.unpark_all()

    async def wait_dirty(self) -> None:
        if self._dirty:
            await trio.lowlevel.checkpoint()
        else:
            await self._lot.park()
        self._dirty = False


@attrs.frozen
class HubStatistics:
    """Runtime counters: watched workspaces, open sockets, ring sizes and credential passes."""

    topics: int
    subscribers: int
    ring_events: int
    generation: int
    recheck_passes: int


class Hub:
    """Realtime fan-out for one server; see the module docstring for the design."""

    def __init__(
        self,
        db: Database,
        *,
        ring_size: int = RING_SIZE,
        recheck_interval: float = RECHECK_INTERVAL,
    ) -> None:
        self.db = db
        self.ring_size = ring_size
        self._recheck_interval = recheck_interval
        self.generation = 0
        self._topics: dict[str, Topic] = {}
        self._nursery: trio.Nursery | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._wake_queue: deque[Subscriber] = deque()
        self._waker_lot = trio.lowlevel.ParkingLot()
        self._pass_requested = False
        self._pass_lot = trio.lowlevel.ParkingLot()
        self._pass_done = trio.Event()
        self._passes = 0
        db.add_commit_listener(self._on_commit)
        for topic in CHANGE_TOPICS:
            db.add_change_listener(topic, self._on_change)

    # Service lifetime.

    @asynccontextmanager
    async def open_service(self) -> AsyncIterator[Hub]:
        """Run the hub's background tasks (workspace pumps, credential rechecks) inside."""
        async with trio.open_nursery() as nursery:
            self._token = trio.lowlevel.current_trio_token()
            self._nursery = nursery
            nursery.start_soon(self._recheck_loop)
            nursery.start_soon(self._wake_loop)
            try:
                yield self
            finally:
                self._nursery = None
                for topic in list(self._topics.values()):
                    for subscriber in topic.subscribers:
                        subscriber.close(SHUTTING_DOWN)
                    topic.cancel_scope.cancel()
                self._topics.clear()
                nursery.cancel_scope.cancel()

    def close_all(self, close: Close) -> None:
        """Ask every open socket to close with ``close`` (e.g. 1001 when the server stops)."""
        for topic in self._topics.values():
            for subscriber in topic.subscribers:
                subscriber.close(close)

    @property
    def recheck_interval(self) -> float:
        """Seconds between periodic credential rechecks; a new value applies at once."""
        return self._recheck_interval

    @recheck_interval.setter
    def recheck_interval(self, seconds: float) -> None:
        self._recheck_interval = seconds
        self._pass_lot.unpark_all()

    def statistics(self) -> HubStatistics:
        """Current counters (for tests, health checks and benchmarks)."""
        return HubStatistics(
            topics=len(self._topics),
            subscribers=sum(len(topic.subscribers) for topic in self._topics.values()),
            ring_events=sum(len(t.ring) for t in self._topics.values() if t.ring is not None),
            generation=self.generation,
            recheck_passes=self._passes,
        )

    # Sockets.

    def subscribe(self, workspace_id: str, actor: Actor, *, checked_generation: int) -> Subscriber:
        """Register a socket of ``actor`` (whose credential was verified no earlier than
        ``checked_generation``) on ``workspace_id``; its position starts at ""."""
        if self._nursery is None:
            raise HubUnavailable("realtime hub is not running")
        topic = self._topics.get(workspace_id)
        if topic is None:
            topic = Topic(workspace_id)
            self._topics[workspace_id] = topic
            self._nursery.start_soon(self._pump, topic)
        elif topic.access is not None and actor.user_id not in topic.access.roles:
            # A membership this process was not told about (an admin command, say).
            topic.access_generation = -1
        subscriber = Subscriber(
            workspace_id=workspace_id, actor=actor, checked_generation=checked_generation
        )
        topic.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a closed socket; a workspace without sockets stops being watched."""
        topic = self._topics.get(subscriber.workspace_id)
        if topic is None:
            return
        topic.subscribers.discard(subscriber)
        if not topic.subscribers:
            topic.cancel_scope.cancel()
            del self._topics[subscriber.workspace_id]

    def topic(self, workspace_id: str) -> Topic | None:
        """The watched workspace, while it has sockets."""
        return self._topics.get(workspace_id)

    async def wait_authorized(self, subscriber: Subscriber) -> None:
        """Return once ``subscriber``'s credential was checked after the latest change (or it
        got a close request)."""
        while subscriber.close_request is None and subscriber.checked_generation < self.generation:
            done = self._pass_done
            self._request_pass()
            await done.wait()

    # Publications.

    async def publish_ephemeral(self, event: Event, audience: Audience) -> None:
        """Hand a cursorless event to the sockets that may see ``audience`` (never stored)."""
        topic = self._topics.get(event.workspace_id)
        if topic is None:
            return
        access = await self._fresh_access(topic, audience)
        frame = frame_of(event)
        self._schedule_wakes(
            subscriber
            for subscriber in list(topic.subscribers)
            if may_see(subscriber.user_id, audience, access) and subscriber.push(frame)
        )

    def publish_notice(self, event: Event) -> None:
        """A hub-only notice (``bot_command.updated``, ``bot.deleted``, ...): delivered to the
        workspace's sockets; the bot notices close that bot's own sockets instead (1008)."""
        self._in_trio(self._deliver_notice, event)

    def _deliver_notice(self, event: Event) -> None:
        payload: dict[str, Any] = event.payload or {}
        bot_user_id = payload.get("bot_user_id") if event.type in BOT_CLOSING_NOTICES else None
        frame = frame_of(event)
        closes_everywhere = event.type == "bot.deleted" or not event.workspace_id
        for topic in list(self._topics.values()):
            in_workspace = topic.workspace_id == event.workspace_id
            for subscriber in list(topic.subscribers):
                if bot_user_id and subscriber.user_id == bot_user_id:
                    if in_workspace or closes_everywhere:
                        subscriber.close(ACCESS_REVOKED)
                elif in_workspace and subscriber.push(frame):
                    self._schedule_wakes((subscriber,))

    # Database callbacks (may arrive on a worker thread).

    def _in_trio(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            token: trio.lowlevel.TrioToken | None = trio.lowlevel.current_trio_token()
        except RuntimeError:
            token = None
        if token is not None and token is self._token:
            fn(*args)
        elif self._token is not None:
            self._token.run_sync_soon(fn, *args)

    def _on_commit(self, events: list[CommittedEvent]) -> None:
        self._in_trio(self._mark_dirty, {event.workspace_id for event in events})

    def _mark_dirty(self, workspace_ids: set[str]) -> None:
        for workspace_id in workspace_ids:
            topic = self._topics.get(workspace_id)
            if topic is not None:
                topic.mark_dirty()

    def _on_change(self) -> None:
        self._in_trio(self._bump_generation)

    def _bump_generation(self) -> None:
        self.generation += 1
        self._request_pass()

    # Paced wake-ups.

    def _schedule_wakes(self, subscribers: Iterable[Subscriber]) -> None:
        for subscriber in subscribers:
            if not subscriber.wake_queued:
                subscriber.wake_queued = True
                self._wake_queue.append(subscriber)
        self._waker_lot.unpark_all()

    async def _wake_loop(self) -> None:
        """Wake queued sockets, :data:`WAKE_SLICE` per scheduler pass.

        Waking a thousand sockets at once puts a thousand writes in flight together; their
        temporaries then outlive the young garbage-collector generations and trigger full
        collections, which pause the process for 100 ms and more with many sockets open.
        Pacing bounds what is in flight across all workspaces, and it waits for no write, so a
        stalled socket holds nobody up.
        """
        queue = self._wake_queue
        while True:
            while not queue:
                await self._waker_lot.park()
            for _ in range(min(WAKE_SLICE, len(queue))):
                subscriber = queue.popleft()
                subscriber.wake_queued = False
                subscriber.wake()
            await trio.lowlevel.checkpoint()

    # Workspace pumps.

    async def _pump(self, topic: Topic) -> None:
        """Read each publication batch of ``topic``'s workspace once and wake its sockets."""
        with topic.cancel_scope:
            while True:
                await topic.wait_dirty()
                try:
                    full = await self._advance(topic)
                except Exception:
                    log.exception("realtime: reading workspace %s failed", topic.workspace_id)
                    for subscriber in list(topic.subscribers):
                        subscriber.close(REPLAY_INTERRUPTED)
                    continue
                if full:
                    topic.mark_dirty()
                self._schedule_wakes(topic.subscribers)

    async def _advance(self, topic: Topic) -> bool:
        """Extend the ring with the log's new events; True when more may be waiting."""
        async with topic.lock:
            generation = self.generation
            read = await self.db.read(
                store.hub_read,
                topic.workspace_id,
                None if topic.ring is None else topic.ring.tail,
                limit=REPLAY_PAGE,
                access=topic.access,
                refresh=topic.access_generation < generation,
            )
            topic.access, topic.access_generation = read.access, generation
            if topic.ring is None:
                topic.ring = Ring(read.base or "", self.ring_size)
            else:
                topic.ring.extend(read.events)
            return len(read.events) == REPLAY_PAGE

    async def revalidate_ring(self, workspace_id: str, position: str) -> None:
        """Restart the workspace's ring when it holds events the log has lost.

        Events deleted behind the hub's back (``clickclack admin events prune`` from another
        process) may still sit in the ring, where a socket positioned before them, e.g. a new
        one on a log pruned empty, would be served them. Pruning removes the oldest events, so
        the ring is sound for ``position`` when its first event after ``position`` is still
        logged; one indexed lookup, only when the ring has events for that socket at all.
        Checked under the topic's lock, after any pump read in progress has landed.
        """
        topic = self._topics.get(workspace_id)
        if topic is None:
            return
        async with topic.lock:
            events = topic.ring.after(position) if topic.ring is not None else None
            if not events:
                return
            tail = await self.db.read(store.tail_if_missing, workspace_id, events[0].cursor)
            if tail is not None:
                log.info("realtime: workspace %s lost logged events; ring restarted", workspace_id)
                topic.ring = Ring(tail, self.ring_size)
                topic.mark_dirty()

    async def _fresh_access(self, topic: Topic, audience: Audience) -> WorkspaceAccess:
        async with topic.lock:
            generation = self.generation
            access = topic.access
            if access is None or topic.access_generation < generation or access.lacks(audience):
                access = await self.db.read(
                    store.hub_access,
                    topic.workspace_id,
                    access,
                    audience,
                    refresh=topic.access_generation < generation,
                )
                topic.access, topic.access_generation = access, generation
            return access

    # Credential rechecks.

    def _request_pass(self) -> None:
        self._pass_requested = True
        self._pass_lot.unpark_all()

    async def _recheck_loop(self) -> None:
        last = trio.current_time()
        while True:
            while not self._pass_requested:
                due = last + self._recheck_interval
                if trio.current_time() >= due:
                    break
                with trio.move_on_at(due):
                    await self._pass_lot.park()
            self._pass_requested = False
            last = trio.current_time()
            await self._recheck_pass()

    async def _recheck_pass(self) -> None:
        """Check every open socket's credential and membership in one read; visibility
        snapshots are reloaded on their next use too, which bounds how long a change made by
        another process (an admin command) goes unnoticed."""
        generation = self.generation
        for topic in self._topics.values():
            topic.access_generation = -1
        subscribers = [
            subscriber
            for topic in self._topics.values()
            for subscriber in topic.subscribers
            if subscriber.close_request is None
        ]
        if subscribers:
            try:
                verdicts = await self.db.read(
                    store.check_credentials,
                    [(subscriber.actor, subscriber.workspace_id) for subscriber in subscribers],
                )
            except Exception:
                log.exception("realtime: credential recheck failed")
                verdicts = [VERIFICATION_UNAVAILABLE] * len(subscribers)
            for subscriber, verdict in zip(subscribers, verdicts, strict=True):
                if verdict is None:
                    subscriber.checked_generation = max(subscriber.checked_generation, generation)
                else:
                    subscriber.close(verdict)
        self._passes += 1
        done, self._pass_done = self._pass_done, trio.Event()
        done.set()
