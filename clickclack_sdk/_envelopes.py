"""Response envelopes: what a call answers beyond a single wire object.

Mutations answer the changed resource together with the durable event(s) they wrote
(protocol 3.1); list endpoints answer pages with cursors. These classes keep both halves, so a
caller (or the CLI's ``--json`` output) can use the event cursor as well as the resource.
"""

from __future__ import annotations

import attrs

from clickclack_sdk._convert import NULLABLE
from clickclack_sdk._models import (
    BotToken,
    Channel,
    Event,
    MagicLink,
    MemberModeration,
    Message,
    ReactionSummary,
    SearchHit,
    Session,
    SlashCommandInvocation,
    ThreadState,
    User,
    Workspace,
    WorkspaceMember,
)


@attrs.frozen(kw_only=True)
class MessageCreated:
    """A posted channel or DM root. ``event`` is ``None`` when the nonce matched an earlier
    send and the server answered the existing message instead of posting again."""

    message: Message
    event: Event | None = None

    @property
    def replayed(self) -> bool:
        """True when the server answered an earlier message with the same nonce."""
        return self.event is None


@attrs.frozen(kw_only=True)
class ReplyCreated:
    """A posted thread reply with the root's new thread state; ``events`` is ``None`` on a
    nonce replay, else ``[thread.reply_created, thread.state_updated]``."""

    message: Message
    thread_state: ThreadState
    events: list[Event] | None = attrs.field(default=None, metadata=NULLABLE)

    @property
    def replayed(self) -> bool:
        """True when the server answered an earlier reply with the same nonce."""
        return self.events is None


@attrs.frozen(kw_only=True)
class MessageChanged:
    """An edited or deleted message with its event (a zero-value event when nothing changed,
    e.g. deleting an already deleted message)."""

    message: Message
    event: Event


@attrs.frozen(kw_only=True)
class ReactionsChanged:
    """The message's reaction summaries after an add or remove. ``event`` is a zero-value
    event (``changed`` is False) when the reaction was already there or already gone."""

    event: Event
    reactions: list[ReactionSummary] = attrs.field(factory=list)

    @property
    def changed(self) -> bool:
        """False when the call was a no-op (answered with a zero-value event)."""
        return bool(self.event.id)


@attrs.frozen(kw_only=True)
class ChannelChanged:
    """A created or updated channel with its ``channel.created``/``channel.updated`` event."""

    channel: Channel
    event: Event


@attrs.frozen(kw_only=True)
class WorkspaceChanged:
    """An updated workspace (or one whose ownership moved) with its event."""

    workspace: Workspace
    event: Event


@attrs.frozen(kw_only=True)
class MemberModerationChanged:
    """A moderated member's new state with its private ``member.moderation_updated`` event."""

    member: MemberModeration
    event: Event


@attrs.frozen(kw_only=True)
class MemberPage:
    """One page of ``GET /api/workspaces/{id}/members``; totals only on the first page."""

    members: list[WorkspaceMember]
    has_more: bool = False
    next_cursor: str | None = None
    total_count: int | None = None
    total_by_role: dict[str, int] | None = None


@attrs.frozen(kw_only=True)
class SearchPage:
    """One page of search hits; ``next_cursor`` is ``None`` (written as ``null``) on the last
    page."""

    results: list[SearchHit]
    next_cursor: str | None = attrs.field(default=None, metadata=NULLABLE)


@attrs.frozen(kw_only=True)
class EventBatch:
    """A page of ``GET /api/realtime/events``; ``tail_cursor`` only with ``include_tail``."""

    events: list[Event]
    tail_cursor: str | None = None


@attrs.frozen(kw_only=True)
class BotCreated:
    """A new bot user and, unless ``initial_token`` was false, its first token (with the raw
    ``ccb_`` secret in ``bot_token.token``, shown only this once)."""

    bot: User
    bot_token: BotToken | None = None


@attrs.frozen(kw_only=True)
class BotWithTokens:
    """A bot of a workspace and its token metadata (newest first, secrets never included)."""

    bot: User
    tokens: list[BotToken] = attrs.field(factory=list)


@attrs.frozen(kw_only=True)
class WorkspaceSummary:
    """The short workspace form used in ``/api/me/bots``."""

    id: str
    route_id: str
    name: str


@attrs.frozen(kw_only=True)
class OwnedBot:
    """A bot the caller owns, in one workspace they share, with its live token count."""

    bot: User
    workspace: WorkspaceSummary
    active_token_count: int


@attrs.frozen(kw_only=True)
class MagicLinkIssued:
    """``POST /api/auth/magic/request`` (dev servers): the link and its ``mgt_`` token."""

    magic_link: MagicLink
    token: str


@attrs.frozen(kw_only=True)
class Login:
    """A consumed magic link: the user, the session and its ``sst_`` bearer token."""

    user: User
    session: Session
    token: str


@attrs.frozen(kw_only=True)
class SlashCommandResult:
    """``POST /api/hooks/slash/{channel}``. ``message``/``event`` are zero-value objects (or
    absent) when nothing was posted; ``invocation`` is the stored record of a registered
    command's callback."""

    response_type: str
    text: str
    message: Message | None = None
    event: Event | None = None
    invocation: SlashCommandInvocation | None = None


@attrs.frozen(kw_only=True)
class Download:
    """What a finished download wrote: the served name, type and the number of bytes."""

    filename: str
    content_type: str
    byte_size: int
