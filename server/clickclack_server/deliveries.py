"""Outgoing event subscriptions: each new durable event is POSTed to the subscriptions that match
it (protocol 3.16).

Events reach this module through the database's commit listeners, so only events committed by
this process are delivered, each once, at commit time; replay never delivers anything. The
listener never blocks the request that caused the event: it only puts the event into a bounded
memory channel. A few worker tasks take events from it, look up the matching subscriptions (an
in-memory table, reloaded whenever subscriptions change) and POST ``{"subscription_id", "event"}``
to each, signed like slash-command callbacks plus ``X-ClickClack-Event-ID``, under the same
transport rules (:mod:`clickclack_server.callbacks`). Every attempt is logged in
``event_delivery_attempts``; there are no retries. When the channel is full the event is dropped
and the drop is logged as an attempt for every subscription that would have received it.

A private event (DM, read receipt, moderation) goes only to subscriptions whose creator is one of
its recipients: a subscription sees what the person who set it up may see.

Wiring: :func:`install` attaches delivery to a server's database (idempotent) and returns the
:class:`Deliveries`; its :meth:`Deliveries.open_service` (or :meth:`Deliveries.run`) runs the
workers for the server's lifetime.
"""

from __future__ import annotations

import itertools
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import attrs
import orjson
import trio

from clickclack_sdk import to_data
from clickclack_sdk.signing import EVENT_ID_HEADER
from clickclack_server import callbacks, ids
from clickclack_server.config import Config
from clickclack_server.db import Database
from clickclack_server.db.sqlite import CommittedEvent
from clickclack_server.server import Server
from clickclack_server.store import integrations as store

log = logging.getLogger("clickclack_server.deliveries")

QUEUE_SIZE = 1024
"""Events waiting for a worker; beyond this, new events are dropped (and the drop logged)."""

WORKERS = 4
"""Events delivered at once; each fans out to its subscriptions concurrently."""

DROP_LOG_LIMIT = 10_000
"""Dropped events remembered for logging; beyond this they are only counted."""

SHUTDOWN_GRACE = 2.0
"""Seconds allowed, when the service stops, to log what could not be delivered."""

QUEUE_FULL_ERROR = f"delivery dropped: more than {QUEUE_SIZE} events were waiting"
SHUTDOWN_ERROR = "delivery dropped: the server was shutting down"
INTERRUPTED_ERROR = "delivery interrupted: the server was shutting down"


@attrs.frozen
class DeliveryStatistics:
    """Runtime counters: events not yet fully handled, and attempts by outcome since start."""

    pending: int
    delivered: int
    failed: int
    dropped: int


