"""Workspaces, members and health endpoints against a real server."""

from __future__ import annotations

import httpx

from clickclack_server.runner import Running
from tests.conftest import World


async def test_health_and_readiness(world: World) -> None:
    health = await world.anon().get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert health.text.endswith("}\n")
    ready = await world.anon().get("/readyz")
    assert ready.json() == {"status": "ready"}


async def test_dev_bootstrap_lists_workspace_without_credentials(dev_running: Running) -> None:
    async with httpx.AsyncClient(base_url=dev_running.url) as http:
        response = await http.get("/api/workspaces")
        assert response.status_code == 200
        [workspace] = response.json()["workspaces"]
        assert workspace["name"] == "ClickClack"
        assert workspace["slug"] == "clickclack"
        assert workspace["role"] == "owner"
        assert workspace["route_id"].startswith("T") and len(workspace["route_id"]) == 17
        me_header = await http.get("/api/workspaces", headers={"X-ClickClack-User": "usr_missing"})
        assert me_header.status_code == 401
        # A forwarded request from elsewhere is not local: dev auth must not apply.
        remote = await http.get("/api/workspaces", headers={"X-Forwarded-For": "203.0.113.9"})
        assert remote.status_code == 401


async def test_no_credentials_without_dev_auth(world: World) -> None:
    response = await world.anon().get("/api/workspaces")
    assert response.status_code == 401
    assert response.json() == {"error": "authentication required"}
    bad = await world.anon().get("/api/workspaces", headers={"Authorization": "Bearer sst_nope"})
    assert bad.status_code == 401


async def test_create_get_update_workspace(world: World) -> None:
    created = await world.owner.post("/api/workspaces", json={"name": "  Build Crew  "})
    assert created.status_code == 201
    workspace = created.json()["workspace"]
    assert workspace["name"] == "Build Crew"
    assert workspace["slug"] == "build-crew"
    assert workspace["role"] == "owner"
    assert workspace["id"].startswith("wsp_") and len(workspace["id"]) == 30
    got = await world.owner.get(f"/api/workspaces/{workspace['id']}")
    assert got.json()["workspace"] == workspace
    patched = await world.owner.patch(
        f"/api/workspaces/{workspace['id']}", json={"name": "Crew", "slug": "Crew X"}
    )
    assert patched.status_code == 200
    body = patched.json()
    assert body["workspace"]["slug"] == "crew-x"
    assert body["event"]["type"] == "workspace.updated"
    assert body["event"]["payload"] == {"workspace_id": workspace["id"]}
    assert body["event"]["cursor"].startswith("cur_")
    assert "channel_id" not in body["event"]


async def test_workspace_validation(world: World) -> None:
    reserved = await world.owner.post("/api/workspaces", json={"name": "ClickClack"})
    assert reserved.status_code == 400
    assert reserved.json() == {"error": "workspace slug is reserved"}
    first = await world.owner.post("/api/workspaces", json={"name": "Dup"})
    assert first.status_code == 201
    dup = await world.owner.post("/api/workspaces", json={"name": "dup"})
    assert dup.status_code == 400
    untitled = await world.owner.post("/api/workspaces", json={})
    assert untitled.json()["workspace"]["name"] == "Untitled"
    empty_patch = await world.owner.patch(f"/api/workspaces/{world.workspace_id}", json={})
    assert empty_patch.status_code == 400
    missing = await world.owner.get("/api/workspaces/wsp_00000000000000000000000000")
    assert missing.status_code == 400


