"""Workspaces and their members (protocol 3.5)."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from clickclack_sdk._envelopes import MemberModerationChanged, MemberPage, WorkspaceChanged
from clickclack_sdk._errors import NotFound
from clickclack_sdk._models import MemberModeration, Workspace, WorkspaceMember
from clickclack_sdk._paging import Pager
from clickclack_sdk._refs import Ref, seg
from clickclack_sdk.resources._base import Resource


class WorkspacesResource(Resource):
    """``client.workspaces``: list, look up by id/slug/name, create, edit, members."""

    __slots__ = ()

    async def list(self) -> builtins.list[Workspace]:
        """Workspaces the caller belongs to, oldest first (a bot sees its token's only)."""
        return await self._client.call(
            "GET", "/api/workspaces", builtins.list[Workspace], "workspaces"
        )

    async def get(self, workspace: Ref) -> Workspace:
        """``GET /api/workspaces/{id}`` (a non-member gets :class:`NotFound`: the server's 400)."""
        return await self._client.call(
            "GET", f"/api/workspaces/{seg(workspace)}", Workspace, "workspace"
        )

    async def find(self, ref: str) -> Workspace:
        """The visible workspace whose id, slug or name (case-insensitive) is ``ref``.

        Raises :class:`NotFound` when none matches. The id wins over the slug, the slug over
        the name, as in the CLI's ``--workspace``.
        """
        wanted = ref.strip()
        lowered = wanted.lower()
        found = await self.list()
        for key in ("id", "slug", "name"):
            for workspace in found:
                value = getattr(workspace, key)
                if value == wanted or (key != "id" and value.lower() == lowered):
                    return workspace
        raise NotFound(f"workspace not found: {ref}", error="workspace not found")

    async def create(self, name: str, *, slug: str | None = None) -> Workspace:
        """``POST /api/workspaces`` (humans): the caller becomes its owner; slug from the name
        when not given."""
        body: dict[str, Any] = {"name": name}
        if slug is not None:
            body["slug"] = slug
        return await self._client.call("POST", "/api/workspaces", Workspace, "workspace", json=body)

    async def update(
        self,
        workspace: Ref,
        *,
        name: str | None = None,
        slug: str | None = None,
        icon_url: str | None = None,
    ) -> WorkspaceChanged:
        """``PATCH /api/workspaces/{id}`` (managers): at least one field; ``icon_url`` must be
        ``/api/uploads/{id}`` of an image upload of the workspace (or "" to clear)."""
        body = {
            key: value
            for key, value in {"name": name, "slug": slug, "icon_url": icon_url}.items()
            if value is not None
        }
        return await self._client.call(
            "PATCH", f"/api/workspaces/{seg(workspace)}", WorkspaceChanged, json=body, retry=True
        )

    async def delete(self, workspace: Ref) -> None:
        """``DELETE /api/workspaces/{id}`` (owner only)."""
        await self._client.request("DELETE", f"/api/workspaces/{seg(workspace)}")

    async def transfer_ownership(self, workspace: Ref, user: Ref) -> WorkspaceChanged:
        """Make ``user`` (a human member or moderator) the owner; the old owner becomes
        moderator."""
        return await self._client.call(
            "POST",
            f"/api/workspaces/{seg(workspace)}/transfer-ownership",
            WorkspaceChanged,
            json={"user_id": seg(user)},
        )

    async def members(
        self,
        workspace: Ref,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        query: str | None = None,
        role: str | None = None,
    ) -> MemberPage:
        """One page of members ordered by role then name (``limit`` 1-200, default 100)."""
        return await self._client.call(
            "GET",
            f"/api/workspaces/{seg(workspace)}/members",
            MemberPage,
            params={"limit": limit, "cursor": cursor, "q": query, "role": role},
        )

    def iter_members(
        self,
        workspace: Ref,
        *,
        query: str | None = None,
        role: str | None = None,
        page_size: int = 100,
    ) -> Pager[WorkspaceMember, str]:
        """Every member (optionally filtered), fetched page by page as you iterate."""

        async def fetch(cursor: str) -> tuple[list[WorkspaceMember], str | None]:
            page = await self.members(
                workspace, limit=page_size, cursor=cursor or None, query=query, role=role
            )
            more = page.next_cursor if page.has_more and page.next_cursor else None
            return page.members, more

        return Pager(fetch, "")

    async def moderation_members(self, workspace: Ref) -> builtins.list[MemberModeration]:
        """``GET /api/workspaces/{id}/moderation/members``: every member with their timeout,
        block, note and guest post budget. Only owners and moderators who are not themselves
        restricted may read it (bot users have role ``bot``): others get
        :class:`PermissionDenied`."""
        return await self._client.call(
            "GET",
            f"/api/workspaces/{seg(workspace)}/moderation/members",
            builtins.list[MemberModeration],
            "members",
        )

    async def moderate_member(
        self,
        workspace: Ref,
        user: Ref,
        *,
        role: str | None = None,
        timeout_until: str | datetime | None = None,
        timeout_minutes: int | None = None,
        clear_timeout: bool = False,
        blocked: bool | None = None,
        note: str | None = None,
    ) -> MemberModerationChanged:
        """``PATCH /api/workspaces/{id}/moderation/members/{user}`` (human managers only).

        Only the arguments given are sent. ``role`` is ``moderator``, ``member`` or ``guest``
        (below the caller's own role); ``timeout_until`` (an RFC 3339 string or an aware
        ``datetime``) or ``timeout_minutes`` time the member out; ``clear_timeout`` ends a
        timeout; ``blocked`` blocks or unblocks; ``note`` replaces the moderation note ("" clears
        it). Timed-out and blocked members keep reading but cannot write. Not retried: a repeat
        would move a relative timeout and write a second event.
        """
        body: dict[str, Any] = {}
        if role is not None:
            body["role"] = role
        if isinstance(timeout_until, datetime):
            if timeout_until.tzinfo is None:
                raise ValueError("timeout_until needs a time zone")
            body["timeout_until"] = timeout_until.isoformat()
        elif timeout_until is not None:
            body["timeout_until"] = timeout_until
        if timeout_minutes is not None:
            body["timeout_minutes"] = timeout_minutes
        if clear_timeout:
            body["clear_timeout"] = True
        if blocked is not None:
            body["blocked"] = blocked
        if note is not None:
            body["moderation_note"] = note
        return await self._client.call(
            "PATCH",
            f"/api/workspaces/{seg(workspace)}/moderation/members/{seg(user)}",
            MemberModerationChanged,
            json=body,
        )
