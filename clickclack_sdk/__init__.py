"""Typed, Trio-native client SDK for ClickClack servers.

The wire objects here are shared with ``clickclack_server``: one definition, two sides.
"""

from clickclack_sdk._convert import converter, dumps, from_data, loads, to_data
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

__version__ = "0.1.0"

__all__ = [
    "ZERO_EVENT",
    "AppearancePreferences",
    "BotCommand",
    "BotCommandBot",
    "BotToken",
    "Channel",
    "DeletedBot",
    "DirectConversation",
    "Event",
    "HighlightRange",
    "MagicLink",
    "Message",
    "MessagePage",
    "NotificationSettings",
    "ReactionSummary",
    "ReadReceipt",
    "RouteTarget",
    "SearchHit",
    "Session",
    "ThreadPage",
    "ThreadState",
    "Upload",
    "User",
    "Workspace",
    "WorkspaceMember",
    "__version__",
    "converter",
    "dumps",
    "from_data",
    "loads",
    "to_data",
]
