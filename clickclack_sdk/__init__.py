"""Typed, Trio-native client SDK for ClickClack servers.

The wire objects here are shared with ``clickclack_server``: one definition, two sides.
They are imported eagerly (they are light); the client machinery (httpx, Trio, WebSockets) is
imported on first use, so importing the package, or the ``clickclack`` CLI inside it, stays
fast.
"""

import importlib
from typing import TYPE_CHECKING

from clickclack_sdk._convert import (
    converter,
    dumps,
    from_data,
    loads,
    to_data,
)
from clickclack_sdk._models import (
    ZERO_EVENT,
    AppearancePreferences,
    BotCommand,
    BotCommandBot,
    BotToken,
    Channel,
    DeletedBot,
    DirectConversation,
    Event,
    HighlightRange,
    MagicLink,
    Message,
    MessagePage,
    NotificationSettings,
    ReactionSummary,
    ReadReceipt,
    RouteTarget,
    SearchHit,
    Session,
    ThreadPage,
    ThreadState,
    Upload,
    User,
    Workspace,
    WorkspaceMember,
)
from clickclack_sdk._payloads import (
    PAYLOAD_TYPES,
    AgentProgressPayload,
    BotCommandUpdatedPayload,
    BotDeletedPayload,
    BotMembershipRemovedPayload,
    ChannelCreatedPayload,
    ChannelDeletedPayload,
    ChannelReadPayload,
    ChannelUpdatedPayload,
    DmReadPayload,
    EventPayload,
    MemberModerationUpdatedPayload,
    MessageChangedPayload,
    MessageCreatedPayload,
    OwnershipTransferredPayload,
    PinPayload,
    PresencePayload,
    ReactionPayload,
    ThreadReplyCreatedPayload,
    ThreadStateUpdatedPayload,
    TypingPayload,
    WorkspaceUpdatedPayload,
    parse_payload,
)

if TYPE_CHECKING:
    from clickclack_sdk._client import Client
    from clickclack_sdk._envelopes import (
        BotCreated,
        BotWithTokens,
        ChannelChanged,
        Download,
        EventBatch,
        Login,
        MagicLinkIssued,
        MemberPage,
        MessageChanged,
        MessageCreated,
        OwnedBot,
        ReactionsChanged,
        ReplyCreated,
        SearchPage,
        SlashCommandResult,
        WorkspaceChanged,
        WorkspaceSummary,
    )
    from clickclack_sdk._errors import (
        AuthenticationError,
        ClickClackError,
        Conflict,
        InvalidRequest,
        NetworkError,
        NotFound,
        PayloadTooLarge,
        PermissionDenied,
        RateLimited,
        RealtimeClosed,
        ResyncRequired,
        ServerUnavailable,
    )
    from clickclack_sdk._paging import Pager
    from clickclack_sdk._realtime import EventStream, StreamStatistics
    from clickclack_sdk._retry import NO_RETRY, RetryPolicy
    from clickclack_sdk.resources.bots import BotCommandSpec

