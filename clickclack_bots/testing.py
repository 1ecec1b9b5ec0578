"""A pytest plugin for testing bots against a real, in-process ClickClack server.

Installed with the ``testing`` extra and registered as the ``clickclack`` pytest plugin, it
gives tests (run with pytest-trio):

- ``clickclack_server``: a :class:`ClickClackHarness`, i.e. a real server on a free loopback port
  with a temporary database, an owner, a workspace and ``#general``;
- ``bot``: the :class:`~clickclack_bots.Bot` under test; override this fixture in your conftest;
- ``running_bot``: that bot running on a fresh bot account (a :class:`RunningBot`);
- ``user``: a human member (a :class:`TestUser`) who can ``say`` things and ``expect_reply``.

A bot with ``@bot.slash``/``@bot.on_delivery`` handlers is run with its callback endpoint on a
free loopback port; its slash commands (and one event subscription for its delivery types) are
registered by the workspace owner, so ``await user.slash("#general", "/deploy api")`` goes
through the server exactly as in production.

Example::

    async def test_ping(running_bot, user):
        await user.say("#general", "!ping")
        reply = await user.expect_reply(timeout=5)
        assert reply.body == "pong"

Fault helpers: :meth:`RunningBot.drop_connection` cuts the bot's sockets (it reconnects and
resumes from its cursor), :meth:`RunningBot.crash` and :meth:`RunningBot.restart` kill the bot
abruptly (mid-handler if you like) and start it again from its saved cursor.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from clickclack_bots._bot import Bot
from clickclack_bots._config import Account, StartFrom
from clickclack_bots._cursor import CursorStore, FileCursorStore
from clickclack_bots._runtime import BotRuntime, RuntimeStatistics, unwrap
from clickclack_bots._slash import CallbackOptions
from clickclack_sdk import (
    Channel,
    Client,
    Event,
    Message,
    ResyncRequired,
    RetryPolicy,
    SlashCommandResult,
)

__all__ = [
    "BotAccount",
    "ClickClackHarness",
    "ReplyTimeout",
    "RunningBot",
    "TcpRelay",
    "TestUser",
    "bot",
    "clickclack_server",
    "open_harness",
    "running_bot",
    "user",
]

FAST_RETRY = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.1)
FAST_RECONNECT = RetryPolicy(max_attempts=None, base_delay=0.01, max_delay=0.2)
_counter = itertools.count(1)


class ReplyTimeout(AssertionError):
    """``expect_reply`` waited in vain (an assertion failure, so pytest reports it plainly)."""


def _handle_for(name: str) -> str:
    base = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_") or "user"
    return f"{base[:24]}-{next(_counter)}"


class TcpRelay:
    """A loopback TCP relay in front of the server whose connections can be cut at will.

    The bot under test talks to the server through it, so a test can break the bot's
    WebSocket and HTTP connections the way a network failure would.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.url = ""
        self.cuts = 0
        self._scopes: set[trio.CancelScope] = set()

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        async with trio.open_nursery() as nursery:
            task_status.started(self.url)
            await trio.serve_listeners(self._serve, listeners, handler_nursery=nursery)

    async def _serve(self, downstream: trio.SocketStream) -> None:
        try:
            upstream = await trio.open_tcp_stream(self.host, self.port)
        except OSError:
            await downstream.aclose()
            return
        with trio.CancelScope() as scope:
            self._scopes.add(scope)
            try:
                async with downstream, upstream, trio.open_nursery() as nursery:
                    nursery.start_soon(self._pump, downstream, upstream, scope)
                    nursery.start_soon(self._pump, upstream, downstream, scope)
            finally:
                self._scopes.discard(scope)

    @staticmethod
    async def _pump(
        source: trio.SocketStream, sink: trio.SocketStream, scope: trio.CancelScope
    ) -> None:
        try:
            async for data in source:
                await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        scope.cancel()

    def cut(self) -> int:
        """Close every open connection at once; returns how many there were."""
        scopes = list(self._scopes)
        for scope in scopes:
            scope.cancel()
        self.cuts += 1
        return len(scopes)


@attrs.frozen(kw_only=True)
class BotAccount:
    """A bot user with a token, created directly in the test server's database."""

    user_id: str
    handle: str
    display_name: str
    token: str = attrs.field(repr=False)


