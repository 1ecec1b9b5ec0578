"""Decorator-based bots on a Trio structured-concurrency runtime.

Declare handlers on a :class:`Bot`, run it with :meth:`Bot.run`, ``python -m clickclack_bots
module:bot`` or :class:`BotRuntime`; test it with the ``clickclack_bots.testing`` pytest plugin.
"""

from clickclack_bots._bot import (
    Bot,
    CommandHandler,
    ErrorHandler,
    EventHandler,
    HookHandler,
    MessageHandler,
    Middleware,
    ReactionHandler,
    ResyncHandler,
    ScheduleHandler,
)
from clickclack_bots._catchup import EventGap
from clickclack_bots._cli import run_from_cli
from clickclack_bots._commands import CommandSpec, UsageError
from clickclack_bots._config import (
    Account,
    BotsConfig,
    ConfigError,
    StartFrom,
    load_config,
    load_target,
    resolve_token,
)
from clickclack_bots._context import (
    AccountInfo,
    CallNext,
    CommandContext,
    Context,
    EventContext,
    MessageContext,
    MessageEventContext,
    ReactionContext,
    ResyncContext,
    ScheduleContext,
    derive_nonce,
)
from clickclack_bots._cursor import (
    BEGINNING,
    CommitTracker,
    CursorStore,
    CursorStoreError,
    FileCursorStore,
    MemoryCursorStore,
)
from clickclack_bots._dispatch import Dispatcher, DispatchStatistics
from clickclack_bots._runtime import (
    BotRuntime,
    HandlerTimeout,
    RuntimeStatistics,
    StartPositionRequired,
    run_accounts,
    run_accounts_sync,
)
from clickclack_bots._slash import (
    CallbackOptions,
    CallbackServer,
    DeliveryContext,
    DeliveryHandler,
    SlashContext,
    SlashHandler,
    SlashRequest,
    SlashResponse,
    run_with_callbacks,
)

__all__ = [
    "BEGINNING",
    "Account",
    "AccountInfo",
    "Bot",
    "BotRuntime",
    "BotsConfig",
    "CallNext",
    "CallbackOptions",
    "CallbackServer",
    "CommandContext",
    "CommandHandler",
    "CommandSpec",
    "CommitTracker",
    "ConfigError",
    "Context",
    "CursorStore",
    "CursorStoreError",
    "DeliveryContext",
    "DeliveryHandler",
    "DispatchStatistics",
    "Dispatcher",
    "ErrorHandler",
    "EventContext",
    "EventGap",
    "EventHandler",
    "FileCursorStore",
    "HandlerTimeout",
    "HookHandler",
    "MemoryCursorStore",
    "MessageContext",
    "MessageEventContext",
    "MessageHandler",
    "Middleware",
    "ReactionContext",
    "ReactionHandler",
    "ResyncContext",
    "ResyncHandler",
    "RuntimeStatistics",
    "ScheduleContext",
    "ScheduleHandler",
    "SlashContext",
    "SlashHandler",
    "SlashRequest",
    "SlashResponse",
    "StartFrom",
    "StartPositionRequired",
    "UsageError",
    "derive_nonce",
    "load_config",
    "load_target",
    "resolve_token",
    "run_accounts",
    "run_accounts_sync",
    "run_from_cli",
    "run_with_callbacks",
]