async def test_bad_json_bodies_write_nothing(world: World) -> None:
    cases = [
        (b"", 400, "EOF"),
        (b'{"name": "a"} {"name": "b"}', 400, "json request body must contain a single JSON value"),
        (b"{nope", 400, None),
        (b"[1, 2]", 400, None),
        (b'{"name": 5}', 400, None),
        (b'{"name": "' + b"x" * (1 << 20) + b'"}', 413, None),
    ]
    for raw, status, message in cases:
        response = await world.owner.post(
            "/api/workspaces", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == status, (raw[:40], response.text)
        if message is not None:
            assert response.json() == {"error": message}
    listed = await world.owner.get("/api/workspaces")
    assert [w["name"] for w in listed.json()["workspaces"]] == ["ClickClack"]


async def test_members_only_and_roles(world: World) -> None:
    outsider = await world.user("Outsider", role="")
    response = await outsider.get(f"/api/workspaces/{world.workspace_id}")
    assert response.status_code == 400
    member = await world.user("Member")
    listed = await member.get("/api/workspaces")
    assert listed.json()["workspaces"][0]["role"] == "member"
    forbidden = await member.patch(f"/api/workspaces/{world.workspace_id}", json={"name": "Mine"})
    assert forbidden.status_code == 403
    assert forbidden.json() == {"error": "workspace manager permission required"}
    delete = await member.delete(f"/api/workspaces/{world.workspace_id}")
    assert delete.status_code == 403


async def test_transfer_ownership_and_delete(world: World) -> None:
    space = await world.workspace("Transfer")
    heir = await world.user("Heir", workspace_id=space)
    bot = await world.bot(workspace_id=space)
    to_bot = await world.owner.post(
        f"/api/workspaces/{space}/transfer-ownership", json={"user_id": bot.user_id}
    )
    assert to_bot.status_code == 400
    moved = await world.owner.post(
        f"/api/workspaces/{space}/transfer-ownership", json={"user_id": heir.user_id}
    )
    assert moved.status_code == 200
    assert moved.json()["workspace"]["role"] == "moderator"
    assert moved.json()["event"]["payload"] == {
        "workspace_id": space,
        "new_owner_user_id": heir.user_id,
    }
    not_owner = await world.owner.delete(f"/api/workspaces/{space}")
    assert not_owner.status_code == 403
    deleted = await heir.delete(f"/api/workspaces/{space}")
    assert deleted.status_code == 204
    gone = await heir.get(f"/api/workspaces/{space}")
    assert gone.status_code == 400
    bot_after = await bot.get("/api/workspaces")
    assert bot_after.status_code == 401


async def test_member_list_pages(world: World) -> None:
    for index in range(5):
        await world.user(f"Pager {index}")
    first = await world.owner.get(
        f"/api/workspaces/{world.workspace_id}/members", params={"limit": 2}
    )
    body = first.json()
    assert body["has_more"] is True
    assert body["total_count"] == 6
    assert body["total_by_role"] == {"owner": 1, "moderator": 0, "member": 5, "bot": 0, "guest": 0}
    assert body["members"][0]["role"] == "owner"
    seen = [m["user"]["id"] for m in body["members"]]
    cursor = body["next_cursor"]
    while cursor:
        page = (
            await world.owner.get(
                f"/api/workspaces/{world.workspace_id}/members",
                params={"limit": 2, "cursor": cursor},
            )
        ).json()
        assert "total_count" not in page
        seen += [m["user"]["id"] for m in page["members"]]
        cursor = page.get("next_cursor")
    assert len(seen) == len(set(seen)) == 6
    filtered = (
        await world.owner.get(
            f"/api/workspaces/{world.workspace_id}/members", params={"q": "pager 3"}
        )
    ).json()
    assert [m["user"]["display_name"] for m in filtered["members"]] == ["Pager 3"]
    bad = await world.owner.get(
        f"/api/workspaces/{world.workspace_id}/members", params={"limit": "x"}
    )
    assert bad.status_code == 400


async def test_bot_sees_only_token_workspace(world: World) -> None:
    other = await world.workspace("Other")
    bot = await world.bot(["bot:read"])
    listed = await bot.get("/api/workspaces")
    assert [w["id"] for w in listed.json()["workspaces"]] == [world.workspace_id]
    cross = await bot.get(f"/api/workspaces/{other}")
    assert cross.status_code == 403
    assert cross.json() == {"error": "bot token cannot access this workspace"}
    create = await bot.post("/api/workspaces", json={"name": "Bot Space"})
    assert create.status_code == 403
    narrow = await world.bot(["channels:read"])
    missing_scope = await narrow.get("/api/workspaces")
    assert missing_scope.status_code == 403
    assert missing_scope.json() == {"error": "bot token is missing scope workspaces:read"}


async def test_deleting_a_workspace_removes_its_upload_files(world: World) -> None:
    from tests.server.test_uploads import upload

    space = await world.workspace("Doomed")
    kept = await upload(world.owner, world.workspace_id, b"stays")
    doomed = [await upload(world.owner, space, f"file {n}".encode()) for n in range(3)]
    uploads_dir = world.running.server.uploads_dir

    def files() -> set[str]:
        return {path.read_text() for path in uploads_dir.rglob("*") if path.is_file()}

    assert files() >= {"stays", "file 0", "file 1", "file 2"}
    deleted = await world.owner.delete(f"/api/workspaces/{space}")
    assert deleted.status_code == 204
    assert files() == {"stays"}
    for body in doomed:
        gone = await world.owner.get(f"/api/uploads/{body['upload']['id']}")
        assert gone.status_code in (400, 404)
    still = await world.owner.get(f"/api/uploads/{kept['upload']['id']}")
    assert still.status_code == 200 and still.content == b"stays"
