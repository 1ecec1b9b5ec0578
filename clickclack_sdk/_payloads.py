"""Typed payloads of realtime events (protocol 4.4), keyed by the event's ``type``.

``Event.payload`` stays the raw JSON object, so an event's wire shape never changes;
:func:`parse_payload` (or ``Event.typed_payload()``) turns it into the class registered for its
type. Unknown types, and payloads that do not fit their class, come back as the raw ``dict`` so
a newer server never breaks an older client. Ephemeral payloads may carry extra client fields:
the typed object keeps the known ones, the raw dict keeps everything.
"""

from __future__ import annotations

from typing import Any

import attrs
import cattrs

from clickclack_sdk._convert import converter, declared_order


@attrs.frozen(kw_only=True)
class ChannelCreatedPayload:
    """``channel.created``."""

    channel_id: str


@attrs.frozen(kw_only=True)
class ChannelUpdatedPayload:
    """``channel.updated`` (rename, kind, archive...)."""

    channel_id: str
    archived: bool = False


@attrs.frozen(kw_only=True)
class ChannelDeletedPayload:
    """``channel.deleted`` (newest reference versions)."""

    channel_id: str = ""


@declared_order
@attrs.frozen(kw_only=True)
class MessageCreatedPayload:
    """``message.created`` for a channel or DM root; the body is fetched separately."""

    message_id: str
    direct_conversation_id: str | None = None
    author_id: str
    topic_id: str | None = None
    kind: str | None = None
    turn_id: str | None = None
    nonce: str | None = None
    correlation_id: str | None = None


@attrs.frozen(kw_only=True)
class MessageChangedPayload:
    """``message.updated`` and ``message.deleted``."""

    message_id: str
    root_message_id: str
    direct_conversation_id: str | None = None


@attrs.frozen(kw_only=True)
class ThreadReplyCreatedPayload:
    """``thread.reply_created``."""

    message_id: str
    root_message_id: str
    direct_conversation_id: str | None = None
    author_id: str | None = None
    nonce: str | None = None
    correlation_id: str | None = None


@attrs.frozen(kw_only=True)
class ThreadStateUpdatedPayload:
    """``thread.state_updated``."""

    root_message_id: str
    direct_conversation_id: str | None = None


@attrs.frozen(kw_only=True)
class ReactionPayload:
    """``reaction.added`` and ``reaction.removed``; ``count`` is the emoji's new total."""

    message_id: str
    emoji: str
    user_id: str
    count: int
    direct_conversation_id: str | None = None


@attrs.frozen(kw_only=True)
class ChannelReadPayload:
    """``channel.read`` (private to the reader; the event's ``seq`` is the new pointer)."""

    channel_id: str
    user_id: str


@attrs.frozen(kw_only=True)
class DmReadPayload:
    """``dm.read`` (private to the reader; the event's ``seq`` is the new pointer)."""

    direct_conversation_id: str
    user_id: str


@attrs.frozen(kw_only=True)
class PinPayload:
    """``pin.added`` and ``pin.removed``."""

    channel_id: str
    message_id: str
    pinned_by: str | None = None


@attrs.frozen(kw_only=True)
class MemberModerationUpdatedPayload:
    """``member.moderation_updated``."""

    user_id: str
    role: str | None = None


@attrs.frozen(kw_only=True)
class WorkspaceUpdatedPayload:
    """``workspace.updated``."""

    workspace_id: str


@attrs.frozen(kw_only=True)
class OwnershipTransferredPayload:
    """``workspace.ownership_transferred``."""

    workspace_id: str
    new_owner_user_id: str


@attrs.frozen(kw_only=True)
class TypingPayload:
    """``typing.started`` and ``typing.stopped`` (ephemeral)."""

    user_id: str
    channel_id: str | None = None
    direct_conversation_id: str | None = None


@attrs.frozen(kw_only=True)
class PresencePayload:
    """``presence.changed`` (ephemeral); ``status`` is whatever the publisher sent."""

    user_id: str
    status: str | None = None
    channel_id: str | None = None
    direct_conversation_id: str | None = None


@attrs.frozen(kw_only=True)
class AgentProgressPayload:
    """``agent.progress`` (ephemeral, bots only)."""

    user_id: str
    turn_id: str | None = None
    seq: int | None = None
    op: str | None = None
    line: dict[str, Any] | None = None
    channel_id: str | None = None
    direct_conversation_id: str | None = None


@attrs.frozen(kw_only=True)
class BotCommandUpdatedPayload:
    """``bot_command.updated`` (hub-only notice)."""

    workspace_id: str
    bot_user_id: str


@attrs.frozen(kw_only=True)
class BotDeletedPayload:
    """``bot.deleted`` (hub-only notice)."""

    bot_user_id: str
    display_name: str = ""
    former_handle: str = ""
    deleted_at: str = ""


@attrs.frozen(kw_only=True)
class BotMembershipRemovedPayload:
    """``bot.membership_removed`` (hub-only notice)."""

    bot_user_id: str


EventPayload = (
    ChannelCreatedPayload
    | ChannelUpdatedPayload
    | ChannelDeletedPayload
    | MessageCreatedPayload
    | MessageChangedPayload
    | ThreadReplyCreatedPayload
    | ThreadStateUpdatedPayload
    | ReactionPayload
    | ChannelReadPayload
    | DmReadPayload
    | PinPayload
    | MemberModerationUpdatedPayload
    | WorkspaceUpdatedPayload
    | OwnershipTransferredPayload
    | TypingPayload
    | PresencePayload
    | AgentProgressPayload
    | BotCommandUpdatedPayload
    | BotDeletedPayload
    | BotMembershipRemovedPayload
)
"""Any typed event payload."""

PAYLOAD_TYPES: dict[str, type[EventPayload]] = {
    "channel.created": ChannelCreatedPayload,
    "channel.updated": ChannelUpdatedPayload,
    "channel.deleted": ChannelDeletedPayload,
    "message.created": MessageCreatedPayload,
    "message.updated": MessageChangedPayload,
    "message.deleted": MessageChangedPayload,
    "thread.reply_created": ThreadReplyCreatedPayload,
    "thread.state_updated": ThreadStateUpdatedPayload,
    "reaction.added": ReactionPayload,
    "reaction.removed": ReactionPayload,
    "channel.read": ChannelReadPayload,
    "dm.read": DmReadPayload,
    "pin.added": PinPayload,
    "pin.removed": PinPayload,
    "member.moderation_updated": MemberModerationUpdatedPayload,
    "workspace.updated": WorkspaceUpdatedPayload,
    "workspace.ownership_transferred": OwnershipTransferredPayload,
    "typing.started": TypingPayload,
    "typing.stopped": TypingPayload,
    "presence.changed": PresencePayload,
    "agent.progress": AgentProgressPayload,
    "bot_command.updated": BotCommandUpdatedPayload,
    "bot.deleted": BotDeletedPayload,
    "bot.membership_removed": BotMembershipRemovedPayload,
}
"""The payload class of every event type this SDK knows."""


def parse_payload(
    type: str, payload: dict[str, Any] | None
) -> EventPayload | dict[str, Any] | None:
    """``payload`` as the class registered for ``type``; the raw dict when the type is
    unknown or the payload does not fit; ``None`` for a zero-value event's ``null``."""
    if payload is None:
        return None
    cls = PAYLOAD_TYPES.get(type)
    if cls is None:
        return payload
    try:
        return converter.structure(payload, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError):
        return payload
