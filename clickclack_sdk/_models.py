"""Wire objects of the ClickClack protocol (protocol.md section 3.2 and 4.3).

Every class is frozen, slotted and keyword-only. Fields without a default are always present on the
wire; fields with a default are omitted when they hold it (``None``, ``""`` or ``[]`` as noted),
matching the reference server's omit-empty JSON. Unknown fields on input are ignored so newer
servers do not break older clients.
"""

from __future__ import annotations

from typing import Any

import attrs

from clickclack_sdk._payloads import EventPayload, parse_payload


@attrs.frozen(kw_only=True)
class NotificationSettings:
    """Push notification settings of a user (``/api/me``)."""

    pushover_enabled: bool = False
    pushover_user_key: str = ""


@attrs.frozen(kw_only=True)
class AppearancePreferences:
    """Web-app appearance choices of a user (``/api/me`` only)."""

    color_mode: str | None = None
    board_theme: str | None = None
    message_layout: str | None = None
    density: str | None = None


@attrs.frozen(kw_only=True)
class User:
    """A human or bot account (protocol 3.2)."""

    id: str
    kind: str
    display_name: str
    handle: str
    avatar_url: str
    created_at: str
    owner_user_id: str | None = None
    former_handle: str | None = None
    deleted_at: str | None = None
    notification_settings: NotificationSettings | None = None
    # Only on GET/PATCH /api/me.
    appearance_preferences: AppearancePreferences | None = None
    password_enrolled: bool | None = None


@attrs.frozen(kw_only=True)
class Workspace:
    """A workspace; ``role`` is the caller's role where the server includes it."""

    id: str
    route_id: str
    name: str
    slug: str
    icon_url: str
    created_at: str
    role: str | None = None


@attrs.frozen(kw_only=True)
class Channel:
    """A channel with the caller's read state (``last_read_seq``, ``unread_count``)."""

    id: str
    route_id: str
    workspace_id: str
    name: str
    kind: str
    created_at: str
    external_managed: bool
    last_seq: int
    last_read_seq: int
    unread_count: int
    display_title: str | None = None
    archived_at: str | None = None
    external_ref: str | None = None
    external_url: str | None = None
    sidebar_section: str | None = None


@attrs.frozen(kw_only=True)
class ThreadState:
    """Reply count and recent repliers of a thread root."""

    root_message_id: str
    reply_count: int
    last_reply_author_ids: list[str]
    last_reply_at: str | None = None


@attrs.frozen(kw_only=True)
class ReactionSummary:
    """One emoji on a message: how many reacted and whether the caller did."""

    emoji: str
    count: int
    reacted_by_me: bool


@attrs.frozen(kw_only=True)
class Upload:
    """An uploaded file's metadata; the bytes are at ``/api/uploads/{id}``."""

    id: str
    workspace_id: str
    owner_id: str
    filename: str
    content_type: str
    byte_size: int
    width: int
    height: int
    duration_ms: int
    created_at: str
    nonce: str | None = None


@attrs.frozen(kw_only=True)
class Message:
    """A channel root, thread reply or DM message (deleted ones keep ``deleted_at``)."""

    id: str
    workspace_id: str
    author_id: str
    thread_root_id: str
    body: str
    body_format: str
    created_at: str
    route_id: str | None = None
    channel_id: str | None = None
    direct_conversation_id: str | None = None
    parent_message_id: str | None = None
    topic_id: str | None = None
    channel_seq: int | None = None
    thread_seq: int | None = None
    edited_at: str | None = None
    deleted_at: str | None = None
    kind: str | None = None
    turn_id: str | None = None
    author: User | None = None
    attachments: list[Upload] | None = None
    quoted_message_id: str | None = None
    quoted_body_snapshot: str | None = None
    quoted_author_id: str | None = None
    quoted_author: User | None = None
    thread_state: ThreadState | None = None
    nonce: str | None = None
    reactions: list[ReactionSummary] | None = None


@attrs.frozen(kw_only=True)
class Event:
    """A realtime event: durable (``evt_``/``cur_``), ephemeral (``eph_``) or a hub-only notice.

    ``payload`` is type-specific and always present (``null`` only on zero-value events).
    """

    id: str
    cursor: str
    type: str
    workspace_id: str
    created_at: str
    payload: dict[str, Any] | None
    channel_id: str | None = None
    seq: int | None = None
    mentioned_user_ids: list[str] | None = None

    @property
    def durable(self) -> bool:
        """True for log events (they carry a ``cur_`` cursor and are replayed on reconnect)."""
        return bool(self.cursor)

    def typed_payload(self) -> EventPayload | dict[str, Any] | None:
        """The payload as the typed class for this ``type`` (see ``clickclack_sdk._payloads``);
        the raw dict for unknown types or payloads that do not fit."""
        return parse_payload(self.type, self.payload)


ZERO_EVENT = Event(id="", cursor="", type="", workspace_id="", created_at="", payload=None)


@attrs.frozen(kw_only=True)
class DirectConversation:
    """A DM conversation with its members and the caller's read state."""

    id: str
    route_id: str
    workspace_id: str
    created_at: str
    members: list[User]
    last_seq: int
    last_read_seq: int
    unread_count: int
    can_send: bool


@attrs.frozen(kw_only=True)
class ReadReceipt:
    """A read pointer after ``POST .../read``."""

    scope_id: str
    user_id: str
    last_read_seq: int
    last_read_at: str


@attrs.frozen(kw_only=True)
class Session:
    """A login session; ``token`` is the ``sst_`` bearer secret."""

    id: str
    token: str
    user_id: str
    created_at: str
    expires_at: str


