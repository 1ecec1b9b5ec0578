"""The caller's own profile and bots: ``/api/me`` (protocol 3.4)."""

from __future__ import annotations

from typing import Any

from clickclack_sdk._envelopes import OwnedBot
from clickclack_sdk._models import AppearancePreferences, NotificationSettings, User
from clickclack_sdk.resources._base import Resource


class MeResource(Resource):
    """``client.me``: who am I, profile edits (humans), the bots I own."""

    __slots__ = ()

    async def get(self) -> User:
        """``GET /api/me``: the caller (bots need ``profile:read``)."""
        return await self._client.call("GET", "/api/me", User, "user")

    async def update(
        self,
        *,
        display_name: str | None = None,
        handle: str | None = None,
        avatar_url: str | None = None,
        notification_settings: NotificationSettings | None = None,
        appearance_preferences: AppearancePreferences | None = None,
    ) -> User:
        """``PATCH /api/me`` (humans only): change the given fields, leave the rest.

        ``handle=""`` clears the handle, ``avatar_url=""`` the avatar.
        """
        body: dict[str, Any] = {}
        if display_name is not None:
            body["display_name"] = display_name
        if handle is not None:
            body["handle"] = handle
        if avatar_url is not None:
            body["avatar_url"] = avatar_url
        if notification_settings is not None:
            body["notification_settings"] = {
                "pushover_enabled": notification_settings.pushover_enabled,
                "pushover_user_key": notification_settings.pushover_user_key,
            }
        if appearance_preferences is not None:
            body["appearance_preferences"] = {
                key: value
                for key, value in {
                    "color_mode": appearance_preferences.color_mode,
                    "board_theme": appearance_preferences.board_theme,
                    "message_layout": appearance_preferences.message_layout,
                    "density": appearance_preferences.density,
                }.items()
                if value is not None
            }
        return await self._client.call("PATCH", "/api/me", User, "user", json=body, retry=True)

    async def bots(self) -> list[OwnedBot]:
        """``GET /api/me/bots`` (humans only): bots I own, one entry per shared workspace."""
        return await self._client.call("GET", "/api/me/bots", list[OwnedBot], "bots")
