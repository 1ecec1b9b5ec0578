"""Bot management, bot tokens and bot command menus (protocol 2.6, 2.7, 3.13)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickclack_sdk import BotCommand, BotToken, Event, User, from_data
from clickclack_server import ids
from clickclack_server.db import Database, Tx
from clickclack_server.errors import Invalid
from clickclack_server.store import bots as bot_store
from clickclack_server.store import users as user_store
from tests.conftest import Caller, World

# The protocol's scope table, written out literally so the server cannot drift from it.
READ = [
    "channels:read",
    "dms:read",
    "messages:read",
    "profile:read",
    "realtime:read",
    "threads:read",
    "workspaces:read",
]
WRITE = sorted(
    [*READ, "commands:write", "dms:write", "messages:write", "threads:write", "uploads:write"]
)
ADMIN = sorted([*WRITE, "channels:write"])
CONCRETE = [
    "workspaces:read",
    "channels:read",
    "channels:write",
    "messages:read",
    "messages:write",
    "threads:read",
    "threads:write",
    "dms:read",
    "dms:write",
    "realtime:read",
    "uploads:write",
    "profile:read",
    "commands:write",
    "agent_activity:write",
]
BUNDLES = {"bot:read": READ, "bot:write": WRITE, "bot:admin": ADMIN}
NO_ROWS = {"error": "sql: no rows in result set"}


def bots_path(world: World, workspace_id: str | None = None) -> str:
    return f"/api/workspaces/{workspace_id or world.workspace_id}/bots"


async def create_bot(
    caller: Caller, world: World, workspace_id: str | None = None, **body: Any
) -> dict[str, Any]:
    body.setdefault("display_name", "Helper")
    response = await caller.post(bots_path(world, workspace_id), json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def as_bot(world: World, created: dict[str, Any]) -> Caller:
    return Caller(world.http, created["bot"]["id"], created["bot_token"]["token"])


async def listed_bots(world: World, workspace_id: str | None = None) -> list[dict[str, Any]]:
    response = await world.owner.get(bots_path(world, workspace_id))
    assert response.status_code == 200, response.text
    bots: list[dict[str, Any]] = response.json()["bots"]
    return bots


def collect_notices(world: World) -> list[Event]:
    received: list[Event] = []
    world.running.server.notice_listeners.append(received.append)
    return received


# Creation.


async def test_create_service_bot_returns_bot_and_one_time_token(world: World) -> None:
    response = await world.owner.post(
        bots_path(world),
        json={
            "display_name": "  Deploy Bot  ",
            "handle": "@Deployer",
            "avatar_url": "https://example.com/bot.png",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"bot", "bot_token"}
    bot = from_data(body["bot"], User)
    assert bot.kind == "bot"
    assert bot.owner_user_id is None and "owner_user_id" not in body["bot"]
    assert bot.display_name == "Deploy Bot"
    assert bot.handle == "deployer"
    assert bot.avatar_url == "https://example.com/bot.png"
    assert bot.id.startswith("usr_") and len(bot.id) == 30
    token = from_data(body["bot_token"], BotToken)
    assert token.id.startswith("btok_")
    assert token.token is not None and token.token.startswith("ccb_")
    assert token.bot_user_id == bot.id
    assert token.workspace_id == world.workspace_id
    assert token.name == "default"
    assert token.scopes == WRITE
    assert token.created_by == world.owner.user_id
    assert token.last_used_at is None and token.revoked_at is None
    # The secret works and is never shown again.
    me = Caller(world.http, bot.id, token.token)
    assert (await me.get("/api/workspaces")).status_code == 200
    [entry] = await listed_bots(world)
    assert entry["bot"] == body["bot"]
    assert "token" not in entry["tokens"][0]
    members = await world.owner.get(
        f"/api/workspaces/{world.workspace_id}/members", params={"role": "bot"}
    )
    assert [(m["user"]["id"], m["role"]) for m in members.json()["members"]] == [(bot.id, "bot")]


async def test_initial_token_false_returns_bot_only(world: World) -> None:
    response = await world.owner.post(
        bots_path(world), json={"display_name": "Quiet", "initial_token": False}
    )
    assert response.status_code == 201
    assert set(response.json()) == {"bot"}
    [entry] = await listed_bots(world)
    assert entry["tokens"] == []
    explicit_null = await world.owner.post(
        bots_path(world), json={"display_name": "Loud", "initial_token": None}
    )
    assert "bot_token" in explicit_null.json()


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        (["bot:read"], READ),
        (["bot:write"], WRITE),
        (["bot:admin"], ADMIN),
        ([], WRITE),
        (None, WRITE),
        ([" ", ","], WRITE),
        (["bot:write,agent_activity:write"], sorted([*WRITE, "agent_activity:write"])),
        (["bot:admin", "agent_activity:write"], sorted([*ADMIN, "agent_activity:write"])),
        ([" messages:read , threads:read", "messages:read"], ["messages:read", "threads:read"]),
        (["channels:write", "bot:read"], sorted([*READ, "channels:write"])),
    ],
)
async def test_scope_bundles_expand_exactly(
    world: World, scopes: list[str] | None, expected: list[str]
) -> None:
    body: dict[str, Any] = {"display_name": "Scoped"}
    if scopes is not None:
        body["scopes"] = scopes
    created = await create_bot(world.owner, world, **body)
    assert created["bot_token"]["scopes"] == expected
    assert "agent_activity:write" not in ADMIN
    listed = await world.owner.get(f"{bots_path(world)}/{created['bot']['id']}/tokens")
    assert listed.json()["bot_tokens"][0]["scopes"] == expected


@pytest.mark.parametrize("scope", ["workspaces:write", "bot:everything", "MESSAGES:READ"])
async def test_unknown_scope_is_rejected_and_writes_nothing(world: World, scope: str) -> None:
    response = await world.owner.post(
        bots_path(world), json={"display_name": "Typo", "scopes": ["bot:read", scope]}
    )
    assert response.status_code == 400
    assert response.json() == {"error": f"unknown bot scope: {scope}"}
    no_token = await world.owner.post(
        bots_path(world),
        json={"display_name": "Typo", "scopes": [scope], "initial_token": False},
    )
    assert no_token.status_code == 400
    assert await listed_bots(world) == []


async def test_create_permissions(world: World) -> None:
    member = await world.user("Member")
    moderator = await world.user("Moderator", role="moderator")
    guest = await world.user("Guest", role="guest")
    outsider = await world.user("Outsider", role="")

    service = await member.post(bots_path(world), json={"display_name": "Nope"})
    assert service.status_code == 403
    assert service.json() == {"error": "workspace manager permission required"}

    by_moderator = await create_bot(moderator, world, display_name="Mod Bot")
    assert "owner_user_id" not in by_moderator["bot"]

    owned = await create_bot(member, world, display_name="Mine", owner_user_id=member.user_id)
    assert owned["bot"]["owner_user_id"] == member.user_id
    assert owned["bot_token"]["owner_user_id"] == member.user_id
    assert owned["bot_token"]["created_by"] == member.user_id

    for caller, owner in ((member, moderator.user_id), (world.owner, member.user_id)):
        other = await caller.post(
            bots_path(world), json={"display_name": "Theirs", "owner_user_id": owner}
        )
        assert other.status_code == 403
        assert other.json() == {"error": "only the bot owner can create a user-owned bot"}

    outside = await outsider.post(
        bots_path(world), json={"display_name": "Out", "owner_user_id": outsider.user_id}
    )
    assert outside.status_code == 403
    assert outside.json() == {"error": "bot owner must be a workspace member"}
    outside_service = await outsider.post(bots_path(world), json={"display_name": "Out"})
    assert outside_service.status_code == 400

    guest_owned = await guest.post(
        bots_path(world), json={"display_name": "G", "owner_user_id": guest.user_id}
    )
    assert guest_owned.status_code == 403
    assert guest_owned.json() == {"error": "guests cannot own bots"}

    bot = as_bot(world, by_moderator)
    from_bot = await bot.post(bots_path(world), json={"display_name": "Child"})
    assert from_bot.status_code == 403
    assert from_bot.json() == {"error": "bot tokens cannot create bots"}
    assert (
        await world.anon().post(bots_path(world), json={"display_name": "x"})
    ).status_code == 401

    missing = await world.owner.post(
        "/api/workspaces/wsp_00000000000000000000000000/bots", json={"display_name": "x"}
    )
    assert missing.status_code == 400
    assert missing.json() == NO_ROWS
    names = sorted(entry["bot"]["display_name"] for entry in await listed_bots(world))
    assert names == ["Mine", "Mod Bot"]


async def test_create_validation_writes_nothing(world: World) -> None:
    await create_bot(world.owner, world, display_name="Taken", handle="taken")
    cases: list[tuple[Any, str | None]] = [
        ({}, "display_name is required"),
        ({"display_name": "   "}, "display_name is required"),
        ({"display_name": "é" * 41}, "display_name must be at most 80 bytes"),
        ({"display_name": "ok", "handle": "x"}, None),
        ({"display_name": "ok", "handle": "@TAKEN"}, "handle is already taken"),
        ({"display_name": 5}, None),
        ({"display_name": "ok", "scopes": "bot:read"}, None),
        ({"display_name": "ok", "scopes": [1]}, None),
        ({"display_name": "ok", "initial_token": "no"}, None),
        ({"display_name": "ok", "owner_user_id": 7}, None),
        ({"display_name": "ok", "avatar_url": "javascript:alert(1)"}, None),
        ({"display_name": "ok", "token_name": "n" * 81}, "token name must be at most 80 bytes"),
        ([1, 2], None),
    ]
    for body, message in cases:
        response = await world.owner.post(bots_path(world), json=body)
        assert response.status_code == 400, (body, response.text)
        if message is not None:
            assert response.json() == {"error": message}
    empty = await world.owner.post(
        bots_path(world), content=b"", headers={"Content-Type": "application/json"}
    )
    assert empty.status_code == 400
    assert empty.json() == {"error": "EOF"}
    assert [entry["bot"]["display_name"] for entry in await listed_bots(world)] == ["Taken"]
    exact = await create_bot(world.owner, world, display_name="é" * 40, handle="", avatar_url="")
    assert exact["bot"]["display_name"] == "é" * 40
    assert exact["bot"]["handle"] == ""
    upload_avatar = await create_bot(
        world.owner, world, display_name="Pic", avatar_url="/api/uploads/upl_x"
    )
    assert upload_avatar["bot"]["avatar_url"] == "/api/uploads/upl_x"


# Listing.


async def test_list_bots_any_member_only_this_workspace(world: World) -> None:
    other = await world.workspace("Other")
    first = await create_bot(world.owner, world, display_name="First")
    second = await create_bot(world.owner, world, display_name="Second", initial_token=False)
    await create_bot(world.owner, world, other, display_name="Elsewhere")
    extra = await world.owner.post(
        f"{bots_path(world)}/{first['bot']['id']}/tokens", json={"name": "second"}
    )
    assert extra.status_code == 201
    member = await world.user("Member")
    response = await member.get(bots_path(world))
    assert response.status_code == 200
    bots = response.json()["bots"]
    assert [entry["bot"]["id"] for entry in bots] == [first["bot"]["id"], second["bot"]["id"]]
    assert [t["name"] for t in bots[0]["tokens"]] == ["second", "default"]
    assert all("token" not in t for t in bots[0]["tokens"])
    assert bots[1]["tokens"] == []
    outsider = await world.user("Outsider", role="")
    assert (await outsider.get(bots_path(world))).status_code == 400
    bot = as_bot(world, first)
    forbidden = await bot.get(bots_path(world))
    assert forbidden.status_code == 403
    assert forbidden.json() == {"error": "bot tokens cannot manage bots"}


# Tokens.


async def test_workspace_token_routes_for_service_bot(world: World) -> None:
    created = await create_bot(world.owner, world, display_name="Svc")
    path = f"{bots_path(world)}/{created['bot']['id']}/tokens"
    moderator = await world.user("Moderator", role="moderator")
    minted = await moderator.post(path, json={"name": " ci ", "scopes": ["bot:read"]})
    assert minted.status_code == 201
    token = minted.json()["bot_token"]
    assert set(minted.json()) == {"bot_token"}
    assert token["name"] == "ci"
    assert token["scopes"] == READ
    assert token["created_by"] == moderator.user_id
    assert token["token"].startswith("ccb_")
    newest = await world.owner.post(path, json={})
    assert newest.json()["bot_token"]["name"] == "default"
    listed = await world.owner.get(path)
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["bot_tokens"]] == [
        newest.json()["bot_token"]["id"],
        token["id"],
        created["bot_token"]["id"],
    ]
    assert all("token" not in t for t in listed.json()["bot_tokens"])

    member = await world.user("Member")
    denied = await member.post(path, json={})
    assert denied.status_code == 403
    assert denied.json() == {"error": "workspace manager permission required"}
    assert (await member.get(path)).status_code == 200
    bad_scope = await world.owner.post(path, json={"scopes": ["nope"]})
    assert bad_scope.json() == {"error": "unknown bot scope: nope"}
    bad_type = await world.owner.post(path, json={"name": ["x"]})
    assert bad_type.status_code == 400
    assert len((await world.owner.get(path)).json()["bot_tokens"]) == 3

    bot = as_bot(world, created)
    assert (await bot.get(path)).json() == {"error": "bot tokens cannot manage bot tokens"}
    assert (await bot.post(path, json={})).status_code == 403


async def test_token_routes_for_unknown_or_foreign_bot(world: World) -> None:
    other = await world.workspace("Other")
    foreign = await create_bot(world.owner, world, other, display_name="Foreign")
    human = await world.user("Human")
    for bot_id in (foreign["bot"]["id"], human.user_id, "usr_00000000000000000000000000", "x"):
        path = f"{bots_path(world)}/{bot_id}/tokens"
        assert (await world.owner.get(path)).json() == NO_ROWS
        created = await world.owner.post(path, json={})
        assert created.status_code == 400
        assert created.json() == NO_ROWS


async def test_user_owned_bot_tokens_only_by_owner(world: World) -> None:
    member = await world.user("Member")
    created = await create_bot(member, world, display_name="Own", owner_user_id=member.user_id)
    path = f"{bots_path(world)}/{created['bot']['id']}/tokens"
    mine = await member.post(path, json={"name": "laptop"})
    assert mine.status_code == 201
    assert mine.json()["bot_token"]["owner_user_id"] == member.user_id
    for caller in (world.owner, await world.user("Moderator", role="moderator")):
        denied = await caller.post(path, json={})
        assert denied.status_code == 403
        assert denied.json() == {"error": "only the bot owner can manage this bot"}
        revoke = await caller.post(f"/api/bot-tokens/{mine.json()['bot_token']['id']}/revoke")
        assert revoke.status_code == 403
        assert revoke.json() == {"error": "only the bot owner can manage this bot"}


async def test_legacy_token_routes(world: World) -> None:
    created = await create_bot(world.owner, world, display_name="Legacy")
    bot_id = created["bot"]["id"]
    listed = await world.owner.get(f"/api/bots/{bot_id}/tokens")
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["bot_tokens"]] == [created["bot_token"]["id"]]
    minted = await world.owner.post(f"/api/bots/{bot_id}/tokens", json={"scopes": ["bot:admin"]})
    assert minted.status_code == 201
    assert minted.json()["bot_token"]["workspace_id"] == world.workspace_id
    assert minted.json()["bot_token"]["scopes"] == ADMIN
    member = await world.user("Member")
    assert (await member.post(f"/api/bots/{bot_id}/tokens", json={})).status_code == 403

    other = await world.workspace("Other")
    await world.db.write(user_store.add_member, other, bot_id, "bot")
    for response in (
        await world.owner.get(f"/api/bots/{bot_id}/tokens"),
        await world.owner.post(f"/api/bots/{bot_id}/tokens", json={}),
    ):
        assert response.status_code == 400
        assert response.json() == {
            "error": "workspace_id is required for bots installed in multiple workspaces"
        }
    scoped = await world.owner.post(f"{bots_path(world, other)}/{bot_id}/tokens", json={})
    assert scoped.json()["bot_token"]["workspace_id"] == other
    unknown = await world.owner.get("/api/bots/usr_00000000000000000000000000/tokens")
    assert unknown.status_code == 400
    assert unknown.json() == NO_ROWS


async def test_revoke_takes_effect_on_next_request_and_is_idempotent(world: World) -> None:
    created = await create_bot(world.owner, world, display_name="Revoked")
    bot = as_bot(world, created)
    assert (await bot.get("/api/workspaces")).status_code == 200
    assert (await bot.get("/api/workspaces")).status_code == 200  # served from the auth cache
    token_id = created["bot_token"]["id"]
    member = await world.user("Member")
    denied = await member.post(f"/api/bot-tokens/{token_id}/revoke")
    assert denied.status_code == 403
    assert (await bot.post(f"/api/bot-tokens/{token_id}/revoke")).json() == {
        "error": "bot tokens cannot revoke bot tokens"
    }
    revoked = await world.owner.post(f"/api/bot-tokens/{token_id}/revoke")
    assert revoked.status_code == 200
    token = revoked.json()["bot_token"]
    assert token["id"] == token_id
    assert token["revoked_at"]
    assert "token" not in token
    after = await bot.get("/api/workspaces")
    assert after.status_code == 401
    again = await world.owner.post(f"/api/bot-tokens/{token_id}/revoke")
    assert again.status_code == 200
    assert again.json()["bot_token"]["revoked_at"] == token["revoked_at"]
    unknown = await world.owner.post("/api/bot-tokens/btok_00000000000000000000000000/revoke")
    assert unknown.status_code == 400
    assert unknown.json() == NO_ROWS
    [entry] = await listed_bots(world)
    assert entry["tokens"][0]["revoked_at"] == token["revoked_at"]


async def test_token_is_bound_to_its_workspace(world: World) -> None:
    other = await world.workspace("Other")
    bot = as_bot(world, await create_bot(world.owner, world, display_name="Bound"))
    for path in (f"/api/workspaces/{other}", f"/api/workspaces/{other}/bot-commands"):
        response = await bot.get(path)
        assert response.status_code == 403
        assert response.json() == {"error": "bot token cannot access this workspace"}
    assert (await bot.get(f"/api/workspaces/{world.workspace_id}/bot-commands")).status_code == 200


async def test_owner_leaving_workspace_disables_user_owned_bot(world: World) -> None:
    member = await world.user("Member")
    created = await create_bot(member, world, display_name="Orphan", owner_user_id=member.user_id)
    bot = as_bot(world, created)
    assert (await bot.get("/api/workspaces")).status_code == 200

    def leave(tx: Tx) -> None:
        tx.execute(
            "DELETE FROM workspace_members WHERE workspace_id = ? AND user_id = ?",
            (world.workspace_id, member.user_id),
        )
        tx.mark_changed("auth")

    await world.db.write(leave)
    assert (await bot.get("/api/workspaces")).status_code == 401
    again = await member.post(f"{bots_path(world)}/{created['bot']['id']}/tokens", json={})
    assert again.status_code == 403
    assert again.json() == {"error": "bot owner must be a workspace member"}


async def test_last_used_at_is_set_after_use(world: World) -> None:
    created = await create_bot(world.owner, world, display_name="Used")
    path = f"{bots_path(world)}/{created['bot']['id']}/tokens"
    [before] = (await world.owner.get(path)).json()["bot_tokens"]
    assert "last_used_at" not in before
    assert (await as_bot(world, created).get("/api/workspaces")).status_code == 200
    [after] = (await world.owner.get(path)).json()["bot_tokens"]
    assert after["last_used_at"]
    assert ids.parse_rfc3339_ns(after["last_used_at"]) >= ids.parse_rfc3339_ns(after["created_at"])


# Membership removal and deletion.


async def test_remove_bot_membership(world: World) -> None:
    notices = collect_notices(world)
    created = await create_bot(world.owner, world, display_name="Leaver", handle="leaver")
    bot_id = created["bot"]["id"]
    bot = as_bot(world, created)
    put = await bot.put(
        "/api/bots/self/commands", json={"commands": [{"command": "go", "description": "Go"}]}
    )
    assert put.status_code == 200
    path = f"{bots_path(world)}/{bot_id}/membership"

    member = await world.user("Member")
    assert (await member.delete(path)).json() == {"error": "workspace manager permission required"}
    assert (await bot.delete(path)).status_code == 403
    human = await world.owner.delete(f"{bots_path(world)}/{member.user_id}/membership")
    assert human.status_code == 404
    unknown = await world.owner.delete(
        f"{bots_path(world)}/usr_00000000000000000000000000/membership"
    )
    assert unknown.status_code == 404
    assert unknown.json() == NO_ROWS
    notices.clear()

    removed = await world.owner.delete(path)
    assert removed.status_code == 204
    assert removed.content == b""
    [notice] = notices
    assert notice.type == "bot.membership_removed"
    assert (notice.id, notice.cursor) == ("", "")
    assert notice.workspace_id == world.workspace_id
    assert notice.payload == {"bot_user_id": bot_id}
    assert ids.parse_rfc3339_ns(notice.created_at) > 0

    assert (await bot.get("/api/workspaces")).status_code == 401
    assert await listed_bots(world) == []
    commands = await world.owner.get(f"/api/workspaces/{world.workspace_id}/bot-commands")
    assert commands.json() == {"bot_commands": []}

    def state(tx: Tx) -> tuple[Any, Any]:
        return (
            tx.scalar("SELECT deleted_at FROM users WHERE id = ?", (bot_id,)),
            tx.scalar(
                "SELECT count(*) FROM bot_tokens WHERE bot_user_id = ? AND revoked_at IS NULL",
                (bot_id,),
            ),
        )

    assert await world.db.read(state) == (None, 0)
    again = await world.owner.delete(path)
    assert again.status_code == 404
    assert len(notices) == 1


async def test_delete_service_bot_everywhere(world: World) -> None:
    notices = collect_notices(world)
    other = await world.workspace("Other")
    created = await create_bot(world.owner, world, display_name="Gone", handle="gone-bot")
    bot_id = created["bot"]["id"]
    await world.db.write(user_store.add_member, other, bot_id, "bot")
    second = await world.owner.post(f"{bots_path(world, other)}/{bot_id}/tokens", json={})
    bot_here = as_bot(world, created)
    bot_there = Caller(world.http, bot_id, second.json()["bot_token"]["token"])
    await bot_here.put(
        "/api/bots/self/commands", json={"commands": [{"command": "x", "description": "X"}]}
    )
    assert (await bot_there.get("/api/workspaces")).status_code == 200

    member = await world.user("Member")
    assert (await member.delete(f"/api/bots/{bot_id}")).json() == {
        "error": "workspace manager permission required"
    }
    # A moderator here who has no say in the other workspace cannot delete it everywhere.
    moderator = await world.user("Moderator", role="moderator")
    partial = await moderator.delete(f"/api/bots/{bot_id}")
    assert partial.status_code == 403
    assert (await bot_here.delete(f"/api/bots/{bot_id}")).json() == {
        "error": "bot tokens cannot delete bots"
    }
    notices.clear()

    deleted = await world.owner.delete(f"/api/bots/{bot_id}")
    assert deleted.status_code == 200
    body = deleted.json()["deleted_bot"]
    assert set(body) == {"id", "display_name", "former_handle", "deleted_at"}
    assert body["id"] == bot_id
    assert body["display_name"] == "Gone"
    assert body["former_handle"] == "gone-bot"
    assert {n.workspace_id for n in notices} == {world.workspace_id, other}
    for notice in notices:
        assert notice.type == "bot.deleted"
        assert (notice.id, notice.cursor) == ("", "")
        assert notice.created_at == body["deleted_at"]
        assert notice.payload == {
            "bot_user_id": bot_id,
            "display_name": "Gone",
            "former_handle": "gone-bot",
            "deleted_at": body["deleted_at"],
        }

    assert (await bot_here.get("/api/workspaces")).status_code == 401
    assert (await bot_there.get("/api/workspaces")).status_code == 401
    assert await listed_bots(world) == []
    assert await listed_bots(world, other) == []

    def state(tx: Tx) -> dict[str, Any]:
        user = tx.one("SELECT handle, deleted_at FROM users WHERE id = ?", (bot_id,))
        tomb = tx.one("SELECT * FROM bot_tombstones WHERE bot_user_id = ?", (bot_id,))
        assert user is not None and tomb is not None
        return {
            "handle": user["handle"],
            "deleted": user["deleted_at"] is not None,
            "former": tomb["former_handle"],
            "by": tomb["deleted_by"],
            "live_tokens": tx.scalar(
                "SELECT count(*) FROM bot_tokens WHERE bot_user_id = ? AND revoked_at IS NULL",
                (bot_id,),
            ),
            "memberships": tx.scalar(
                "SELECT count(*) FROM workspace_members WHERE user_id = ?", (bot_id,)
            ),
            "commands": tx.scalar(
                "SELECT count(*) FROM bot_commands WHERE bot_user_id = ?", (bot_id,)
            ),
        }

    assert await world.db.read(state) == {
        "handle": "",
        "deleted": True,
        "former": "gone-bot",
        "by": world.owner.user_id,
        "live_tokens": 0,
        "memberships": 0,
        "commands": 0,
    }
    reused = await create_bot(world.owner, world, display_name="New", handle="gone-bot")
    assert reused["bot"]["handle"] == "gone-bot"
    assert (await world.owner.delete(f"/api/bots/{bot_id}")).status_code == 404
    unknown = await world.owner.delete("/api/bots/usr_00000000000000000000000000")
    assert unknown.status_code == 404
    assert unknown.json() == NO_ROWS
    human = await world.owner.delete(f"/api/bots/{member.user_id}")
    assert human.status_code == 404


async def test_delete_user_owned_bot_only_by_owner(world: World) -> None:
    member = await world.user("Member")
    created = await create_bot(member, world, display_name="Pet", owner_user_id=member.user_id)
    bot_id = created["bot"]["id"]
    by_manager = await world.owner.delete(f"/api/bots/{bot_id}")
    assert by_manager.status_code == 403
    assert by_manager.json() == {"error": "only the bot owner can manage this bot"}
    deleted = await member.delete(f"/api/bots/{bot_id}")
    assert deleted.status_code == 200
    assert deleted.json()["deleted_bot"]["former_handle"] == ""


# Command menus.


async def test_set_and_list_bot_commands(world: World) -> None:
    notices = collect_notices(world)
    created = await create_bot(
        world.owner, world, display_name="Menu", handle="menu", avatar_url="https://a.example/m.png"
    )
    bot = as_bot(world, created)
    bot_id = created["bot"]["id"]
    response = await bot.put(
        "/api/bots/self/commands",
        json={
            "commands": [
                {"command": " Deploy ", "description": " Ship it ", "args_hint": "<env>"},
                {"command": "/build", "description": "Build", "args_hint": None},
            ]
        },
    )
    assert response.status_code == 200, response.text
    saved = response.json()["bot_commands"]
    assert [c["command"] for c in saved] == ["/build", "/deploy"]
    deploy = saved[1]
    assert deploy["description"] == "Ship it"
    assert deploy["args_hint"] == "<env>"
    assert saved[0]["args_hint"] == ""
    assert deploy["id"].startswith("botcmd_")
    assert deploy["bot"] == {
        "id": bot_id,
        "handle": "menu",
        "display_name": "Menu",
        "avatar_url": "https://a.example/m.png",
    }
    assert deploy["workspace_id"] == world.workspace_id
    assert deploy["bot_user_id"] == bot_id
    [notice] = notices
    assert notice.type == "bot_command.updated"
    assert (notice.id, notice.cursor, notice.workspace_id) == ("", "", world.workspace_id)
    assert notice.payload == {"workspace_id": world.workspace_id, "bot_user_id": bot_id}

    member = await world.user("Member")
    listed = await member.get(f"/api/workspaces/{world.workspace_id}/bot-commands")
    assert listed.status_code == 200
    commands = [from_data(c, BotCommand) for c in listed.json()["bot_commands"]]
    assert [(c.command, c.bot.id) for c in commands] == [("/build", bot_id), ("/deploy", bot_id)]
    assert "workspace_id" not in listed.json()["bot_commands"][0]

    # A second bot's entries interleave by command name.
    other = as_bot(world, await create_bot(world.owner, world, display_name="Other"))
    await other.put(
        "/api/bots/self/commands", json={"commands": [{"command": "ci", "description": "CI"}]}
    )
    names = [
        c["command"]
        for c in (await bot.get(f"/api/workspaces/{world.workspace_id}/bot-commands")).json()[
            "bot_commands"
        ]
    ]
    assert names == ["/build", "/ci", "/deploy"]

    # Replacing keeps a surviving command's identity and drops the rest.
    replaced = await bot.put(
        "/api/bots/self/commands",
        json={"commands": [{"command": "/deploy", "description": "Ship it now"}]},
    )
    [kept] = replaced.json()["bot_commands"]
    assert kept["id"] == deploy["id"]
    assert kept["created_at"] == deploy["created_at"]
    assert ids.parse_rfc3339_ns(kept["updated_at"]) >= ids.parse_rfc3339_ns(deploy["updated_at"])
    assert kept["description"] == "Ship it now"
    assert kept["args_hint"] == ""

    cleared = await bot.put("/api/bots/self/commands", json={"commands": []})
    assert cleared.json() == {"bot_commands": []}
    remaining = await member.get(f"/api/workspaces/{world.workspace_id}/bot-commands")
    assert [c["command"] for c in remaining.json()["bot_commands"]] == ["/ci"]
    assert len(notices) == 4


async def test_bot_commands_auth_and_scopes(world: World) -> None:
    human = await world.owner.put("/api/bots/self/commands", json={"commands": []})
    assert human.status_code == 403
    assert human.json() == {"error": "bot token required"}
    reader = await world.bot(["bot:read"])
    missing = await reader.put("/api/bots/self/commands", json={"commands": []})
    assert missing.status_code == 403
    assert missing.json() == {"error": "bot token is missing scope commands:write"}
    assert (
        await reader.get(f"/api/workspaces/{world.workspace_id}/bot-commands")
    ).status_code == 200
    narrow = await world.bot(["commands:write"])
    assert (await narrow.put("/api/bots/self/commands", json={"commands": []})).status_code == 200
    no_read = await narrow.get(f"/api/workspaces/{world.workspace_id}/bot-commands")
    assert no_read.status_code == 403
    assert no_read.json() == {"error": "bot token is missing scope workspaces:read"}
    outsider = await world.user("Outsider", role="")
    assert (
        await outsider.get(f"/api/workspaces/{world.workspace_id}/bot-commands")
    ).status_code == 400
    assert (
        await world.anon().get(f"/api/workspaces/{world.workspace_id}/bot-commands")
    ).status_code == 401


async def test_bot_commands_validation_writes_nothing(world: World) -> None:
    notices = collect_notices(world)
    bot = await world.bot(["bot:write"])
    ok = await bot.put(
        "/api/bots/self/commands", json={"commands": [{"command": "keep", "description": "K"}]}
    )
    assert ok.status_code == 200
    notices.clear()
    too_many = [{"command": f"c{i}", "description": "d"} for i in range(101)]
    cases: list[tuple[Any, str | None]] = [
        ({}, "commands is required"),
        ({"commands": None}, "commands is required"),
        ({"commands": "x"}, None),
        ({"commands": [5]}, "commands[0] must be an object"),
        ({"commands": [{"command": "", "description": "d"}]}, None),
        ({"commands": [{"command": "/", "description": "d"}]}, None),
        ({"commands": [{"command": "two words", "description": "d"}]}, None),
        ({"commands": [{"command": "//x", "description": "d"}]}, None),
        ({"commands": [{"command": "é", "description": "d"}]}, None),
        ({"commands": [{"command": "a" * 33, "description": "d"}]}, None),
        (
            {"commands": [{"command": 3, "description": "d"}]},
            "commands[0].command must be a string",
        ),
        ({"commands": [{"command": "x"}]}, "commands[0].description is required"),
        ({"commands": [{"command": "x", "description": "d" * 101}]}, None),
        ({"commands": [{"command": "x", "description": "d", "args_hint": "h" * 101}]}, None),
        (
            {
                "commands": [
                    {"command": "Go", "description": "d"},
                    {"command": "/go", "description": "e"},
                ]
            },
            "commands[1].command duplicates /go",
        ),
        ({"commands": too_many}, "commands must contain at most 100 entries"),
    ]
    for body, message in cases:
        response = await bot.put("/api/bots/self/commands", json=body)
        assert response.status_code == 400, (body, response.text)
        if message is not None:
            assert response.json() == {"error": message}
    listed = await bot.get(f"/api/workspaces/{world.workspace_id}/bot-commands")
    assert [c["command"] for c in listed.json()["bot_commands"]] == ["/keep"]
    assert notices == []
    longest = await bot.put(
        "/api/bots/self/commands",
        json={
            "commands": [{"command": "a" * 32, "description": "d" * 100, "args_hint": "h" * 100}]
        },
    )
    assert longest.status_code == 200


async def test_blocked_bot_cannot_update_commands(world: World) -> None:
    bot = await world.bot(["bot:write"])

    def block(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO workspace_member_moderation (workspace_id, user_id, blocked_at) "
            "VALUES (?, ?, ?)",
            (world.workspace_id, bot.user_id, ids.now()),
        )

    await world.db.write(block)
    response = await bot.put("/api/bots/self/commands", json={"commands": []})
    assert response.status_code == 403
    assert response.json() == {"error": "moderation restriction"}


async def test_malformed_ids_never_500(world: World) -> None:
    weird = ["x", "usr_", "btok_%20", "%00", "usr_" + "z" * 200]
    for value in weird:
        requests = [
            ("GET", f"{bots_path(world)}/{value}/tokens", None),
            ("POST", f"{bots_path(world)}/{value}/tokens", {}),
            ("DELETE", f"{bots_path(world)}/{value}/membership", None),
            ("GET", f"/api/bots/{value}/tokens", None),
            ("POST", f"/api/bots/{value}/tokens", {}),
            ("DELETE", f"/api/bots/{value}", None),
            ("POST", f"/api/bot-tokens/{value}/revoke", None),
            ("GET", f"/api/workspaces/{value}/bots", None),
            ("POST", f"/api/workspaces/{value}/bots", {"display_name": "x"}),
            ("GET", f"/api/workspaces/{value}/bot-commands", None),
        ]
        for method, path, body in requests:
            response = await world.owner.request(method, path, json=body)
            assert 400 <= response.status_code < 500, (method, path, response.text)
    assert await listed_bots(world) == []


async def test_wrong_method_is_405(world: World) -> None:
    response = await world.owner.patch(bots_path(world), json={})
    assert response.status_code == 405
    assert response.json() == {"error": "method not allowed"}


# Store-level properties (no HTTP): scope expansion, display names, command names.


@pytest.fixture(scope="module")
def store_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, str, str]]:
    path: Path = tmp_path_factory.mktemp("bots") / "store.db"
    db = Database(path)
    db.migrate()
    boot = db.write_sync(user_store.bootstrap, name="Owner", email="owner@example.com")
    yield db, boot.workspace_id, boot.user_id
    db.close()


def _expected_scopes(items: list[str]) -> list[str] | str:
    """The protocol model: split, trim, expand bundles, sort; or the first unknown name."""
    names = [part.strip() for item in items for part in item.split(",") if part.strip()]
    result: set[str] = set()
    for name in names or ["bot:write"]:
        if name in BUNDLES:
            result.update(BUNDLES[name])
        elif name in CONCRETE:
            result.add(name)
        else:
            return name
    return sorted(result)


_scope_word = st.sampled_from([*CONCRETE, *BUNDLES, "", " ", "bot:all", "messages:delete"])
_scope_item = st.lists(st.tuples(_scope_word, st.sampled_from(["", " ", "  "])), max_size=4).map(
    lambda parts: ",".join(pad + word + pad for word, pad in parts)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(_scope_item, max_size=4), initial_token=st.booleans())
def test_create_bot_scopes_follow_protocol(
    store_world: tuple[Database, str, str], items: list[str], initial_token: bool
) -> None:
    db, workspace_id, owner_id = store_world
    expected = _expected_scopes(items)
    if isinstance(expected, str):
        with pytest.raises(Invalid, match=f"^unknown bot scope: {expected}$"):
            db.write_sync(
                bot_store.create_bot,
                workspace_id=workspace_id,
                created_by=owner_id,
                display_name="Prop",
                scopes=items,
                initial_token=initial_token,
            )
        return
    bot, token = db.write_sync(
        bot_store.create_bot,
        workspace_id=workspace_id,
        created_by=owner_id,
        display_name="Prop",
        scopes=items,
        initial_token=initial_token,
    )
    assert bot.kind == "bot"
    if not initial_token:
        assert token is None
        return
    assert token is not None
    assert token.scopes == expected
    stored = db.read_sync(
        lambda tx: tx.scalar("SELECT scopes_json FROM bot_tokens WHERE id = ?", (token.id,))
    )
    assert json.loads(stored) == expected


@settings(max_examples=60, deadline=None)
@given(name=st.text(max_size=90))
def test_display_name_rule(store_world: tuple[Database, str, str], name: str) -> None:
    db, workspace_id, owner_id = store_world
    stripped = name.strip()

    def attempt() -> tuple[User, BotToken | None]:
        return db.write_sync(
            bot_store.create_bot,
            workspace_id=workspace_id,
            created_by=owner_id,
            display_name=name,
            initial_token=False,
        )

    if not stripped:
        with pytest.raises(Invalid, match="display_name is required"):
            attempt()
    elif len(stripped.encode()) > 80:
        with pytest.raises(Invalid, match="at most 80 bytes"):
            attempt()
    else:
        bot, token = attempt()
        assert bot.display_name == stripped
        assert token is None


@given(
    raw=st.from_regex(r"[a-zA-Z0-9_-]{1,32}", fullmatch=True),
    slash=st.booleans(),
    pad=st.sampled_from(["", " ", "\t"]),
)
def test_valid_command_names_normalise(raw: str, slash: bool, pad: str) -> None:
    text = pad + ("/" if slash else "") + raw + pad
    [entry] = bot_store.normalize_commands([{"command": text, "description": "d"}])
    assert entry.command == "/" + raw.lower()
    assert bot_store.COMMAND_PATTERN.match(entry.command)


@given(raw=st.text(max_size=40))
def test_any_command_name_is_accepted_normalised_or_rejected(raw: str) -> None:
    try:
        [entry] = bot_store.normalize_commands([{"command": raw, "description": "d"}])
    except Invalid as exc:
        assert exc.message.startswith("commands[0].command")
    else:
        assert bot_store.COMMAND_PATTERN.match(entry.command)
        assert entry.command == bot_store.normalize_command_name(raw)
