"""``client.workspaces`` against the real server."""

from __future__ import annotations

import pytest

from clickclack_sdk import Client, InvalidRequest, NotFound, PermissionDenied
from tests.conftest import World
from tests.sdk.conftest import ClientFactory


async def test_list_get_find(world: World, owner: Client) -> None:
    [workspace] = await owner.workspaces.list()
    assert workspace.id == world.workspace_id and workspace.role == "owner"
    assert (await owner.workspaces.get(workspace)).slug == workspace.slug
    assert (await owner.workspaces.find(workspace.id)).id == workspace.id
    assert (await owner.workspaces.find(workspace.slug.upper())).id == workspace.id
    assert (await owner.workspaces.find(f"  {workspace.name.upper()} ")).id == workspace.id
    with pytest.raises(NotFound):
        await owner.workspaces.find("no-such-space")


async def test_create_update_transfer_delete(world: World, owner: Client) -> None:
    created = await owner.workspaces.create("Side Project", slug="side")
    assert (created.name, created.slug, created.role) == ("Side Project", "side", "owner")
    with pytest.raises(InvalidRequest) as caught:
        await owner.workspaces.create("Again", slug="side")
    assert caught.value.status == 400
    changed = await owner.workspaces.update(created, name="Renamed")
    assert changed.workspace.name == "Renamed"
    assert changed.event.type == "workspace.updated"
    assert changed.event.typed_payload() is not None
    with pytest.raises(InvalidRequest):
        await owner.workspaces.update(created)
    other = await world.user("Heir", workspace_id=created.id, role="moderator")
    moved = await owner.workspaces.transfer_ownership(created, other.user_id)
    assert moved.event.type == "workspace.ownership_transferred"
    assert moved.workspace.role == "moderator"
    with pytest.raises(PermissionDenied):
        await owner.workspaces.delete(created)
    mine = await owner.workspaces.create("Disposable")
    await owner.workspaces.delete(mine)
    with pytest.raises(NotFound):
        await owner.workspaces.get(mine)


async def test_members_pages_and_iteration(world: World, owner: Client) -> None:
    for index in range(5):
        await world.user(f"Member {index}")
    first = await owner.workspaces.members(world.workspace_id, limit=2)
    assert len(first.members) == 2 and first.has_more and first.next_cursor
    assert first.total_count == 6
    assert first.total_by_role == {"owner": 1, "moderator": 0, "member": 5, "bot": 0, "guest": 0}
    second = await owner.workspaces.members(world.workspace_id, limit=2, cursor=first.next_cursor)
    assert second.total_count is None
    everyone = [m async for m in owner.workspaces.iter_members(world.workspace_id, page_size=2)]
    assert len(everyone) == 6 and len({m.user.id for m in everyone}) == 6
    assert everyone[0].role == "owner"
    found = await owner.workspaces.iter_members(world.workspace_id, query="member 3").collect()
    assert [m.user.display_name for m in found] == ["Member 3"]
    owners = await owner.workspaces.iter_members(world.workspace_id, role="owner").collect()
    assert [m.user.id for m in owners] == [world.owner.user_id]


async def test_member_iteration_is_complete_for_every_page_size(
    world: World, owner: Client
) -> None:
    for index in range(6):
        await world.user(f"Person {index}")
    expected = {m.user.id async for m in owner.workspaces.iter_members(world.workspace_id)}
    assert len(expected) == 7
    for page_size in range(1, 9):
        pager = owner.workspaces.iter_members(world.workspace_id, page_size=page_size)
        ids = [m.user.id async for m in pager]
        assert len(ids) == len(expected) and set(ids) == expected
        assert pager.pages == -(-7 // page_size)


async def test_bot_sees_its_workspace_only(world: World, client_for: ClientFactory) -> None:
    other = await world.workspace()
    bot = await world.bot(["bot:read"])
    async with client_for(bot) as client:
        assert [w.id for w in await client.workspaces.list()] == [world.workspace_id]
        with pytest.raises(PermissionDenied) as caught:
            await client.workspaces.get(other)
    assert caught.value.error == "bot token cannot access this workspace"