_LAZY: dict[str, str] = {
    "Client": "clickclack_sdk._client",
    "BotCreated": "clickclack_sdk._envelopes",
    "BotWithTokens": "clickclack_sdk._envelopes",
    "ChannelChanged": "clickclack_sdk._envelopes",
    "Download": "clickclack_sdk._envelopes",
    "EventBatch": "clickclack_sdk._envelopes",
    "Login": "clickclack_sdk._envelopes",
    "MagicLinkIssued": "clickclack_sdk._envelopes",
    "MemberPage": "clickclack_sdk._envelopes",
    "MessageChanged": "clickclack_sdk._envelopes",
    "MessageCreated": "clickclack_sdk._envelopes",
    "OwnedBot": "clickclack_sdk._envelopes",
    "ReactionsChanged": "clickclack_sdk._envelopes",
    "ReplyCreated": "clickclack_sdk._envelopes",
    "SearchPage": "clickclack_sdk._envelopes",
    "SlashCommandResult": "clickclack_sdk._envelopes",
    "WorkspaceChanged": "clickclack_sdk._envelopes",
    "WorkspaceSummary": "clickclack_sdk._envelopes",
    "AuthenticationError": "clickclack_sdk._errors",
    "ClickClackError": "clickclack_sdk._errors",
    "Conflict": "clickclack_sdk._errors",
    "InvalidRequest": "clickclack_sdk._errors",
    "NetworkError": "clickclack_sdk._errors",
    "NotFound": "clickclack_sdk._errors",
    "PayloadTooLarge": "clickclack_sdk._errors",
    "PermissionDenied": "clickclack_sdk._errors",
    "RateLimited": "clickclack_sdk._errors",
    "RealtimeClosed": "clickclack_sdk._errors",
    "ResyncRequired": "clickclack_sdk._errors",
    "ServerUnavailable": "clickclack_sdk._errors",
    "Pager": "clickclack_sdk._paging",
    "EventStream": "clickclack_sdk._realtime",
    "StreamStatistics": "clickclack_sdk._realtime",
    "NO_RETRY": "clickclack_sdk._retry",
    "RetryPolicy": "clickclack_sdk._retry",
    "BotCommandSpec": "clickclack_sdk.resources.bots",
}
"""Public names imported from their module on first access."""


if not TYPE_CHECKING:  # type checkers see the imports above; at run time names load lazily

    def __getattr__(name: str) -> object:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_LAZY})


__version__ = "0.1.0"

__all__ = [
    "NO_RETRY",
    "PAYLOAD_TYPES",
    "ZERO_EVENT",
    "AgentProgressPayload",
    "AppearancePreferences",
    "AuthenticationError",
    "BotCommand",
    "BotCommandBot",
    "BotCommandSpec",
    "BotCommandUpdatedPayload",
    "BotCreated",
    "BotDeletedPayload",
    "BotMembershipRemovedPayload",
    "BotToken",
    "BotWithTokens",
    "Channel",
    "ChannelChanged",
    "ChannelCreatedPayload",
    "ChannelDeletedPayload",
    "ChannelReadPayload",
    "ChannelUpdatedPayload",
    "ClickClackError",
    "Client",
    "Conflict",
    "DeletedBot",
    "DirectConversation",
    "DmReadPayload",
    "Download",
    "Event",
    "EventBatch",
    "EventPayload",
    "EventStream",
    "HighlightRange",
    "InvalidRequest",
    "Login",
    "MagicLink",
    "MagicLinkIssued",
    "MemberModerationUpdatedPayload",
    "MemberPage",
    "Message",
    "MessageChanged",
    "MessageChangedPayload",
    "MessageCreated",
    "MessageCreatedPayload",
    "MessagePage",
    "NetworkError",
    "NotFound",
    "NotificationSettings",
    "OwnedBot",
    "OwnershipTransferredPayload",
    "Pager",
    "PayloadTooLarge",
    "PermissionDenied",
    "PinPayload",
    "PresencePayload",
    "RateLimited",
    "ReactionPayload",
    "ReactionSummary",
    "ReactionsChanged",
    "ReadReceipt",
    "RealtimeClosed",
    "ReplyCreated",
    "ResyncRequired",
    "RetryPolicy",
    "RouteTarget",
    "SearchHit",
    "SearchPage",
    "ServerUnavailable",
    "Session",
    "SlashCommandResult",
    "StreamStatistics",
    "ThreadPage",
    "ThreadReplyCreatedPayload",
    "ThreadState",
    "ThreadStateUpdatedPayload",
    "TypingPayload",
    "Upload",
    "User",
    "Workspace",
    "WorkspaceChanged",
    "WorkspaceMember",
    "WorkspaceSummary",
    "WorkspaceUpdatedPayload",
    "__version__",
    "converter",
    "dumps",
    "from_data",
    "loads",
    "parse_payload",
    "to_data",
]
