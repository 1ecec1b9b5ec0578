"""``Bot``: the declarative half of a bot. Decorators collect handlers; a runtime runs them.

A :class:`Bot` holds no connection and no state beyond its handler tables, so the same bot can
run on several accounts at once, and tests can start it against an in-process server.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Concatenate, TypeVar

import attrs

from clickclack_bots._commands import (
    COMMAND_NAME,
    CommandSpec,
    Param,
    build_params,
    describe_function,
)
from clickclack_bots._context import (
    CallNext,
    CommandContext,
    Context,
    EventContext,
    MessageContext,
    ReactionContext,
    ResyncContext,
    ScheduleContext,
)
from clickclack_bots._schedule import Cron, Every, make_cron, make_every
from clickclack_bots._slash import (
    DeliveryHandler,
    DeliveryRoute,
    SlashHandler,
    SlashRoute,
    normalize_slash,
)

if TYPE_CHECKING:
    from clickclack_bots._config import StartFrom

MessageHandler = Callable[[MessageContext], Awaitable[object]]
CommandHandler = Callable[Concatenate[CommandContext, ...], Awaitable[object]]
ReactionHandler = Callable[[ReactionContext], Awaitable[object]]
EventHandler = Callable[[EventContext], Awaitable[object]]
ScheduleHandler = Callable[[ScheduleContext], Awaitable[object]]
HookHandler = Callable[[Context], Awaitable[object]]
ResyncHandler = Callable[[ResyncContext], Awaitable[object]]
Middleware = Callable[[Context, CallNext], Awaitable[object]]
ErrorHandler = Callable[[Context, Exception], Awaitable[object]]

MessageHandlerT = TypeVar("MessageHandlerT", bound=MessageHandler)
CommandHandlerT = TypeVar("CommandHandlerT", bound=CommandHandler)
ReactionHandlerT = TypeVar("ReactionHandlerT", bound=ReactionHandler)
EventHandlerT = TypeVar("EventHandlerT", bound=EventHandler)
ScheduleHandlerT = TypeVar("ScheduleHandlerT", bound=ScheduleHandler)
HookHandlerT = TypeVar("HookHandlerT", bound=HookHandler)
ResyncHandlerT = TypeVar("ResyncHandlerT", bound=ResyncHandler)
MiddlewareT = TypeVar("MiddlewareT", bound=Middleware)
ErrorHandlerT = TypeVar("ErrorHandlerT", bound=ErrorHandler)
SlashHandlerT = TypeVar("SlashHandlerT", bound=SlashHandler)
DeliveryHandlerT = TypeVar("DeliveryHandlerT", bound=DeliveryHandler)
SLASH_NAME = re.compile(r"^/[a-z0-9_-]{1,32}$")

DEFAULT_TIMEOUT = 60.0
"""Seconds a handler call may run before its cancel scope is cancelled."""


def _key(kind: str, func: Callable[..., Any], taken: set[str]) -> str:
    """A stable handler key (part of every reply nonce): kind and qualified name."""
    base = f"{kind}:{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"
    key, index = base, 1
    while key in taken:
        index += 1
        key = f"{base}#{index}"
    taken.add(key)
    return key


def _as_set(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    return frozenset(item.strip().removeprefix("#").lower() for item in items)


@attrs.frozen(kw_only=True)
class MessageRoute:
    """An ``on_message`` registration."""

    handler: MessageHandler
    key: str
    pattern: re.Pattern[str] | None
    channels: frozenset[str] | None
    dm: bool | None
    thread: bool | None
    mention: bool
    allow_bots: bool | None
    timeout: float | None


@attrs.frozen(kw_only=True)
class CommandRoute:
    """A ``command`` registration."""

    handler: CommandHandler
    key: str
    spec: CommandSpec
    allow_bots: bool | None
    timeout: float | None


@attrs.frozen(kw_only=True)
class ReactionRoute:
    handler: ReactionHandler
    key: str
    emoji: frozenset[str] | None
    added: bool | None
    allow_bots: bool | None
    timeout: float | None


@attrs.frozen(kw_only=True)
class EventRoute:
    handler: EventHandler
    key: str
    types: frozenset[str]
    timeout: float | None


@attrs.frozen(kw_only=True)
class ScheduleRoute:
    handler: ScheduleHandler
    key: str
    name: str
    when: Every | Cron
    timeout: float | None


@attrs.frozen(kw_only=True)
class ErrorRoute:
    handler: ErrorHandler
    types: tuple[type[Exception], ...]


class Bot:
    """A set of handlers, declared with decorators::

        bot = Bot("deploybot", prefix="!")

        @bot.on_message(r"^hello\\b")
        async def hello(ctx: MessageContext) -> None:
            await ctx.reply("hi!")

        @bot.command("deploy")
        async def deploy(ctx: CommandContext, service: str, *, force: bool = False) -> None:
            '''Deploy a service.'''

    ``prefix`` starts commands (``@handle deploy`` works too). Messages of other bots are
    ignored unless ``allow_bots`` (per handler or here); even then at most ``max_bot_chain``
    bot messages are handled per conversation within ``bot_chain_window`` seconds without a
    human message in between (the bot-to-bot loop guard). ``handler_timeout`` is the default
    deadline of each handler call. ``help_command`` adds a generated ``help`` command;
    ``publish_commands`` publishes the commands as the bot's command menu at start.
    """

    def __init__(
        self,
        name: str = "bot",
        *,
        prefix: str | Sequence[str] = "!",
        allow_bots: bool = False,
        handler_timeout: float | None = DEFAULT_TIMEOUT,
        help_command: bool = True,
        publish_commands: bool = True,
        usage_replies: bool = True,
        max_bot_chain: int = 5,
        bot_chain_window: float = 60.0,
    ) -> None:
        self.name = name
        self.prefixes: tuple[str, ...] = (prefix,) if isinstance(prefix, str) else tuple(prefix)
        self.allow_bots = allow_bots
        self.handler_timeout = handler_timeout
        self.publish_commands = publish_commands
        self.usage_replies = usage_replies
        self.max_bot_chain = max_bot_chain
        self.bot_chain_window = bot_chain_window
        self.message_routes: list[MessageRoute] = []
        self.command_routes: dict[str, CommandRoute] = {}
        self.command_names: dict[str, str] = {}
        """Every name and alias -> the canonical command name."""
        self.reaction_routes: list[ReactionRoute] = []
        self.event_routes: list[EventRoute] = []
        self.schedules: list[ScheduleRoute] = []
        self.startup_hooks: list[tuple[str, HookHandler]] = []
        self.shutdown_hooks: list[tuple[str, HookHandler]] = []
        self.resync_hooks: list[tuple[str, ResyncHandler]] = []
        self.middleware_chain: list[Middleware] = []
        self.error_routes: list[ErrorRoute] = []
        self.slash_routes: dict[str, SlashRoute] = {}
        self.delivery_routes: list[DeliveryRoute] = []
        self._keys: set[str] = set()
        if help_command:
            self._add_command(
                _help_command,
                "help",
                aliases=(),
                description="List the commands, or explain one: help <command>.",
                allow_bots=None,
                timeout=None,
                hidden=False,
            )

    @property
    def prefix(self) -> str:
        """The first command prefix (used in usage lines)."""
        return self.prefixes[0] if self.prefixes else "@"

    # Message handlers.

    def on_message(
        self,
        pattern: str | re.Pattern[str] | None = None,
        *,
        channel: str | Iterable[str] | None = None,
        dm: bool | None = None,
        thread: bool | None = None,
        mention: bool = False,
        allow_bots: bool | None = None,
        timeout: float | None = None,
    ) -> Callable[[MessageHandlerT], MessageHandlerT]:
        """Handle new messages and thread replies.

        ``pattern``: a regular expression searched in the text (``ctx.match`` holds the match);
        ``channel``: channel names or ids it must be in; ``dm``: True for DMs only, False for
        channels only; ``thread``: True for thread replies only, False for roots only;
        ``mention``: only messages mentioning the bot (the leading mention is stripped from
        ``ctx.text`` before matching). Messages that invoke a command go to the command only.
        """
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern

        def register(handler: MessageHandlerT) -> MessageHandlerT:
            self.message_routes.append(
                MessageRoute(
                    handler=handler,
                    key=_key("message", handler, self._keys),
                    pattern=compiled,
                    channels=_as_set(channel),
                    dm=dm,
                    thread=thread,
                    mention=mention,
                    allow_bots=allow_bots,
                    timeout=timeout,
                )
            )
            return handler

        return register

    def command(
        self,
        name: str | None = None,
        *,
        aliases: Iterable[str] = (),
        description: str | None = None,
        hidden: bool = False,
        allow_bots: bool | None = None,
        timeout: float | None = None,
    ) -> Callable[[CommandHandlerT], CommandHandlerT]:
        """Handle ``!name args`` (or ``@bot name args``), with arguments parsed from the
        handler's type hints (see :mod:`clickclack_bots._commands`). ``name`` defaults to the
        function's name; the description to its docstring's first paragraph. ``hidden``
        commands work but stay out of ``help`` and the command menu."""

        def register(handler: CommandHandlerT) -> CommandHandlerT:
            self._add_command(
                handler,
                name or handler.__name__.replace("_", "-"),
                aliases=tuple(aliases),
                description=description,
                allow_bots=allow_bots,
                timeout=timeout,
                hidden=hidden,
            )
            return handler

        return register

    def _add_command(
        self,
        handler: CommandHandler,
        name: str,
        *,
        aliases: tuple[str, ...],
        description: str | None,
        allow_bots: bool | None,
        timeout: float | None,
        hidden: bool,
    ) -> None:
        canonical = name.strip().lower()
        names = [canonical, *(alias.strip().lower() for alias in aliases)]
        for each in names:
            if not COMMAND_NAME.match(each):
                raise ValueError(f"command name {each!r} must be 1-32 of a-z, 0-9, _ or -")
            owner = self.command_names.get(each)
            if owner is not None and not (owner == "help" and canonical == "help"):
                raise ValueError(f"command {each!r} is already registered")
        if canonical == "help":
            old = self.command_routes.pop("help", None)
            if old is not None:
                for alias in old.spec.aliases:
                    self.command_names.pop(alias, None)
        params: list[Param] = build_params(handler)
        spec = CommandSpec(
            name=canonical,
            aliases=tuple(names[1:]),
            description=description if description is not None else describe_function(handler),
            params=tuple(params),
            hidden=hidden,
        )
        self.command_routes[canonical] = CommandRoute(
            handler=handler,
            key=_key("command", handler, self._keys),
            spec=spec,
            allow_bots=allow_bots,
            timeout=timeout,
        )
        for each in names:
            self.command_names[each] = canonical

    def commands(self) -> list[CommandSpec]:
        """The visible commands, sorted by name (what ``help`` and the menu show)."""
        return sorted(
            (route.spec for route in self.command_routes.values() if not route.spec.hidden),
            key=lambda spec: spec.name,
        )

    def help_text(self, command: str | None = None) -> str:
        """The generated help: a list of commands, or one command's details."""
        if command:
            canonical = self.command_names.get(command.strip().lower().lstrip("!/"))
            if canonical is None:
                return f"Unknown command {command!r}. Try `{self.prefix}help`."
            return self.command_routes[canonical].spec.help(self.prefix)
        lines = ["Commands:"]
        for spec in self.commands():
            summary = f" — {spec.description}" if spec.description else ""
            lines.append(f"- `{spec.usage(self.prefix)}`{summary}")
        return "\n".join(lines)

    # Other events.

    def on_reaction(
        self,
        emoji: str | Iterable[str] | None = None,
        *,
        added: bool | None = True,
        allow_bots: bool | None = None,
        timeout: float | None = None,
    ) -> Callable[[ReactionHandlerT], ReactionHandlerT]:
        """Handle reactions (``emoji``: only these; ``added``: True for additions, False for
        removals, None for both). ``ctx.message`` is the reacted message."""
        wanted = None if emoji is None else frozenset([emoji] if isinstance(emoji, str) else emoji)

        def register(handler: ReactionHandlerT) -> ReactionHandlerT:
            self.reaction_routes.append(
                ReactionRoute(
                    handler=handler,
                    key=_key("reaction", handler, self._keys),
                    emoji=wanted,
                    added=added,
                    allow_bots=allow_bots,
                    timeout=timeout,
                )
            )
            return handler

        return register

    def on_event(
        self, *types: str, timeout: float | None = None
    ) -> Callable[[EventHandlerT], EventHandlerT]:
        """Handle realtime events by type (``"*"``: every event), e.g. ``channel.created``."""
        if not types:
            raise ValueError("on_event() needs at least one event type (or '*')")

        def register(handler: EventHandlerT) -> EventHandlerT:
            self.event_routes.append(
                EventRoute(
                    handler=handler,
                    key=_key("event", handler, self._keys),
                    types=frozenset(types),
                    timeout=timeout,
                )
            )
            return handler

        return register

    # Schedules.

    def every(
        self,
        interval: float | timedelta,
        *,
        at_start: bool = False,
        name: str | None = None,
        timeout: float | None = None,
    ) -> Callable[[ScheduleHandlerT], ScheduleHandlerT]:
        """Run the handler every ``interval`` (seconds or a timedelta) while the bot runs;
        ``at_start`` also runs it right away. Runs of one schedule never overlap: a run that
        takes longer than the interval skips the ticks it missed."""
        when = make_every(interval, at_start=at_start)
        return self._schedule(when, name, timeout)

    def cron(
        self,
        expression: str,
        *,
        tz: tzinfo | str | None = None,
        name: str | None = None,
        timeout: float | None = None,
    ) -> Callable[[ScheduleHandlerT], ScheduleHandlerT]:
        """Run the handler at the times of a cron ``expression`` (``"0 9 * * 1-5"``: 09:00 on
        weekdays; an optional sixth, leading field gives seconds), in ``tz`` (default UTC)."""
        when = make_cron(expression, tz)
        return self._schedule(when, name, timeout)

    def _schedule(
        self, when: Every | Cron, name: str | None, timeout: float | None
    ) -> Callable[[ScheduleHandlerT], ScheduleHandlerT]:
        def register(handler: ScheduleHandlerT) -> ScheduleHandlerT:
            key = _key("schedule", handler, self._keys)
            self.schedules.append(
                ScheduleRoute(
                    handler=handler,
                    key=key,
                    name=name or str(getattr(handler, "__name__", key)),
                    when=when,
                    timeout=timeout,
                )
            )
            return handler

        return register

    # Callbacks (served by clickclack_bots.CallbackServer).

    def slash(
        self, name: str, *, description: str | None = None, timeout: float | None = None
    ) -> Callable[[SlashHandlerT], SlashHandlerT]:
        """Handle the registered slash command ``name``: ``async def f(ctx: SlashContext,
        ...)``, arguments parsed from the type hints like :meth:`command`; the returned string
        (or ``ctx.respond``) is the answer."""
        canonical = normalize_slash(name)
        if not SLASH_NAME.match(canonical):
            raise ValueError(f"slash command {name!r}: use / and 1-32 of a-z 0-9 _ -")
        if canonical in self.slash_routes:
            raise ValueError(f"slash command {canonical} is already registered")

        def register(handler: SlashHandlerT) -> SlashHandlerT:
            self.slash_routes[canonical] = SlashRoute(
                name=canonical,
                handler=handler,
                key=_key("slash", handler, self._keys),
                params=tuple(build_params(handler)),
                description=description or describe_function(handler),
                timeout=timeout,
            )
            return handler

        return register

    def on_delivery(self, *types: str) -> Callable[[DeliveryHandlerT], DeliveryHandlerT]:
        """Handle event-subscription deliveries of ``types`` (none or ``"*"``: every type):
        ``async def f(ctx: DeliveryContext)`` with the typed ``ctx.event``."""
        wanted = frozenset(t.strip() for t in types if t.strip()) or frozenset({"*"})

        def register(handler: DeliveryHandlerT) -> DeliveryHandlerT:
            self.delivery_routes.append(
                DeliveryRoute(
                    handler=handler, key=_key("delivery", handler, self._keys), types=wanted
                )
            )
            return handler

        return register

    # Lifecycle, middleware, errors.

    def on_startup(self, handler: HookHandlerT) -> HookHandlerT:
        """Run once per account after it connected, before events are handled."""
        self.startup_hooks.append((_key("startup", handler, self._keys), handler))
        return handler

    def on_shutdown(self, handler: HookHandlerT) -> HookHandlerT:
        """Run once per account on a graceful stop, after in-flight handlers drained."""
        self.shutdown_hooks.append((_key("shutdown", handler, self._keys), handler))
        return handler

    def on_resync(self, handler: ResyncHandlerT) -> ResyncHandlerT:
        """Run when the server cannot replay events (close 4001); the bot then continues from
        the current tail. Refetch whatever state the bot keeps."""
        self.resync_hooks.append((_key("resync", handler, self._keys), handler))
        return handler

    def middleware(self, handler: MiddlewareT) -> MiddlewareT:
        """Wrap every handler call: ``async def mw(ctx, call_next)``; not calling
        ``call_next`` skips the handler. The first registered is the outermost."""
        self.middleware_chain.append(handler)
        return handler

    def on_error(self, *types: type[Exception]) -> Callable[[ErrorHandlerT], ErrorHandlerT]:
        """Receive the exceptions handlers raise (of ``types``; default: every exception),
        timeouts included (:class:`HandlerTimeout`): ``async def f(ctx, error)``."""

        def register(handler: ErrorHandlerT) -> ErrorHandlerT:
            self.error_routes.append(ErrorRoute(handler=handler, types=types or (Exception,)))
            return handler

        return register

    # Running.

    def run(
        self,
        *,
        server: str | None = None,
        token: str | None = None,
        start: StartFrom | None = None,
        workspace: str | None = None,
        state_dir: str | None = None,
        grace: float = 10.0,
    ) -> None:
        """Run this bot on one account until SIGINT/SIGTERM (blocking; starts Trio).

        ``server`` and ``token`` default to ``CLICKCLACK_SERVER`` and ``CLICKCLACK_TOKEN``.
        ``start`` ("now" or "beginning") is required on the very first start of an account.
        """
        from clickclack_bots._config import Account
        from clickclack_bots._runtime import run_accounts_sync

        account = Account.from_values(
            self,
            server=server,
            token=token,
            start=start,
            workspace=workspace,
            state_dir=state_dir,
        )
        if run_accounts_sync([account], grace=grace):
            raise SystemExit(1)


async def _help_command(ctx: CommandContext, *topic: str) -> None:
    """List the commands, or explain one."""
    await ctx.reply(ctx.bot.help_text(topic[0] if topic else None))
