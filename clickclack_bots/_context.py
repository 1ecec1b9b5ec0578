"""What a handler receives: a typed context with the event, the message and safe effects.

Every effect a context sends (``reply``, ``send``) carries a nonce derived from the event id
(or the schedule's fire time), the handler and the call's ordinal within the handler. Running
the same handler on the same event again (after a crash and replay) therefore sends the same
nonces, and the server answers the messages it already stored instead of posting twice.

Context classes, from general to specific:

- :class:`Context`: the account, its SDK client, a logger, the call's cancel scope, ``send``;
- :class:`EventContext`: plus the realtime ``event`` (``on_event`` handlers);
- :class:`MessageEventContext`: plus the fetched ``message``, ``reply``, ``react``, ``typing``;
- :class:`MessageContext` (``on_message``) and :class:`CommandContext` (``command``);
- :class:`ReactionContext` (``on_reaction``);
- :class:`ScheduleContext` (``every``/``cron``) and :class:`ResyncContext` (``on_resync``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import attrs
import trio

from clickclack_sdk import (
    Channel,
    ClickClackError,
    Client,
    Event,
    InvalidRequest,
    Message,
    ResyncRequired,
    User,
)

if TYPE_CHECKING:
    from clickclack_bots._bot import Bot

NONCE_CONFLICT = "client nonce was already used for a different message"
TYPING_REFRESH = 3.0
"""Seconds between ``typing.started`` refreshes while a ``typing()`` block runs."""


@attrs.frozen(kw_only=True)
class AccountInfo:
    """Who the bot is on this connection: its user, handle and workspace."""

    name: str
    user_id: str
    handle: str
    display_name: str
    workspace_id: str


def derive_nonce(account_user_id: str, seed: str, handler_key: str, ordinal: int) -> str:
    """The nonce of effect number ``ordinal`` of ``handler_key`` handling ``seed``."""
    digest = hashlib.sha256(
        f"{account_user_id}\x00{seed}\x00{handler_key}\x00{ordinal}".encode()
    ).hexdigest()
    return "ccbot-" + digest[:40]


class RecentSet:
    """A bounded set remembering the most recent entries (the nonces this bot issued)."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._items: OrderedDict[str, None] = OrderedDict()

    def add(self, item: str) -> None:
        self._items[item] = None
        self._items.move_to_end(item)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        return item in self._items


class Services:
    """Per-account state shared by every context of that account (caches, the client)."""

    def __init__(self, client: Client, account: AccountInfo, bot: Bot) -> None:
        self.client = client
        self.account = account
        self.bot = bot
        self.issued = RecentSet()
        self.channels_by_id: dict[str, Channel] = {}
        self._channels_loaded = False
        self._channels_loaded_at: float | None = None
        self._dm_by_user: dict[str, str] = {}
        self._bots: set[str] = set()
        self._humans: set[str] = set()
        self._bots_loaded_at: float | None = None

    async def channel(self, ref: str) -> Channel:
        """The channel whose id or name (``#`` optional) is ``ref``, refreshing once on a miss."""
        wanted = ref.strip().removeprefix("#")
        for attempt in range(2):
            if attempt or not self._channels_loaded:
                await self.refresh_channels()
            found = self.channels_by_id.get(wanted)
            if found is not None:
                return found
            for channel in self.channels_by_id.values():
                if channel.name.lower() == wanted.lower():
                    return channel
        raise LookupError(f"no channel {ref!r} in this workspace")

    async def channel_name(self, channel_id: str) -> str | None:
        """The name of a channel (the list is refreshed on a miss, at most every 5 s)."""
        if channel_id not in self.channels_by_id:
            now = trio.current_time()
            if self._channels_loaded_at is None or now - self._channels_loaded_at >= 5.0:
                await self.refresh_channels()
        found = self.channels_by_id.get(channel_id)
        return None if found is None else found.name

    async def refresh_channels(self) -> None:
        channels = await self.client.channels.list(self.account.workspace_id)
        self.channels_by_id = {channel.id: channel for channel in channels}
        self._channels_loaded = True
        self._channels_loaded_at = trio.current_time()

    async def dm_with(self, user_id: str) -> str:
        """The id of the one-to-one conversation with ``user_id`` (opened when needed)."""
        found = self._dm_by_user.get(user_id)
        if found is None:
            conversation = await self.client.dms.create(self.account.workspace_id, [user_id])
            found = self._dm_by_user[user_id] = conversation.id
        return found

    def note_user(self, user: User | None) -> None:
        if user is not None:
            (self._bots if user.kind == "bot" else self._humans).add(user.id)

    async def is_bot(self, user_id: str) -> bool:
        """Whether ``user_id`` is a bot (members with role ``bot``, cached; one refresh per
        10 s at most when an unknown user shows up)."""
        if user_id in self._bots:
            return True
        if user_id in self._humans:
            return False
        now = trio.current_time()
        if self._bots_loaded_at is None or now - self._bots_loaded_at > 10.0:
            self._bots_loaded_at = now
            pager = self.client.workspaces.iter_members(self.account.workspace_id, role="bot")
            async for member in pager:
                self._bots.add(member.user.id)
        return user_id in self._bots


