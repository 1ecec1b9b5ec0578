"""``client.me`` against the real server."""

from __future__ import annotations

import pytest

from clickclack_sdk import AppearancePreferences, Client, NotificationSettings, PermissionDenied
from tests.conftest import World
from tests.sdk.conftest import ClientFactory


async def test_get_and_update_profile(world: World, owner: Client) -> None:
    me = await owner.me.get()
    assert (me.id, me.kind, me.display_name, me.password_enrolled) == (
        world.owner.user_id,
        "human",
        "Owner",
        False,
    )
    updated = await owner.me.update(
        display_name="Captain",
        handle="@Captain",
        avatar_url="https://example.com/a.png",
        notification_settings=NotificationSettings(
            pushover_enabled=True, pushover_user_key="a" * 30
        ),
        appearance_preferences=AppearancePreferences(color_mode="dark", density="compact"),
    )
    assert (updated.display_name, updated.handle, updated.avatar_url) == (
        "Captain",
        "captain",
        "https://example.com/a.png",
    )
    assert updated.notification_settings == NotificationSettings(
        pushover_enabled=True, pushover_user_key="a" * 30
    )
    assert updated.appearance_preferences is not None
    assert updated.appearance_preferences.color_mode == "dark"
    assert updated.appearance_preferences.density == "compact"
    unchanged = await owner.me.update()
    assert unchanged.display_name == "Captain"
    cleared = await owner.me.update(handle="", avatar_url="")
    assert cleared.handle == ""


async def test_bots_only_for_humans(world: World, owner: Client, client_for: ClientFactory) -> None:
    created = await owner.bots.create(world.workspace_id, "Helper", owner=world.owner.user_id)
    owned = await owner.me.bots()
    assert [(b.bot.id, b.workspace.id, b.active_token_count) for b in owned] == [
        (created.bot.id, world.workspace_id, 1)
    ]
    assert owned[0].workspace.route_id.startswith("T")
    bot = await world.bot(["bot:read"])
    async with client_for(bot) as client:
        assert (await client.me.get()).kind == "bot"
        with pytest.raises(PermissionDenied):
            await client.me.bots()
        with pytest.raises(PermissionDenied) as caught:
            await client.me.update(display_name="Nope")
    assert caught.value.error == "bot tokens cannot update profiles"