class ClickClackHarness:
    """A running in-process server, plus helpers to create users, bots and channels."""

    def __init__(
        self,
        nursery: trio.Nursery,
        running: Any,
        relay: TcpRelay,
        workspace_id: str,
        general_id: str,
        owner_id: str,
        data_dir: Path,
    ) -> None:
        self.nursery = nursery
        self.running = running
        self.relay = relay
        self.workspace_id = workspace_id
        self.general_id = general_id
        self.owner_id = owner_id
        self.data_dir = data_dir
        self._owner: TestUser | None = None

    @property
    def url(self) -> str:
        """The server's own URL (users talk to it directly)."""
        return str(self.running.url)

    @property
    def db(self) -> Any:
        """The server's database (for ``await db.write(store_fn, ...)`` in setups)."""
        return self.running.server.db

    def client(self, token: str | None, *, via_relay: bool = False) -> Client:
        """A new SDK client (close it, or use ``async with``)."""
        base = self.relay.url if via_relay else self.url
        return Client(base, token=token, retry=FAST_RETRY, reconnect=FAST_RECONNECT)

    async def owner(self) -> TestUser:
        """The workspace owner as a :class:`TestUser`."""
        if self._owner is None:
            self._owner = await self._user_for(self.owner_id)
        return self._owner

    async def create_user(
        self, name: str = "Tester", *, handle: str | None = None, role: str = "member"
    ) -> TestUser:
        """A new human member of the workspace with a session."""
        from clickclack_server.store import users as user_store

        chosen = handle or _handle_for(name)

        def create(tx: Any) -> str:
            user = user_store.create_user(
                tx, display_name=name, email=f"{chosen}@example.com", handle=chosen
            )
            user_store.add_member(tx, self.workspace_id, user.id, role)
            return str(user.id)

        return await self._user_for(await self.db.write(create))

    async def _user_for(self, user_id: str) -> TestUser:
        from clickclack_server.store import sessions as session_store

        session = await self.db.write(session_store.create_session, user_id)
        user = TestUser(self, self.client(session.token), user_id)
        await self.nursery.start(user._collect)
        return user

    async def create_bot_account(
        self,
        name: str = "Test Bot",
        *,
        handle: str | None = None,
        scopes: list[str] | None = None,
    ) -> BotAccount:
        """A new bot member with a token (default scopes ``bot:write``)."""
        from clickclack_server.store import bots as bot_store

        chosen = handle or _handle_for(name)

        def create(tx: Any) -> BotAccount:
            user = bot_store.create_bot_user(
                tx, workspace_id=self.workspace_id, display_name=name, handle=chosen
            )
            token = bot_store.mint_token(
                tx,
                bot_user_id=user.id,
                workspace_id=self.workspace_id,
                owner_user_id=None,
                scopes=scopes or ["bot:write"],
                created_by=self.owner_id,
            )
            assert token.token is not None
            return BotAccount(
                user_id=user.id, handle=user.handle, display_name=name, token=token.token
            )

        account: BotAccount = await self.db.write(create)
        return account

    async def create_channel(self, name: str) -> Channel:
        """A new public channel (created by the owner, so a ``channel.created`` event)."""
        owner = await self.owner()
        created = await owner.client.channels.create(self.workspace_id, name)
        return created.channel

    async def start_bot(
        self,
        bot: Bot,
        *,
        account: BotAccount | None = None,
        start: StartFrom = "now",
        store: CursorStore | None = None,
        **runtime_options: Any,
    ) -> RunningBot:
        """Run ``bot`` on ``account`` (a new bot account by default) through the relay;
        returns once it is connected and its startup hooks ran."""
        account = account or await self.create_bot_account(bot.name.title())
        store = store or FileCursorStore(self.data_dir / "bot-state" / account.user_id)
        running = RunningBot(self, bot, account, store, start, runtime_options)
        await running.start()
        return running