TargetKind = Literal["channel", "dm", "conversation", "thread"]
_TARGET = re.compile(r"^(channel|dm|thread):(.+)$")


def parse_target(target: str) -> tuple[TargetKind, str]:
    """``channel:<name|id>``, ``#name``, ``dm:<user_id>`` (or ``dm:<dm_id>``), ``thread:<msg>``."""
    text = target.strip()
    if text.startswith("#") and len(text) > 1:
        return "channel", text[1:]
    match = _TARGET.match(text)
    if not match:
        raise ValueError(
            f"bad send target {target!r}: use channel:<name|id>, dm:<user_id> or thread:<id>"
        )
    kind, value = match[1], match[2].strip()
    if kind == "dm":
        return ("conversation" if value.startswith("dm_") else "dm"), value
    if kind == "thread":
        return "thread", value
    return "channel", value


class Context:
    """The base of every handler context: account, client, logger, cancel scope, ``send``."""

    kind: str = "context"

    def __init__(
        self,
        services: Services,
        *,
        handler_key: str,
        seed: str,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger],
    ) -> None:
        self._services = services
        self._handler_key = handler_key
        self._seed = seed
        self._ordinal = 0
        self.log = log
        """A logger that tags records with the account, handler and event id."""
        self.cancel_scope = trio.CancelScope()
        """The handler call's own cancel scope (its deadline is the handler timeout)."""

    @property
    def client(self) -> Client:
        """The SDK client authenticated as this bot account."""
        return self._services.client

    @property
    def account(self) -> AccountInfo:
        return self._services.account

    @property
    def bot(self) -> Bot:
        return self._services.bot

    @property
    def workspace_id(self) -> str:
        return self._services.account.workspace_id

    def next_nonce(self) -> str:
        """The nonce for this call's next effect (deterministic: see the module docstring)."""
        nonce = derive_nonce(
            self._services.account.user_id, self._seed, self._handler_key, self._ordinal
        )
        self._ordinal += 1
        self._services.issued.add(nonce)
        return nonce

    async def send(self, target: str, text: str, *, quote: str | None = None) -> Message:
        """Post ``text`` to ``target``: ``channel:<name|id>`` (or ``#name``), ``dm:<user_id>``
        or ``thread:<message_id>``; exactly once even if the handler is replayed."""
        kind, value = parse_target(target)
        if kind == "channel":
            channel = await self._services.channel(value)
            return await self._post("channel", channel.id, text, quote)
        if kind == "dm":
            conversation_id = await self._services.dm_with(value)
            return await self._post("conversation", conversation_id, text, quote)
        return await self._post(kind, value, text, quote)

    async def _post(
        self, kind: TargetKind, target_id: str, text: str, quote: str | None
    ) -> Message:
        nonce = self.next_nonce()
        client = self._services.client
        try:
            if kind == "channel":
                return (
                    await client.messages.send(target_id, text, nonce=nonce, quote=quote)
                ).message
            if kind == "conversation":
                return (await client.dms.send(target_id, text, nonce=nonce, quote=quote)).message
            return (await client.threads.reply(target_id, text, nonce=nonce, quote=quote)).message
        except InvalidRequest as error:
            if error.error != NONCE_CONFLICT:
                raise
            # A replayed handler produced a different text: the first one stays, as sent.
            found = await client.messages.by_nonce(self.workspace_id, nonce)
            if found is None:
                raise
            self.log.warning("effect %s was already sent with another text; kept the first", nonce)
            return found


class EventContext(Context):
    """A context for one realtime event (``on_event`` handlers)."""

    kind = "event"

    def __init__(
        self,
        services: Services,
        event: Event,
        *,
        handler_key: str,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger],
    ) -> None:
        super().__init__(services, handler_key=handler_key, seed=event.id or event.cursor, log=log)
        self.event = event

    @property
    def payload(self) -> dict[str, Any]:
        """The event's raw payload (``{}`` for a ``null`` one)."""
        return self.event.payload or {}


