"""The runtime: one realtime connection per bot account, feeding lanes of handler calls.

The task tree of one account (:class:`BotRuntime`)::

    run
    ├── intake      pull pages when behind, else the socket -> Dispatcher.submit (blocks when
    │               a lane is full); see ``_catchup``
    │   └── schedules (each submits its calls to its own lane)
    ├── lanes       Dispatcher: one worker per busy conversation, a global capacity limit
    │   └── each handler call in its own cancel scope with a deadline
    └── committer   saves the committed cursor (at most every ``commit_interval`` seconds)

Shutdown is phased (:meth:`BotRuntime.stop`): stop intake, let the lanes drain for ``grace``
seconds, cancel what is still running, run the shutdown hooks, save the committed cursor.
Cancelling ``run`` from outside is a hard stop, like a crash: nothing more is saved, and the
next start replays the unfinished events (reply nonces make that safe).
"""

from __future__ import annotations

import logging
import math
import re
import signal
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import attrs
import trio

from clickclack_bots._bot import Bot, CommandRoute, MessageRoute, ScheduleRoute
from clickclack_bots._catchup import Intake, run_resync_hooks
from clickclack_bots._commands import UsageError, parse_arguments, split_command
from clickclack_bots._config import Account, ConfigError
from clickclack_bots._context import (
    AccountInfo,
    CommandContext,
    Context,
    EventContext,
    MessageContext,
    ReactionContext,
    ScheduleContext,
    Services,
)
from clickclack_bots._cursor import BEGINNING, CommitTracker, CursorStore, Pending
from clickclack_bots._dispatch import Dispatcher, DispatchStatistics, deadline_after
from clickclack_bots._schedule import Cron, Every
from clickclack_bots._slash import CallbackOptions, CallbackServer
from clickclack_sdk import (
    BotCommandSpec,
    ClickClackError,
    Client,
    Event,
    Message,
    NotFound,
    RetryPolicy,
)

log = logging.getLogger("clickclack_bots")

OWN_ACTOR_TYPES = frozenset(
    {
        "reaction.added",
        "reaction.removed",
        "typing.started",
        "typing.stopped",
        "presence.changed",
        "agent.progress",
        "channel.read",
        "dm.read",
    }
)
"""Event types whose ``payload.user_id`` is the actor (the bot's own are ignored)."""


class HandlerTimeout(TimeoutError):
    """A handler call ran past its deadline and was cancelled."""


class StartPositionRequired(RuntimeError):
    """First start of an account without ``start="now"`` or ``start="beginning"``."""


@attrs.frozen(kw_only=True)
class RuntimeStatistics:
    """Counters of one account's runtime (``runtime.statistics()``)."""

    account: str
    connected: bool
    events_in: int
    """Realtime events received."""
    ignored: int
    """Events no handler ran for (own messages, other bots, no matching handler...)."""
    handled: int
    """Handler calls that finished without an error."""
    failed: int
    """Handler calls that raised or ran past their deadline."""
    timed_out: int
    rejected: int
    """Command calls refused with a usage error."""
    in_flight: int
    lanes: int
    lane_depth: int
    """Jobs waiting in all lanes."""
    max_lane_depth: int
    committed_cursor: str | None
    last_cursor: str | None
    cursor_lag: int
    """Events received but not committed yet."""
    reconnects: int
    resyncs: int
    """Event gaps (events pruned before the bot got them) handed to the resync hooks."""
    catch_ups: int = 0
    """Catch-up passes through HTTP pull (one at start, one after each close 4001)."""
    catch_up_events: int = 0
    """Events received from pull pages (the others came over the socket)."""


@attrs.define(eq=False)
class Job:
    """One unit of lane work: an event (with its commit entry) or one scheduled call."""

    event: Event | None = None
    pending: Pending | None = None
    schedule: ScheduleRoute | None = None
    fire_time: datetime | None = None
    done: trio.Event | None = None