class RunningBot:
    """A bot under test: its runtime, and ways to stop, crash, restart and disconnect it."""

    def __init__(
        self,
        harness: ClickClackHarness,
        bot: Bot,
        account: BotAccount,
        store: CursorStore,
        start: StartFrom,
        options: dict[str, Any],
    ) -> None:
        self.harness = harness
        self.bot = bot
        self.account = account
        self.store = store
        self.start_from: StartFrom = start
        self.options = {"commit_interval": 0.02, "grace": 5.0, **options}
        if (bot.slash_routes or bot.delivery_routes) and "callbacks" not in options:
            self.options["callbacks"] = CallbackOptions(port=0, budget=2.0)
        self.registered = False
        """Whether the bot's slash commands/subscription were registered (first start)."""
        self.runtime: BotRuntime | None = None
        self.starts = 0
        self.error: BaseException | None = None
        self._scope = trio.CancelScope()
        self._stopped = trio.Event()

    @property
    def user_id(self) -> str:
        return self.account.user_id

    @property
    def handle(self) -> str:
        return self.account.handle

    def _runtime(self) -> BotRuntime:
        if self.runtime is None:
            raise RuntimeError("the bot is not running")
        return self.runtime

    async def start(self) -> None:
        """Start (again) from the saved cursor (``start`` applies to the first run only)."""
        if self.runtime is not None and not self._stopped.is_set():
            raise RuntimeError("the bot is already running")
        self._scope = trio.CancelScope()
        self._stopped = trio.Event()
        self.error = None
        self.runtime = await self.harness.nursery.start(self._run)
        self.starts += 1
        if not self.registered and self.runtime.callback_server is not None:
            await self._register_callbacks(self.runtime)

    @property
    def callback_url(self) -> str:
        """Where the bot serves slash/delivery callbacks ("" without such handlers)."""
        server = self.runtime.callback_server if self.runtime is not None else None
        return server.url if server is not None else ""

    async def _register_callbacks(self, runtime: BotRuntime) -> None:
        """Register the bot's slash commands and an event subscription for its delivery
        types as the owner; pin the endpoint's port and secrets so a restart serves the
        same registrations."""
        server = runtime.callback_server
        assert server is not None
        owner = await self.harness.owner()
        hooks = owner.client.hooks
        secrets: list[str] = []
        for route in self.bot.slash_routes.values():
            created = await hooks.create_slash_command(
                self.harness.workspace_id,
                route.name,
                server.url,
                self.account.user_id,
                description=route.description[:500] or None,
            )
            secrets.append(created["signing_secret"])
        types = sorted({kind for route in self.bot.delivery_routes for kind in route.types})
        if types:
            created = await hooks.create_event_subscription(
                self.harness.workspace_id, ["*"] if "*" in types else types, server.url
            )
            secrets.append(created["signing_secret"])
        for secret in secrets:
            server.add_secret(secret)
        callbacks: CallbackOptions = self.options["callbacks"]
        self.options["callbacks"] = attrs.evolve(
            callbacks, port=server.port, secrets=(*callbacks.secrets, *secrets)
        )
        self.registered = True

    async def _run(self, *, task_status: trio.TaskStatus[BotRuntime]) -> None:
        client = self.harness.client(self.account.token, via_relay=True)
        runtime = BotRuntime(
            Account(
                bot=self.bot,
                server=client.base_url,
                token=self.account.token,
                name=f"test-{self.account.user_id}",
                start=self.start_from,
                store=self.store,
            ),
            client=client,
            reconnect=FAST_RECONNECT,
            **self.options,
        )
        started = False

        async def run_runtime(*, task_status: trio.TaskStatus[BotRuntime]) -> None:
            await runtime.run(task_status=task_status)

        try:
            async with client:
                with self._scope:
                    try:
                        async with trio.open_nursery() as nursery:
                            await nursery.start(run_runtime)
                            started = True
                            task_status.started(runtime)
                    except Exception as error:
                        if not started:
                            raise unwrap(error) from None
                        self.error = unwrap(error)
        finally:
            self._stopped.set()

    async def stop(self, grace: float | None = None) -> None:
        """Graceful stop (drain, hooks, cursor saved); re-raises a fatal runtime error."""
        runtime = self._runtime()
        runtime.stop(grace)
        await self.wait_stopped()

    async def wait_stopped(self) -> None:
        """Wait until the runtime ended (stopped, crashed, or failed: that error is raised)."""
        await self._stopped.wait()
        if self.error is not None:
            raise self.error

    async def crash(self) -> None:
        """Kill the bot at once, as a crash would: handlers are cancelled wherever they
        are, and nothing more is saved."""
        self._scope.cancel()
        await self._stopped.wait()

    async def restart(self) -> None:
        """:meth:`crash`, then :meth:`start` again from the saved cursor."""
        await self.crash()
        await self.start()

    def drop_connection(self) -> int:
        """Cut every connection of the bot (it reconnects and resumes from its cursor)."""
        return self.harness.relay.cut()

    async def wait_caught_up(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has handled every event it can see so far."""
        with trio.fail_after(timeout):
            await self._runtime().wait_caught_up()

    def statistics(self) -> RuntimeStatistics:
        return self._runtime().statistics()


class TestUser:
    """A human member driving the conversation: ``say`` things, then ``expect_reply``."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, harness: ClickClackHarness, client: Client, user_id: str) -> None:
        self.harness = harness
        self.client = client
        self.user_id = user_id
        self.last_said: Message | None = None
        self._where: tuple[str | None, str | None] | None = None
        """(channel id, direct conversation id) of the last ``say``/``slash``."""
        self._said = ""
        self._last_cursor = ""
        self.events: list[Event] = []
        """Every realtime event this user saw (ephemeral ones included)."""
        self._events: list[Event] = []
        self._taken: set[str] = set()
        self._arrived = trio.lowlevel.ParkingLot()

    async def _collect(self, *, task_status: trio.TaskStatus[None]) -> None:
        async with (
            self.client,
            self.client.realtime.connect(
                self.harness.workspace_id, on_resync=self._catch_up
            ) as stream,
        ):
            task_status.started()
            async for event in stream:
                self._saw(event)

    def _saw(self, event: Event) -> None:
        self.events.append(event)
        if event.type in ("message.created", "thread.reply_created"):
            self._events.append(event)
        self._arrived.unpark_all()

    async def _catch_up(self, resync: ResyncRequired) -> str | None:
        """Close 4001 (a burst past the socket's replay limit): read what was missed through
        pull pages, then resume the socket after the last one."""
        cursor = resync.cursor
        if cursor is None:
            return None
        while True:
            batch = await self.client.realtime.pull(
                self.harness.workspace_id, after_cursor=cursor, limit=500
            )
            for event in batch.events:
                self._saw(event)
            if batch.events:
                cursor = batch.events[-1].cursor
            if len(batch.events) < 500 or not batch.events:
                return cursor

    async def say(self, where: str, text: str) -> Message:
        """Post ``text``: ``where`` is ``#name``/``channel:<name|id>``, ``dm:<user_id>`` (or
        ``dm:@handle``) or ``thread:<message_id>``."""
        kind, _, value = where.partition(":")
        workspace = self.harness.workspace_id
        if where.startswith("#") or kind == "channel":
            name = where[1:] if where.startswith("#") else value
            channel = await self.client.channels.find(name, workspace=workspace)
            created = await self.client.messages.send(channel, text)
            message, event = created.message, created.event
        elif kind == "dm":
            target = value
            if target.startswith("@"):
                target = await self._user_by_handle(target[1:])
            conversation = await self.client.dms.create(workspace, [target])
            created = await self.client.dms.send(conversation, text)
            message, event = created.message, created.event
        elif kind == "thread":
            reply = await self.client.threads.reply(value, text)
            message, event = reply.message, (reply.events[0] if reply.events else None)
        else:
            raise ValueError(f"say(): unknown target {where!r}")
        self.last_said = message
        self._where = (message.channel_id, message.direct_conversation_id)
        self._said = text
        if event is not None and event.cursor:
            self._last_cursor = event.cursor
        return message

    async def slash(self, where: str, line: str) -> SlashCommandResult:
        """Run the slash command ``line`` (``"/deploy api --force"``) in channel ``where``
        (``#name`` or ``channel:<name|id>``), as the web client does; returns the callback's
        answer. A later :meth:`expect_reply` returns what the bot posts afterwards in that
        channel (e.g. a deferred result), not the answer itself."""
        name = where[1:] if where.startswith("#") else where.partition(":")[2]
        channel = await self.client.channels.find(name, workspace=self.harness.workspace_id)
        command, _, text = line.strip().partition(" ")
        batch = await self.client.realtime.pull(
            self.harness.workspace_id, limit=1, include_tail=True
        )
        self._last_cursor = batch.tail_cursor or ""
        self._where = (channel.id, None)
        self._said = line
        result = await self.client.hooks.slash(channel, command, text.strip())
        if result.event is not None and result.event.id:
            self._taken.add(result.event.id)
        return result

    async def _user_by_handle(self, handle: str) -> str:
        async for member in self.client.workspaces.iter_members(self.harness.workspace_id):
            if member.user.handle == handle.lower():
                return member.user.id
        raise LookupError(f"no member @{handle}")

    async def wait_for_event(
        self,
        predicate: Callable[[Event], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Event:
        """The first event this user saw (or sees next) that satisfies ``predicate``."""
        with trio.fail_after(timeout):
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                await self._arrived.park()

    async def react(self, message: Message, emoji: str) -> None:
        await self.client.reactions.add(message.id, emoji)

    async def expect_reply(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 (the documented API)
        *,
        author: str | RunningBot | None = None,
    ) -> Message:
        """The next message by someone else in the conversation of the last ``say`` (its
        channel or DM, threads included), posted after it. Each reply is returned once."""
        where = self._where
        if where is None:
            raise RuntimeError("expect_reply() before say() or slash()")
        wanted_author = author.user_id if isinstance(author, RunningBot) else author
        try:
            with trio.fail_after(timeout):
                while True:
                    for event in self._events:
                        if event.id in self._taken or event.cursor <= self._last_cursor:
                            continue
                        if not self._same_conversation(event, where):
                            continue
                        message = await self.client.messages.get(
                            str((event.payload or {}).get("message_id"))
                        )
                        if message.author_id == self.user_id or (
                            wanted_author is not None and message.author_id != wanted_author
                        ):
                            self._taken.add(event.id)
                            continue
                        self._taken.add(event.id)
                        return message
                    await self._arrived.park()
        except trio.TooSlowError:
            raise ReplyTimeout(f"no reply to {self._said!r} within {timeout}s") from None

    async def expect_no_reply(self, running: RunningBot, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Assert that ``running`` handled everything so far without answering the last
        ``say`` (a barrier on the bot's cursor, not a sleep)."""
        await running.wait_caught_up(timeout)
        where = self._where
        for event in self._events:
            if event.id in self._taken or event.cursor <= self._last_cursor:
                continue
            if where is not None and self._same_conversation(event, where):
                message = await self.client.messages.get(str((event.payload or {})["message_id"]))
                if message.author_id == running.user_id:
                    raise AssertionError(f"unexpected reply {message.body!r}")

    @staticmethod
    def _same_conversation(event: Event, where: tuple[str | None, str | None]) -> bool:
        channel_id, direct_id = where
        conversation = (event.payload or {}).get("direct_conversation_id")
        if direct_id is not None:
            return conversation == direct_id
        return conversation is None and event.channel_id == channel_id


async def open_harness(nursery: trio.Nursery, tmp_path: Path) -> ClickClackHarness:
    """Start a server in ``nursery`` with a database under ``tmp_path`` (what the
    ``clickclack_server`` fixture does; usable without pytest too)."""
    from clickclack_server.config import Config
    from clickclack_server.runner import run_server
    from clickclack_server.store import users as user_store

    data = tmp_path / "clickclack-data"
    running = await nursery.start(
        run_server,
        # Loopback callbacks allowed: the bots under test serve theirs on 127.0.0.1.
        Config(
            addr="127.0.0.1:0", data=str(data), dev_bootstrap=False, allow_private_callbacks=True
        ),
    )
    boot = await running.server.db.write(
        user_store.bootstrap, name="Owner", email="owner@example.com"
    )
    host, _, port = running.url.removeprefix("http://").rpartition(":")
    relay = TcpRelay(host.strip("[]"), int(port))
    await nursery.start(relay.run)
    return ClickClackHarness(
        nursery, running, relay, boot.workspace_id, boot.channel_id, boot.user_id, data
    )


@pytest.fixture
async def clickclack_server(nursery: trio.Nursery, tmp_path: Path) -> ClickClackHarness:
    """A real ClickClack server on a free port with a temporary database."""
    return await open_harness(nursery, tmp_path)


@pytest.fixture
def bot() -> Bot:
    """The bot under test: override this fixture (``return my_module.bot``)."""
    pytest.fail("define a `bot` fixture returning the Bot under test")


@pytest.fixture
async def running_bot(clickclack_server: ClickClackHarness, bot: Bot) -> AsyncIterator[RunningBot]:
    """The ``bot`` fixture running on a new bot account (started "now")."""
    running = await clickclack_server.start_bot(bot)
    yield running
    if running.runtime is not None and not running._stopped.is_set():
        await running.crash()


@pytest.fixture
async def user(clickclack_server: ClickClackHarness) -> TestUser:
    """A human member of the workspace."""
    return await clickclack_server.create_user("Tester")