class MessageEventContext(EventContext):
    """An event about one message, fetched for the handler (events carry no body)."""

    def __init__(
        self,
        services: Services,
        event: Event,
        message: Message,
        *,
        handler_key: str,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger],
    ) -> None:
        super().__init__(services, event, handler_key=handler_key, log=log)
        self.message = message

    @property
    def channel_id(self) -> str | None:
        return self.message.channel_id

    @property
    def conversation_id(self) -> str | None:
        """The DM conversation id (``None`` in channels)."""
        return self.message.direct_conversation_id

    @property
    def is_dm(self) -> bool:
        return self.message.direct_conversation_id is not None

    @property
    def in_thread(self) -> bool:
        """True for a thread reply."""
        return self.message.parent_message_id is not None

    async def reply(self, text: str, *, thread: bool = False, quote: bool = False) -> Message:
        """Answer where the message is: in its thread when it is a thread reply (or when
        ``thread`` is True, starting one under it), else in its channel or DM."""
        message = self.message
        quoted = message.id if quote else None
        if message.parent_message_id is not None:
            return await self._post("thread", message.thread_root_id, text, quoted)
        if thread:
            return await self._post("thread", message.id, text, quoted)
        if message.direct_conversation_id is not None:
            return await self._post("conversation", message.direct_conversation_id, text, quoted)
        assert message.channel_id is not None
        return await self._post("channel", message.channel_id, text, quoted)

    async def react(self, emoji: str) -> None:
        """React to the message (idempotent on the server, so safe to replay)."""
        await self.client.reactions.add(self.message.id, emoji)

    @asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        """Show "typing…" in the message's channel or DM while the block runs (refreshed every
        few seconds through the ephemeral endpoint; failures there are only logged)."""
        message = self.message
        target: dict[str, str] = (
            {"conversation": message.direct_conversation_id}
            if message.direct_conversation_id is not None
            else {"channel": message.channel_id or ""}
        )

        async def publish(stopped: bool) -> None:
            try:
                await self.client.realtime.typing(self.workspace_id, stopped=stopped, **target)
            except ClickClackError as error:
                self.log.debug("typing indicator failed: %s", error)

        async def keep_alive(task_status: trio.TaskStatus[None]) -> None:
            await publish(False)
            task_status.started()
            while True:
                await trio.sleep(TYPING_REFRESH)
                await publish(False)

        async with trio.open_nursery() as nursery:
            await nursery.start(keep_alive)
            try:
                yield
            finally:
                nursery.cancel_scope.cancel()
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await publish(True)


class MessageContext(MessageEventContext):
    """A new message or thread reply (``on_message`` handlers)."""

    kind = "message"

    def __init__(
        self,
        services: Services,
        event: Event,
        message: Message,
        *,
        handler_key: str,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger],
        text: str,
        match: re.Match[str] | None = None,
        mentioned: bool = False,
    ) -> None:
        super().__init__(services, event, message, handler_key=handler_key, log=log)
        self.text = text
        """The message body (without the leading @mention when the handler asked for one)."""
        self.match = match
        """The pattern's match, when the handler has a pattern."""
        self.mentioned = mentioned
        """Whether the message mentions this bot."""

    @property
    def author_id(self) -> str:
        return self.message.author_id

    @property
    def author(self) -> User | None:
        """The author (hydrated by the server), when present."""
        return self.message.author


class CommandContext(MessageContext):
    """A message that invoked a command (``command`` handlers)."""

    kind = "command"

    def __init__(
        self,
        services: Services,
        event: Event,
        message: Message,
        *,
        handler_key: str,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger],
        text: str,
        command: str,
        arguments: str,
        usage: str,
        mentioned: bool = False,
    ) -> None:
        super().__init__(
            services,
            event,
            message,
            handler_key=handler_key,
            log=log,
            text=text,
            mentioned=mentioned,
        )
        self.command = command
        """The command's canonical name (also when invoked through an alias)."""
        self.arguments = arguments
        """The raw argument text after the command name."""
        self.usage = usage


class ReactionContext(MessageEventContext):
    """A reaction added or removed (``on_reaction`` handlers); ``message`` is the reacted one."""

    kind = "reaction"

    @property
    def emoji(self) -> str:
        return str(self.payload.get("emoji", ""))

    @property
    def user_id(self) -> str:
        """Who reacted."""
        return str(self.payload.get("user_id", ""))

    @property
    def added(self) -> bool:
        return self.event.type == "reaction.added"

    @property
    def count(self) -> int:
        """The emoji's new total on the message."""
        value = self.payload.get("count", 0)
        return value if isinstance(value, int) else 0


class ScheduleContext(Context):
    """A scheduled call (``every``/``cron`` handlers); ``fire_time`` is when it was due."""

    kind = "schedule"

    def __init__(
        self,
        services: Services,
        *,
        name: str,
        fire_time: datetime,
        handler_key: str,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger],
    ) -> None:
        super().__init__(
            services, handler_key=handler_key, seed=f"{name}@{fire_time.isoformat()}", log=log
        )
        self.name = name
        self.fire_time = fire_time


class ResyncContext(Context):
    """Events after the bot's cursor were pruned before it got them (``ctx.error`` is an
    :class:`~clickclack_bots.EventGap` with the bounds): refetch what the bot needs through REST
    (``on_resync``). A socket refusing replay (4001) alone is caught up through pull instead."""

    kind = "resync"

    def __init__(
        self,
        services: Services,
        error: ResyncRequired,
        *,
        handler_key: str,
        seed: str,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger],
    ) -> None:
        super().__init__(services, handler_key=handler_key, seed=seed, log=log)
        self.error = error


CallNext = Callable[[], Awaitable[None]]
"""What a middleware calls to run the rest of the chain (and finally the handler)."""