@attrs.frozen(kw_only=True)
class MagicLink:
    """A magic-link sign-in request (its secret token travels separately)."""

    id: str
    email: str
    display_name: str
    created_at: str
    expires_at: str
    used_at: str | None = None


@attrs.frozen(kw_only=True)
class BotToken:
    """A bot token's metadata (the raw secret only in the minting response)."""

    id: str
    bot_user_id: str
    workspace_id: str
    name: str
    scopes: list[str]
    created_at: str
    owner_user_id: str | None = None
    created_by: str | None = None
    last_used_at: str | None = None
    revoked_at: str | None = None
    # The raw ``ccb_`` secret, present only in the response that minted it.
    token: str | None = None


@attrs.frozen(kw_only=True)
class BotCommandBot:
    """The short bot form inside a command-menu entry."""

    id: str
    handle: str
    display_name: str
    avatar_url: str


@attrs.frozen(kw_only=True)
class BotCommand:
    """One entry of a bot's command menu."""

    id: str
    command: str
    description: str
    args_hint: str
    bot: BotCommandBot
    created_at: str
    updated_at: str


@attrs.frozen(kw_only=True)
class WorkspaceMember:
    """A member of a workspace with their role."""

    workspace_id: str
    user: User
    role: str
    joined_at: str


@attrs.frozen(kw_only=True)
class MemberModeration:
    """A member's moderation state, as workspace managers see it.

    ``posts_remaining``/``post_limit`` are the guest waiting-room budget (both 0 for other
    roles). ``timeout_until`` may lie in the past (an expired timeout); ``blocked_at`` is set
    while the member is blocked. ``moderation_by``/``moderation_at`` name the last change.
    """

    workspace_id: str
    user: User
    role: str
    posts_remaining: int
    post_limit: int
    timeout_until: str | None = None
    blocked_at: str | None = None
    moderation_note: str | None = None
    moderation_by: str | None = None
    moderation_at: str | None = None


@attrs.frozen(kw_only=True)
class HighlightRange:
    """A highlighted span of a search snippet, in code points, end exclusive."""

    start: int
    end: int


@attrs.frozen(kw_only=True)
class SearchHit:
    """One search result: a snippet and where the message lives, not its body."""

    id: str
    workspace_id: str
    author: User
    thread_root_id: str
    created_at: str
    reply_count: int
    snippet: str
    highlights: list[HighlightRange]
    channel_id: str | None = None
    channel_name: str | None = None
    direct_conversation_id: str | None = None
    parent_message_id: str | None = None
    channel_seq: int | None = None
    thread_seq: int | None = None
    edited_at: str | None = None
    last_reply_at: str | None = None


@attrs.frozen(kw_only=True)
class MessagePage:
    """A window of a channel or DM timeline (protocol 3.1)."""

    messages: list[Message]
    oldest_seq: int
    newest_seq: int
    has_older: bool
    has_newer: bool


@attrs.frozen(kw_only=True)
class ThreadPage:
    """An opened thread: root, a window of replies, state and paging flags."""

    root: Message
    replies: list[Message]
    thread_state: ThreadState
    oldest_seq: int = 0
    newest_seq: int = 0
    has_older: bool = False
    has_newer: bool = False


@attrs.frozen(kw_only=True)
class RouteTarget:
    """What a ``/app/{workspace}/{target}`` URL points at (the ``route`` envelope's object)."""

    workspace_id: str
    workspace_route_id: str
    target_type: str
    target_id: str
    target_route_id: str
    parent_type: str | None = None
    parent_id: str | None = None
    parent_route_id: str | None = None
    canonical_path: str


@attrs.frozen(kw_only=True)
class DeletedBot:
    """The ``deleted_bot`` object answered by ``DELETE /api/bots/{bot}``."""

    id: str
    display_name: str
    former_handle: str
    deleted_at: str


@attrs.frozen(kw_only=True)
class SlashCommand:
    """A registered slash command; ``signing_secret`` only in the create/rotate response."""

    id: str
    workspace_id: str
    app_installation_id: str | None = None
    command: str
    description: str
    callback_url: str
    signing_secret: str | None = None
    bot_user_id: str
    created_by: str | None = None
    created_at: str
    revoked_at: str | None = None


@attrs.frozen(kw_only=True)
class SlashCommandInvocation:
    """One call of a registered command: what was sent (``payload_json``) and what came back."""

    id: str
    command_id: str
    workspace_id: str
    channel_id: str
    user_id: str
    text: str
    payload_json: str | None = None
    response_status: int
    response_body: str | None = None
    error: str | None = None
    created_at: str
    completed_at: str | None = None


@attrs.frozen(kw_only=True)
class EventSubscription:
    """An outgoing event subscription; ``signing_secret`` only in the create/rotate response."""

    id: str
    workspace_id: str
    app_installation_id: str | None = None
    event_types: list[str]
    callback_url: str
    signing_secret: str | None = None
    created_by: str | None = None
    created_at: str
    revoked_at: str | None = None


@attrs.frozen(kw_only=True)
class EventDeliveryAttempt:
    """One logged delivery of one event to one subscription (``attempt`` counts from 1)."""

    id: str
    subscription_id: str
    event_id: str
    workspace_id: str
    event_type: str
    attempt: int
    response_status: int
    response_body: str | None = None
    error: str | None = None
    created_at: str
    completed_at: str | None = None


ZERO_MESSAGE = Message(
    id="", workspace_id="", author_id="", thread_root_id="", body="", body_format="", created_at=""
)