def unwrap(error: BaseException) -> BaseException:
    """The single exception inside (nested) exception groups, or the group itself."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def lane_for(event: Event) -> str:
    """The conversation an event belongs to: a thread, a DM, a channel, or the workspace."""
    payload = event.payload or {}
    root = payload.get("root_message_id")
    if root and (event.type.startswith("thread.") or root != payload.get("message_id")):
        return f"thread:{root}"
    conversation = payload.get("direct_conversation_id")
    if conversation:
        return f"dm:{conversation}"
    if event.channel_id:
        return f"channel:{event.channel_id}"
    return "workspace"


class _HandlerLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes records with the account, handler and event id (also kept as extras)."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        kwargs.setdefault("extra", {}).update(extra)
        return (
            f"[{extra.get('account')} {extra.get('handler')} {extra.get('event_id')}] {msg}",
            kwargs,
        )


class LoopGuard:
    """At most ``limit`` bot-authored messages handled per lane within ``window`` seconds,
    unless a human speaks in between: two bots answering each other cannot loop forever."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = {}

    def human(self, lane: str) -> None:
        self._seen.pop(lane, None)

    def allow_bot(self, lane: str) -> bool:
        now = trio.current_time()
        seen = self._seen.setdefault(lane, deque())
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        return True


class BotRuntime:
    """Runs one :class:`~clickclack_bots.Bot` on one account (one realtime connection).

    ``await nursery.start(runtime.run)`` returns once the startup hooks ran and the server
    answered the first pull of the catch-up (the backlog may still be coming in;
    :meth:`wait_live` waits for the socket); :meth:`stop` shuts down gracefully;
    ``statistics()`` reports counters. A runtime runs once: make a new one to start again (it
    resumes from the saved cursor).

    ``client`` replaces the client built from the account (the runtime does not close it);
    ``max_concurrency`` caps handler calls across lanes; ``lane_buffer`` is each lane's queue
    size; ``grace`` is the default drain time on :meth:`stop`; ``commit_interval`` spaces
    cursor saves; ``transport``, ``reconnect`` and ``ping_interval`` go to the intake
    (:class:`~clickclack_bots._catchup.Intake`: pull catch-up, then the SDK stream).

    A bot with ``@bot.slash``/``@bot.on_delivery`` handlers needs ``callbacks`` (default: the
    account's): the runtime then serves a :class:`CallbackServer` beside the realtime stream,
    on the bot's client, and stops it first on shutdown (its handlers drain with the lanes).
    """

    def __init__(
        self,
        account: Account,
        *,
        client: Client | None = None,
        max_concurrency: int = 64,
        lane_buffer: int = 256,
        grace: float = 10.0,
        commit_interval: float = 0.2,
        transport: Literal["websocket", "pull"] = "websocket",
        reconnect: RetryPolicy | None = None,
        ping_interval: float | None = 30.0,
        callbacks: CallbackOptions | None = None,
    ) -> None:
        self.account = account
        self.bot: Bot = account.bot
        self._client = client
        self.grace = grace
        self.commit_interval = commit_interval
        self.transport: Literal["websocket", "pull"] = transport
        self.reconnect = reconnect
        self.ping_interval = ping_interval
        self.dispatcher: Dispatcher[Job] = Dispatcher(
            self._process, max_concurrency=max_concurrency, lane_buffer=lane_buffer
        )
        self.info: AccountInfo | None = None
        self.callbacks = callbacks if callbacks is not None else account.callbacks
        self.callback_server: CallbackServer | None = None
        """The slash/delivery endpoint, once started (its ``url`` is the callback URL)."""
        self._services: Services | None = None
        self._store: CursorStore = account.cursor_store()
        self._store_key = ""
        self._tracker = CommitTracker(None)
        self._intake: Intake | None = None
        self._guard = LoopGuard(self.bot.max_bot_chain, self.bot.bot_chain_window)
        self._stop = trio.Event()
        self._stop_grace: float | None = None
        self._fatal: BaseException | None = None
        self._intake_scope = trio.CancelScope()
        self._lanes_scope = trio.CancelScope()
        self._committer_scope = trio.CancelScope()
        self._lanes_done = trio.Event()
        self._saved: str | None = None
        self._saving = trio.Lock()
        self._events_in = 0
        self._ignored = 0
        self._handled = 0
        self._failed = 0
        self._timed_out = 0
        self._rejected = 0

    # Public surface.

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the runtime has not started")
        return self._services

    @property
    def store_key(self) -> str:
        """The account's key in the cursor store (known once started)."""
        return self._store_key

    def stop(self, grace: float | None = None) -> None:
        """Begin the phased shutdown (``run`` returns when it is done)."""
        self._stop_grace = grace
        self._stop.set()

    def statistics(self) -> RuntimeStatistics:
        lanes: DispatchStatistics = self.dispatcher.statistics()
        intake = self._intake.statistics() if self._intake is not None else None
        return RuntimeStatistics(
            account=self.account.label,
            connected=bool(intake and intake.connected),
            events_in=self._events_in,
            ignored=self._ignored,
            handled=self._handled,
            failed=self._failed,
            timed_out=self._timed_out,
            rejected=self._rejected,
            in_flight=lanes.in_flight,
            lanes=lanes.lanes,
            lane_depth=lanes.queued,
            max_lane_depth=lanes.max_lane_depth,
            committed_cursor=self._tracker.committed,
            last_cursor=self._tracker.last_seen,
            cursor_lag=self._tracker.lag,
            reconnects=intake.reconnects if intake else 0,
            resyncs=intake.gaps if intake else 0,
            catch_ups=intake.catch_ups if intake else 0,
            catch_up_events=intake.catch_up_events if intake else 0,
        )

    async def wait_idle(self) -> None:
        """Block until every event received so far has been handled and committed."""
        await self.dispatcher.wait_idle()
        while self._tracker.lag:
            await self._tracker.wait_changed()

    async def wait_live(self) -> None:
        """Block until the intake has caught up and follows the live socket (with
        ``transport="pull"``: polls at the tail); at once when it does."""
        if self._intake is None:
            raise RuntimeError("the runtime has not started")
        await self._intake.wait_live()

    async def wait_caught_up(self) -> None:
        """Block until every event visible to the bot *now* (up to the server's current tail)
        has been received and handled: a barrier for tests and tools."""
        services = self.services
        batch = await services.client.realtime.pull(
            services.account.workspace_id, limit=1, include_tail=True
        )
        tail = batch.tail_cursor or ""
        while (self._tracker.committed or "") < tail:
            await self._tracker.wait_changed()

    # Running.

    async def run(
        self, *, task_status: trio.TaskStatus[BotRuntime] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Connect, run until :meth:`stop` (or a fatal stream error), shut down in phases."""
        self._check_callbacks()
        if self._client is not None:
            await self._run(self._client, task_status)
            return
        async with Client(
            self.account.server,
            token=self.account.token,
            reconnect=self.reconnect,
        ) as client:
            await self._run(client, task_status)

    async def _run(self, client: Client, task_status: trio.TaskStatus[BotRuntime]) -> None:
        info = await self._identify(client)
        services = await self._open(client, info, offline=False)
        await self._publish_commands(client)
        for key, hook in self.bot.startup_hooks:
            ctx = Context(
                services, handler_key=key, seed=f"start-{uuid.uuid4()}", log=self._log(key, "")
            )
            await hook(ctx)
        await self._serve(
            services, task_status, partial(self._run_intake, client, info.workspace_id)
        )

    async def run_offline(
        self,
        client: Client,
        info: AccountInfo,
        *,
        task_status: trio.TaskStatus[BotRuntime] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run the lanes without a realtime connection or startup work: events come only
        from :meth:`feed`. For benchmarks, and for unit tests of handlers that need no
        server (handlers still get ``client`` for whatever they do call)."""
        services = await self._open(client, info, offline=True)
        await self._serve(services, task_status, None)

    async def feed(self, event: Event) -> None:
        """Hand one event to the lanes as the realtime intake does (blocks when its lane is
        full). Events must come in cursor order."""
        self._events_in += 1
        pending = self._tracker.add(event.cursor) if event.cursor else None
        await self.dispatcher.submit(lane_for(event), Job(event=event, pending=pending))

    async def _open(self, client: Client, info: AccountInfo, *, offline: bool) -> Services:
        """Identity, caches and the saved cursor (choosing the first position if needed)."""
        self.info = info
        services = self._services = Services(client, info, self.bot)
        self._store_key = self.account.name or f"{info.workspace_id}.{info.user_id}"
        stored = await self._store.load(self._store_key)
        if stored is None:
            if offline:
                stored = BEGINNING
            else:
                stored = await self._first_position(client, info.workspace_id)
            await self._store.save(self._store_key, stored)
        self._saved = stored
        self._tracker = CommitTracker(stored)
        return services

    async def _serve(
        self,
        services: Services,
        task_status: trio.TaskStatus[BotRuntime],
        intake: Callable[..., Awaitable[None]] | None,
    ) -> None:
        info = services.account
        async with trio.open_nursery() as nursery:
            await nursery.start(self._run_lanes)
            nursery.start_soon(self._committer)
            if intake is not None:
                await nursery.start(intake)
                await self._start_callbacks(nursery, services)
            task_status.started(self)
            log.info(
                "[%s] running as %s in %s", self.account.label, info.user_id, info.workspace_id
            )
            await self._stop.wait()
            await self._shutdown(services)
            self._committer_scope.cancel()
        if self._fatal is not None:
            raise self._fatal

    def _check_callbacks(self) -> None:
        """Refuse to start a bot whose slash/delivery handlers nobody could reach."""
        problem = callbacks_problem(self.bot, self.callbacks)
        if problem:
            raise ConfigError(problem)

    async def _start_callbacks(self, nursery: trio.Nursery, services: Services) -> None:
        if self.callbacks is None:
            return
        server = CallbackServer.from_options(self.bot, services.client, self.callbacks)
        if not server.secrets:
            log.warning(
                "[%s] no callback signing secret yet: callbacks are refused until one is added",
                self.account.label,
            )
        await nursery.start(server.run)
        self.callback_server = server
        log.info("[%s] serving callbacks at %s", self.account.label, server.url)

    async def _identify(self, client: Client) -> AccountInfo:
        me = await client.me.get()
        if self.account.workspace:
            workspace = await client.workspaces.find(self.account.workspace)
        else:
            workspaces = await client.workspaces.list()
            if len(workspaces) != 1:
                raise ValueError(
                    f"account {self.account.label}: the token sees {len(workspaces)} workspaces; "
                    "name one with workspace="
                )
            workspace = workspaces[0]
        return AccountInfo(
            name=self.account.label,
            user_id=me.id,
            handle=me.handle,
            display_name=me.display_name,
            workspace_id=workspace.id,
        )

    async def _first_position(self, client: Client, workspace_id: str) -> str:
        start = self.account.start
        if start is None:
            raise StartPositionRequired(
                f"account {self.account.label} has no saved cursor: choose where its first run "
                'starts with start="now" (only new events) or start="beginning" (replay '
                "everything retained)"
            )
        if start == "beginning":
            return BEGINNING
        batch = await client.realtime.pull(workspace_id, limit=1, include_tail=True)
        return batch.tail_cursor or BEGINNING

    async def _publish_commands(self, client: Client) -> None:
        specs = self.bot.commands()
        if not self.bot.publish_commands or not specs:
            return
        menu = [
            BotCommandSpec(
                command=spec.name,
                description=(spec.description or spec.name)[:100],
                args_hint=spec.args_hint[:100],
            )
            for spec in specs
        ]
        try:
            await client.bots.set_commands(menu)
        except ClickClackError as error:  # e.g. no commands:write scope: the bot still runs
            log.warning("[%s] could not publish the command menu: %s", self.account.label, error)

    async def _run_lanes(self, *, task_status: trio.TaskStatus[None]) -> None:
        with self._lanes_scope:
            await self.dispatcher.run(task_status=task_status)
        self._lanes_done.set()

    async def _run_intake(
        self, client: Client, workspace_id: str, *, task_status: trio.TaskStatus[None]
    ) -> None:
        """Catch up and follow (``_catchup.Intake``); start the schedules once it answered."""
        intake = self._intake = Intake(
            client,
            workspace_id,
            deliver=self.feed,
            on_gap=partial(
                run_resync_hooks,
                self.bot,
                self.services,
                label=self.account.label,
                hook_log=lambda key: self._log(key, ""),
            ),
            policy=self.reconnect or client.reconnect,
            transport=self.transport,
            ping_interval=self.ping_interval,
            label=self.account.label,
        )
        started = False
        with self._intake_scope:
            try:
                async with trio.open_nursery() as nursery:
                    await nursery.start(intake.run, self._tracker.committed or BEGINNING)
                    for route in self.bot.schedules:
                        nursery.start_soon(self._schedule, route)
                    task_status.started()
                    started = True
            except Exception as raised:
                error = unwrap(raised)
                if not isinstance(error, ClickClackError):
                    raise
                if not started:
                    raise error from None
                log.error("[%s] realtime stream failed: %s", self.account.label, error)
                self._fatal = error
                self._stop.set()

    async def _committer(self) -> None:
        with self._committer_scope:
            while True:
                if self._tracker.committed == self._saved:
                    await self._tracker.wait_changed()
                    continue
                await self._save()
                await trio.sleep(self.commit_interval)

    async def _save(self) -> None:
        # One save at a time: the final save on shutdown must not race the committer's (a
        # slower, older write landing last would leave an older cursor in the store).
        async with self._saving:
            committed = self._tracker.committed
            if committed is not None and committed != self._saved:
                await self._store.save(self._store_key, committed)
                self._saved = committed

    async def _shutdown(self, services: Services) -> None:
        grace = self.grace if self._stop_grace is None else self._stop_grace
        self._intake_scope.cancel()
        if self.callback_server is not None:
            self.callback_server.stop(grace)
        self.dispatcher.close()
        with trio.move_on_after(grace):
            await self._lanes_done.wait()
        if not self._lanes_done.is_set():
            log.warning(
                "[%s] %d handler call(s) still running after %gs: cancelling",
                self.account.label,
                self.dispatcher.statistics().in_flight,
                grace,
            )
            self._lanes_scope.cancel()
            await self._lanes_done.wait()
        for key, hook in self.bot.shutdown_hooks:
            ctx = Context(
                services, handler_key=key, seed=f"stop-{uuid.uuid4()}", log=self._log(key, "")
            )
            try:
                with trio.move_on_after(self.bot.handler_timeout or math.inf):
                    await hook(ctx)
            except Exception:
                log.exception("[%s] shutdown hook %s failed", self.account.label, key)
        with trio.CancelScope(shield=True):
            await self._save()
        log.info("[%s] stopped at cursor %s", self.account.label, self._tracker.committed)

    # Schedules.

    async def _schedule(self, route: ScheduleRoute) -> None:
        when = route.when
        lane = f"schedule:{route.key}"
        if isinstance(when, Every):
            due = trio.current_time() + (0.0 if when.at_start else when.seconds)
            while True:
                await trio.sleep_until(due)
                await self._submit_scheduled(route, lane, datetime.now(UTC))
                now = trio.current_time()
                due += when.seconds
                if due <= now:
                    due = now + when.seconds - (now - due) % when.seconds
        else:
            assert isinstance(when, Cron)
            fire = when.next_after(datetime.now(UTC))
            while True:
                remaining = (fire - datetime.now(UTC)).total_seconds()
                if remaining > 0:
                    # Sleep, then look at the wall clock again (it may drift from Trio's).
                    await trio.sleep(remaining)
                    continue
                await self._submit_scheduled(route, lane, fire)
                fire = when.next_after(max(fire, datetime.now(UTC)))

    async def _submit_scheduled(self, route: ScheduleRoute, lane: str, fire: datetime) -> None:
        done = trio.Event()
        await self.dispatcher.submit(lane, Job(schedule=route, fire_time=fire, done=done))
        await done.wait()

    # Processing one job.

    def _log(self, handler: str, event_id: str) -> _HandlerLog:
        return _HandlerLog(
            log, {"account": self.account.label, "handler": handler, "event_id": event_id or "-"}
        )

    async def _process(self, job: Job) -> None:
        if job.schedule is not None:
            try:
                await self._run_scheduled(job.schedule, job.fire_time or datetime.now(UTC))
            finally:
                if job.done is not None:
                    job.done.set()
            return
        event = job.event
        assert event is not None
        try:
            ran = await self._route(event)
        except Exception as error:
            self._failed += 1
            log.error(
                "[%s] event %s (%s) could not be handled: %r",
                self.account.label,
                event.id,
                event.type,
                error,
                exc_info=error,
            )
        else:
            if not ran:
                self._ignored += 1
        if job.pending is not None:
            job.pending.finish()

    async def _route(self, event: Event) -> bool:
        """Run every handler the event concerns; False when none ran."""
        services = self.services
        me = services.account.user_id
        payload = event.payload or {}
        if payload.get("author_id") == me or (
            event.type in OWN_ACTOR_TYPES and payload.get("user_id") == me
        ):
            return False
        if event.type == "thread.reply_created" and payload.get("nonce") in services.issued:
            return False
        ran = False
        if event.type in ("message.created", "thread.reply_created"):
            ran = await self._on_message(event, payload)
        elif event.type in ("reaction.added", "reaction.removed"):
            ran = await self._on_reaction(event, payload)
        for route in self.bot.event_routes:
            if event.type in route.types or "*" in route.types:
                ctx = EventContext(
                    services, event, handler_key=route.key, log=self._log(route.key, event.id)
                )
                await self._invoke(route.key, route.timeout, ctx, partial(route.handler, ctx))
                ran = True
        return ran

    async def _fetch(self, message_id: Any) -> Message | None:
        if not isinstance(message_id, str) or not message_id:
            return None
        try:
            return await self.services.client.messages.get(message_id)
        except NotFound:
            return None

    def _mentioned(self, event: Event, message: Message) -> bool:
        account = self.services.account
        if event.mentioned_user_ids and account.user_id in event.mentioned_user_ids:
            return True
        if not account.handle:
            return False
        pattern = rf"(?<![\w@])@{re.escape(account.handle)}(?![\w-])"
        return re.search(pattern, message.body, re.IGNORECASE) is not None

    def _strip_mention(self, text: str) -> str:
        handle = self.services.account.handle
        if not handle:
            return text
        return re.sub(rf"^\s*@{re.escape(handle)}(?![\w-])[\s,:]*", "", text, flags=re.IGNORECASE)

    def _allows(self, route_allow: bool | None) -> bool:
        return self.bot.allow_bots if route_allow is None else route_allow

    async def _on_message(self, event: Event, payload: dict[str, Any]) -> bool:
        bot = self.bot
        if not bot.message_routes and not bot.command_routes:
            return False
        services = self.services
        message = await self._fetch(payload.get("message_id"))
        if message is None or message.deleted_at or message.author_id == services.account.user_id:
            return False
        services.note_user(message.author)
        author_is_bot = (
            message.author.kind == "bot"
            if message.author is not None
            else await services.is_bot(message.author_id)
        )
        lane = lane_for(event)
        if not author_is_bot:
            self._guard.human(lane)
        mentioned = self._mentioned(event, message)
        command = split_command(message.body, bot.prefixes, services.account.handle or None)
        if command is not None and command[0] in bot.command_names:
            invoked = bot.command_routes[bot.command_names[command[0]]]
            if author_is_bot and (
                not self._allows(invoked.allow_bots) or not self._guard.allow_bot(lane)
            ):
                return False
            await self._run_command(invoked, event, message, command[1], mentioned)
            return True
        chosen: list[tuple[MessageRoute, str, re.Match[str] | None]] = []
        for route in bot.message_routes:
            if author_is_bot and not self._allows(route.allow_bots):
                continue
            picked = await self._match(route, message, mentioned)
            if picked is not None:
                chosen.append((route, *picked))
        if not chosen or (author_is_bot and not self._guard.allow_bot(lane)):
            return False
        for route, text, match in chosen:
            ctx = MessageContext(
                services,
                event,
                message,
                handler_key=route.key,
                log=self._log(route.key, event.id),
                text=text,
                match=match,
                mentioned=mentioned,
            )
            await self._invoke(route.key, route.timeout, ctx, partial(route.handler, ctx))
        return True

    async def _match(
        self, route: MessageRoute, message: Message, mentioned: bool
    ) -> tuple[str, re.Match[str] | None] | None:
        """The text and match a message gives ``route``, or ``None`` when it does not apply."""
        is_dm = message.direct_conversation_id is not None
        if route.dm is not None and route.dm != is_dm:
            return None
        if route.thread is not None and route.thread != (message.parent_message_id is not None):
            return None
        if route.mention and not mentioned:
            return None
        if route.channels is not None:
            if message.channel_id is None:
                return None
            if message.channel_id.lower() not in route.channels:
                name = await self.services.channel_name(message.channel_id)
                if name is None or name.lower() not in route.channels:
                    return None
        text = self._strip_mention(message.body) if route.mention else message.body
        match = None
        if route.pattern is not None:
            match = route.pattern.search(text)
            if match is None:
                return None
        return text, match

    async def _run_command(
        self, route: CommandRoute, event: Event, message: Message, arguments: str, mentioned: bool
    ) -> None:
        ctx = CommandContext(
            self.services,
            event,
            message,
            handler_key=route.key,
            log=self._log(route.key, event.id),
            text=message.body,
            command=route.spec.name,
            arguments=arguments,
            usage=route.spec.usage(self.bot.prefix),
            mentioned=mentioned,
        )

        async def call() -> None:
            invocation = parse_arguments(route.spec.params, arguments)
            await route.handler(ctx, *invocation.args, **invocation.kwargs)

        await self._invoke(route.key, route.timeout, ctx, call)

    async def _on_reaction(self, event: Event, payload: dict[str, Any]) -> bool:
        added = event.type == "reaction.added"
        emoji = payload.get("emoji")
        routes = [
            route
            for route in self.bot.reaction_routes
            if (route.added is None or route.added == added)
            and (route.emoji is None or emoji in route.emoji)
        ]
        if not routes:
            return False
        user_id = payload.get("user_id")
        if any(not self._allows(route.allow_bots) for route in routes) and (
            isinstance(user_id, str) and await self.services.is_bot(user_id)
        ):
            routes = [route for route in routes if self._allows(route.allow_bots)]
            if not routes:
                return False
        message = await self._fetch(payload.get("message_id"))
        if message is None:
            return False
        for route in routes:
            ctx = ReactionContext(
                self.services,
                event,
                message,
                handler_key=route.key,
                log=self._log(route.key, event.id),
            )
            await self._invoke(route.key, route.timeout, ctx, partial(route.handler, ctx))
        return True

    async def _run_scheduled(self, route: ScheduleRoute, fire: datetime) -> None:
        ctx = ScheduleContext(
            self.services,
            name=route.name,
            fire_time=fire,
            handler_key=route.key,
            log=self._log(route.key, f"{route.name}@{fire.isoformat()}"),
        )
        await self._invoke(route.key, route.timeout, ctx, partial(route.handler, ctx))

    async def _invoke(
        self,
        key: str,
        limit: float | None,
        ctx: Context,
        call: Callable[[], Awaitable[object]],
    ) -> None:
        """One handler call: middleware chain, own cancel scope with a deadline, errors to the
        error handlers and the log. External cancellation (shutdown) propagates."""
        if limit is None:
            limit = self.bot.handler_timeout
        scope = ctx.cancel_scope = trio.CancelScope(deadline=deadline_after(limit))
        error: Exception | None = None
        with scope:
            try:
                await self._chain(ctx, call)
            except Exception as raised:
                error = raised
        if error is None and scope.cancelled_caught and trio.current_time() >= scope.deadline:
            error = HandlerTimeout(f"handler {key} ran past its {limit}s deadline")
            self._timed_out += 1
        if error is None:
            self._handled += 1
            return
        if isinstance(error, UsageError) and isinstance(ctx, CommandContext):
            self._rejected += 1
            await self._usage_reply(ctx, error)
            return
        self._failed += 1
        ctx.log.error("handler failed: %r", error, exc_info=error)
        await self._report(ctx, error)

    async def _chain(self, ctx: Context, call: Callable[[], Awaitable[object]]) -> None:
        chain = self.bot.middleware_chain

        async def step(index: int) -> None:
            if index == len(chain):
                await call()
            else:
                await chain[index](ctx, lambda: step(index + 1))

        await step(0)

    async def _usage_reply(self, ctx: CommandContext, error: UsageError) -> None:
        if not self.bot.usage_replies:
            return
        try:
            with trio.move_on_after(self.bot.handler_timeout or math.inf):
                await ctx.reply(f"{error}\nUsage: `{ctx.usage}`")
        except ClickClackError as failed:
            ctx.log.warning("usage reply failed: %s", failed)

    async def _report(self, ctx: Context, error: Exception) -> None:
        for route in self.bot.error_routes:
            if not isinstance(error, route.types):
                continue
            try:
                with trio.move_on_after(self.bot.handler_timeout or math.inf):
                    await route.handler(ctx, error)
            except Exception:
                ctx.log.exception("error handler failed")


def callbacks_problem(bot: Bot, callbacks: CallbackOptions | None) -> str | None:
    """Why ``bot`` cannot run with ``callbacks`` (it has callback handlers but no endpoint)."""
    if callbacks is not None:
        return None
    kinds = [*bot.slash_routes, *(["on_delivery"] if bot.delivery_routes else [])]
    if not kinds:
        return None
    return (
        f"bot {bot.name!r} has callback handlers ({', '.join(kinds)}) but no callback "
        "address: pass --callback-addr HOST:PORT with the signing secrets "
        "(or Account(callbacks=CallbackOptions(...)))"
    )


async def run_accounts(
    accounts: Sequence[Account],
    *,
    grace: float = 10.0,
    handle_signals: bool = True,
    runtime_options: dict[str, Any] | None = None,
    task_status: trio.TaskStatus[list[BotRuntime]] = trio.TASK_STATUS_IGNORED,
) -> int:
    """Run several accounts in one process (one connection each) until every runtime ends.

    SIGINT/SIGTERM start a graceful stop of all of them; a second signal stops at once. An
    account that fails is logged and does not stop the others. Returns how many failed.
    """
    runtimes = [BotRuntime(account, grace=grace, **(runtime_options or {})) for account in accounts]
    failures: list[BaseException] = []

    async def supervise(runtime: BotRuntime, ready: trio.Event) -> None:
        try:
            async with trio.open_nursery() as inner:
                await inner.start(runtime.run)
                ready.set()
        except Exception as group:
            error = unwrap(group)
            failures.append(error)
            # Expected failures (server unreachable, bad token, bad settings) are one line;
            # anything else keeps its traceback.
            expected = isinstance(error, ClickClackError | ConfigError | StartPositionRequired)
            log.error(
                "[%s] stopped with an error: %s",
                runtime.account.label,
                error,
                exc_info=None if expected else error,
            )
        finally:
            ready.set()

    async with trio.open_nursery() as nursery:
        if handle_signals:
            nursery.start_soon(_watch_signals, runtimes, nursery.cancel_scope)
        async with trio.open_nursery() as accounts_nursery:
            readies = []
            for runtime in runtimes:
                ready = trio.Event()
                readies.append(ready)
                accounts_nursery.start_soon(supervise, runtime, ready)
            for ready in readies:
                await ready.wait()
            task_status.started(runtimes)
        nursery.cancel_scope.cancel()
    return len(failures)


async def _watch_signals(runtimes: Sequence[BotRuntime], scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if any(runtime._stop.is_set() for runtime in runtimes):
                log.warning("second signal: stopping at once")
                scope.cancel()
                return
            log.info(
                "signal %s: stopping (draining in-flight handlers)", signal.Signals(signum).name
            )
            for runtime in runtimes:
                runtime.stop()


def run_accounts_sync(accounts: Sequence[Account], *, grace: float = 10.0) -> int:
    """:func:`run_accounts` in a fresh ``trio.run`` (for scripts); returns the failure count."""
    return trio.run(lambda: run_accounts(accounts, grace=grace))