class Deliveries:
    """Event-subscription delivery for one database; see the module docstring."""

    def __init__(self, db: Database, config: Config) -> None:
        self.db = db
        self.config = config
        self._send: trio.MemorySendChannel[CommittedEvent] | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._table: dict[str, list[store.ActiveSubscription]] | None = None
        self._generations = itertools.count(1)
        self._generation = 0
        self._dropped: list[CommittedEvent] = []
        self._drop_lot = trio.lowlevel.ParkingLot()
        self._idle_lot = trio.lowlevel.ParkingLot()
        self._pending = 0
        self._delivered = 0
        self._failed = 0
        self._dropped_count = 0
        db.add_commit_listener(self._on_commit)
        db.add_change_listener(store.CHANGE_TOPIC, self._on_change)

    # Public surface.

    @property
    def running(self) -> bool:
        return self._send is not None

    def statistics(self) -> DeliveryStatistics:
        return DeliveryStatistics(
            pending=self._pending,
            delivered=self._delivered,
            failed=self._failed,
            dropped=self._dropped_count,
        )

    async def wait_idle(self) -> None:
        """Wait until every event handed to delivery so far is delivered or logged as dropped."""
        while self._pending:
            await self._idle_lot.park()
        await trio.lowlevel.checkpoint()

    @asynccontextmanager
    async def open_service(self) -> AsyncIterator[Deliveries]:
        """Run the delivery workers inside the block."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.run)
            try:
                yield self
            finally:
                nursery.cancel_scope.cancel()

    async def run(
        self, *, task_status: trio.TaskStatus[Deliveries] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the workers until cancelled; what is still queued then is logged as dropped."""
        if self._send is not None:
            raise RuntimeError("event deliveries are already running")
        send, receive = trio.open_memory_channel[CommittedEvent](QUEUE_SIZE)
        try:
            async with trio.open_nursery() as nursery:
                for _ in range(WORKERS):
                    nursery.start_soon(self._worker, receive.clone())
                nursery.start_soon(self._drop_recorder)
                self._token = trio.lowlevel.current_trio_token()
                self._send = send
                task_status.started(self)
                await trio.sleep_forever()
        finally:
            self._send = None
            self._token = None
            leftover: list[CommittedEvent] = []
            while True:
                try:
                    leftover.append(receive.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break
            leftover += self._dropped
            self._dropped = []
            try:
                with trio.CancelScope(shield=True) as scope:
                    scope.deadline = trio.current_time() + SHUTDOWN_GRACE
                    await self._record_dropped(leftover, SHUTDOWN_ERROR)
            except Exception:
                log.exception("logging %d undelivered events at shutdown failed", len(leftover))
            finally:
                self._settle(len(leftover))

    # Intake (commit listener, change listener).

    def _on_commit(self, events: list[CommittedEvent]) -> None:
        """Called after every commit, usually on the Trio thread, maybe on another thread."""
        token = self._token
        if token is None:
            return
        try:
            here = trio.lowlevel.current_trio_token() is token
        except RuntimeError:
            here = False
        if here:
            self._enqueue(events)
        else:
            with suppress(trio.RunFinishedError):
                token.run_sync_soon(self._enqueue, list(events))

    def _on_change(self) -> None:
        self._generation = next(self._generations)
        self._table = None

    def _enqueue(self, events: list[CommittedEvent]) -> None:
        send = self._send
        if send is None:
            return
        table = self._table
        for event in events:
            if table is not None and not any(
                sub.matches(event) for sub in table.get(event.workspace_id, ())
            ):
                continue
            self._pending += 1
            try:
                send.send_nowait(event)
            except trio.WouldBlock:
                self._dropped_count += 1
                if len(self._dropped) < DROP_LOG_LIMIT:
                    self._dropped.append(event)
                    self._drop_lot.unpark_all()
                else:
                    log.warning("event %s dropped without a log entry (drop log full)", event.id)
                    self._settle(1)

    def _settle(self, count: int) -> None:
        self._pending -= count
        if self._pending <= 0:
            self._pending = 0
            self._idle_lot.unpark_all()

    # Workers.

    async def _subscriptions(self, workspace_id: str) -> list[store.ActiveSubscription]:
        table = self._table
        if table is None:
            generation = self._generation
            table = {}
            for sub in await self.db.read(store.active_subscriptions):
                table.setdefault(sub.workspace_id, []).append(sub)
            if generation == self._generation:
                self._table = table
        return table.get(workspace_id, [])

    async def _worker(self, receive: trio.MemoryReceiveChannel[CommittedEvent]) -> None:
        async with receive:
            async for event in receive:
                try:
                    await self._deliver_event(event)
                except Exception:
                    log.exception("delivering event %s failed", event.id)
                finally:
                    self._settle(1)

    async def _deliver_event(self, event: CommittedEvent) -> None:
        matching = [
            sub for sub in await self._subscriptions(event.workspace_id) if sub.matches(event)
        ]
        if not matching:
            return
        wire = to_data(store.wire_event(event))
        async with trio.open_nursery() as nursery:
            for sub in matching:
                nursery.start_soon(self._deliver_isolated, sub, event, wire)

    async def _deliver_isolated(
        self, sub: store.ActiveSubscription, event: CommittedEvent, wire: object
    ) -> None:
        """One delivery whose failure never cancels the event's other deliveries."""
        try:
            await self._deliver_one(sub, event, wire)
        except Exception:
            log.exception("delivering event %s to subscription %s failed", event.id, sub.id)

    async def _deliver_one(
        self, sub: store.ActiveSubscription, event: CommittedEvent, wire: object
    ) -> None:
        body = orjson.dumps({"subscription_id": sub.id, "event": wire})
        started = ids.now()
        record = store.DeliveryRecord(
            subscription_id=sub.id,
            event_id=event.id,
            workspace_id=event.workspace_id,
            event_type=event.type,
            request_json=body.decode(),
            started_at=started,
        )
        try:
            result = await callbacks.post_signed(
                sub.callback_url,
                body,
                secret=sub.signing_secret,
                allow_private=self.config.callbacks_may_target_private,
                headers={EVENT_ID_HEADER: event.id},
            )
        except BaseException as exc:  # cancelled (shutdown) or a bug: the attempt is still logged
            error = (
                INTERRUPTED_ERROR
                if _is_cancellation(exc)
                else f"delivery failed: {type(exc).__name__}"
            )
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + SHUTDOWN_GRACE
                await self.db.write(
                    store.record_deliveries,
                    [attrs.evolve(record, error=error, completed_at=ids.now())],
                )
            raise
        if result.ok:
            self._delivered += 1
        else:
            self._failed += 1
            log.info("event %s to subscription %s failed: %s", event.id, sub.id, result.error)
        await self.db.write(
            store.record_deliveries,
            [
                attrs.evolve(
                    record,
                    status=result.status,
                    body=result.body,
                    error=result.error,
                    completed_at=ids.now(),
                )
            ],
        )

    # Drops.

    async def _drop_recorder(self) -> None:
        while True:
            if not self._dropped:
                await self._drop_lot.park()
            batch, self._dropped = self._dropped, []
            try:
                await self._record_dropped(batch, QUEUE_FULL_ERROR)
            except Exception:
                log.exception("logging %d dropped events failed", len(batch))
            finally:
                self._settle(len(batch))

    async def _record_dropped(self, events: list[CommittedEvent], error: str) -> None:
        if not events:
            return
        now = ids.now()
        records: list[store.DeliveryRecord] = []
        for event in events:
            for sub in await self._subscriptions(event.workspace_id):
                if sub.matches(event):
                    records.append(
                        store.DeliveryRecord(
                            subscription_id=sub.id,
                            event_id=event.id,
                            workspace_id=event.workspace_id,
                            event_type=event.type,
                            error=error,
                            started_at=now,
                            completed_at=now,
                        )
                    )
        log.warning("%d events dropped: %s", len(events), error)
        if records:
            await self.db.write(store.record_deliveries, records)


def _is_cancellation(exc: BaseException) -> bool:
    if isinstance(exc, trio.Cancelled):
        return True
    return isinstance(exc, BaseExceptionGroup) and exc.subgroup(trio.Cancelled) is not None


_installed: dict[int, weakref.ref[Deliveries]] = {}


def installed(server: Server) -> Deliveries | None:
    """The delivery service attached to ``server``'s database, if any."""
    ref = _installed.get(id(server.db))
    found = ref() if ref is not None else None
    return found if found is not None and found.db is server.db else None


def install(server: Server) -> Deliveries:
    """Attach event-subscription delivery to ``server`` (once per database) and return it.

    Delivery starts when the returned service runs (:meth:`Deliveries.open_service`).
    """
    found = installed(server)
    if found is not None:
        return found
    deliveries = Deliveries(server.db, server.config)
    key = id(server.db)

    def forget(ref: weakref.ref[Deliveries]) -> None:
        if _installed.get(key) is ref:
            del _installed[key]

    _installed[key] = weakref.ref(deliveries, forget)
    return deliveries
