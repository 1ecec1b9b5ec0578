"""Who may see an event: the one filter used by live delivery, replay and HTTP pull (4.5).

An event's :class:`Audience` says where it belongs (a channel, a DM, or the whole workspace) and
whom it is private to. A :class:`WorkspaceAccess` is a snapshot of the workspace facts the
decision depends on (roles, channel names, DM member sets). :func:`may_see` combines the two in
memory, so fanning an event out to many sockets costs no database query per socket.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

GUEST_ROLE = "guest"
GUEST_CHANNEL = "guest"


@attrs.frozen(slots=True)
class Audience:
    """Where an event belongs: ``channel_id`` or ``conversation_id`` (DM), neither for
    workspace-wide events; ``recipients`` limits it to those users (``None`` = public)."""

    channel_id: str | None = None
    conversation_id: str | None = None
    recipients: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        channel_id: str | None,
        payload: Mapping[str, Any] | None,
        recipients: Iterable[str] | None = None,
    ) -> Audience:
        """The audience of an event row; DM events name their conversation in the payload."""
        conversation = (payload or {}).get("direct_conversation_id")
        return cls(
            channel_id=channel_id or None,
            conversation_id=conversation
            if isinstance(conversation, str) and conversation
            else None,
            recipients=None if recipients is None else frozenset(recipients),
        )


@attrs.frozen(slots=True)
class WorkspaceAccess:
    """A snapshot of one workspace's visibility facts.

    ``roles`` may hold every member (the hub's shared snapshot) or just one viewer (a replay
    page); ``channels`` maps channel id to name; ``conversations`` maps each DM the snapshot
    knows about to its current member ids. Snapshots are never mutated: a refresh builds a new one.
    """

    workspace_id: str
    roles: Mapping[str, str]
    channels: Mapping[str, str]
    conversations: Mapping[str, frozenset[str]]

    def lacks(self, audience: Audience) -> bool:
        """Whether the snapshot is missing a fact needed to judge ``audience``."""
        return (audience.channel_id is not None and audience.channel_id not in self.channels) or (
            audience.conversation_id is not None
            and audience.conversation_id not in self.conversations
        )


def may_see(user_id: str, audience: Audience, access: WorkspaceAccess) -> bool:
    """Whether ``user_id`` may receive an event of ``audience`` (protocol 4.5).

    Members only; private events only for their recipients; DM events only for current
    non-guest members of the conversation; channel events only for channels of this workspace,
    and for guests only ``#guest``; workspace-wide events for every member.
    """
    role = access.roles.get(user_id)
    if role is None:
        return False
    if audience.recipients is not None and user_id not in audience.recipients:
        return False
    if audience.conversation_id is not None:
        members = access.conversations.get(audience.conversation_id)
        return role != GUEST_ROLE and members is not None and user_id in members
    if audience.channel_id is not None:
        name = access.channels.get(audience.channel_id)
        return name is not None and (role != GUEST_ROLE or name == GUEST_CHANNEL)
    return True
