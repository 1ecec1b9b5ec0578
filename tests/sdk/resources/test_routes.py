"""``client.routes`` against the real server."""

from __future__ import annotations

import pytest

from clickclack_sdk import Client, NotFound
from tests.conftest import World


async def test_resolve_channel_dm_and_thread(world: World, owner: Client) -> None:
    [workspace] = await owner.workspaces.list()
    channel = await owner.channels.find(world.channel_id)
    target = await owner.routes.resolve(workspace.route_id, channel.route_id)
    assert (target.target_type, target.target_id, target.workspace_id) == (
        "channel",
        channel.id,
        workspace.id,
    )
    legacy = await owner.routes.resolve(workspace.id, channel.id)
    assert legacy.target_route_id == channel.route_id
    root = await owner.messages.ensure_route((await owner.messages.send(channel, "t")).message)
    assert root.route_id is not None
    thread = await owner.routes.resolve_url(
        f"https://chat.example/app/{workspace.route_id}/{root.route_id}?x=1"
    )
    assert (thread.target_type, thread.parent_id) == ("thread", channel.id)
    assert thread.canonical_path
    pal = await world.user("Pal")
    dm = await owner.dms.create(workspace, [pal.user_id])
    assert (await owner.routes.resolve(workspace.route_id, dm.route_id)).target_type == "direct"
    with pytest.raises(NotFound):
        await owner.routes.resolve(workspace.route_id, "C0000000000000000")
    with pytest.raises(ValueError):
        await owner.routes.resolve_url("https://chat.example/settings")
