"""Channels, channel read pointers and route resolution against a real server."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote

import httpx
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from clickclack_server import ids
from clickclack_server.store import users as user_store
from tests.conftest import Caller, World

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
NO_ROWS = {"error": "sql: no rows in result set"}
ROUTE_NOT_FOUND = {"error": "route not found"}
FOREIGN_TOKEN = {"error": "bot token cannot access this workspace"}


# Local fixtures-by-SQL: the message and DM endpoints live in other modules, so rows that only
# they would create are inserted directly, keeping the invariants of protocol section 5.


async def _insert_root(
    world: World,
    author_id: str,
    *,
    channel_id: str | None = None,
    dm_id: str | None = None,
    kind: str = "message",
    deleted: bool = False,
    routed: bool = False,
) -> tuple[str, int]:
    """A root message with the next per-channel (or per-DM) seq; bumps the scope's ``last_seq``."""

    def insert(tx: Any) -> tuple[str, int]:
        table, scope_id = (
            ("channels", channel_id) if channel_id is not None else ("direct_conversations", dm_id)
        )
        scope = tx.one(f"SELECT workspace_id, last_seq FROM {table} WHERE id = ?", (scope_id,))
        seq = scope["last_seq"] + 1
        message_id = ids.new_id("msg")
        now = ids.now()
        tx.execute(
            "INSERT INTO messages (id, workspace_id, channel_id, direct_conversation_id, author_id, "
            "thread_root_id, channel_seq, body, created_at, deleted_at, route_id, kind) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message_id,
                scope["workspace_id"],
                channel_id,
                dm_id,
                author_id,
                message_id,
                seq,
                "" if deleted else f"root {seq}",
                now,
                now if deleted else None,
                ids.new_route_id("M") if routed else None,
                kind,
            ),
        )
        tx.execute(f"UPDATE {table} SET last_seq = ? WHERE id = ?", (seq, scope_id))
        return message_id, seq

    result: tuple[str, int] = await world.db.write(insert)
    return result


async def _insert_reply(world: World, root_id: str, author_id: str) -> str:
    def insert(tx: Any) -> str:
        root = tx.one("SELECT * FROM messages WHERE id = ?", (root_id,))
        seq = (
            tx.scalar(
                "SELECT COALESCE(MAX(thread_seq), 0) FROM messages WHERE thread_root_id = ?",
                (root_id,),
            )
            + 1
        )
        reply_id = ids.new_id("msg")
        tx.execute(
            "INSERT INTO messages (id, workspace_id, channel_id, direct_conversation_id, author_id, "
            "parent_message_id, thread_root_id, thread_seq, body, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                reply_id,
                root["workspace_id"],
                root["channel_id"],
                root["direct_conversation_id"],
                author_id,
                root_id,
                root_id,
                seq,
                "reply",
                ids.now(),
            ),
        )
        return reply_id

    reply: str = await world.db.write(insert)
    return reply


async def _insert_dm(world: World, member_ids: list[str], workspace_id: str = "") -> dict[str, str]:
    def insert(tx: Any) -> dict[str, str]:
        dm_id, route_id = ids.new_id("dm"), ids.new_route_id("D")
        tx.execute(
            "INSERT INTO direct_conversations (id, route_id, workspace_id, created_at, member_set_key) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                dm_id,
                route_id,
                workspace_id or world.workspace_id,
                ids.now(),
                ",".join(sorted(member_ids)),
            ),
        )
        for user_id in member_ids:
            tx.execute(
                "INSERT INTO direct_conversation_members (conversation_id, user_id, created_at) "
                "VALUES (?, ?, ?)",
                (dm_id, user_id, ids.now()),
            )
        return {"id": dm_id, "route_id": route_id}

    result: dict[str, str] = await world.db.write(insert)
    return result


async def _insert_channel(world: World, name: str, workspace_id: str = "") -> str:
    channel_id: str = await world.db.write(
        lambda tx: user_store.insert_channel(
            tx, workspace_id=workspace_id or world.workspace_id, name=name
        )
    )
    return channel_id


async def _restrict(
    world: World, user_id: str, *, blocked: bool = False, timeout_ns: int | None = None
) -> None:
    """A workspace_member_moderation row: blocked, or timed out until now + ``timeout_ns``."""
    until = ids.format_ns(time.time_ns() + timeout_ns) if timeout_ns is not None else None

    def insert(tx: Any) -> None:
        tx.execute(
            "INSERT OR REPLACE INTO workspace_member_moderation "
            "(workspace_id, user_id, timeout_until, blocked_at) VALUES (?, ?, ?, ?)",
            (world.workspace_id, user_id, until, ids.now() if blocked else None),
        )

    await world.db.write(insert)


async def _events(world: World, type: str) -> list[dict[str, Any]]:
    """Durable events of ``type`` in cursor order, with their recipient lists."""

    def read(tx: Any) -> list[dict[str, Any]]:
        rows = tx.all("SELECT * FROM events WHERE type = ? ORDER BY cursor", (type,))
        found = []
        for row in rows:
            recipients = [
                r[0]
                for r in tx.all(
                    "SELECT user_id FROM event_recipients WHERE event_id = ? ORDER BY user_id",
                    (row["id"],),
                )
            ]
            found.append({**dict(row), "recipients": recipients})
        return found

    result: list[dict[str, Any]] = await world.db.read(read)
    return result


async def _channel_row(world: World, channel_id: str) -> dict[str, Any]:
    row = await world.db.read(
        lambda tx: tx.one("SELECT * FROM channels WHERE id = ?", (channel_id,))
    )
    return dict(row)


async def _list(caller: Caller, workspace_id: str) -> dict[str, dict[str, Any]]:
    response = await caller.get(f"/api/workspaces/{workspace_id}/channels")
    assert response.status_code == 200, response.text
    return {channel["name"]: channel for channel in response.json()["channels"]}


async def _create(caller: Caller, workspace_id: str, **body: Any) -> dict[str, Any]:
    response = await caller.post(f"/api/workspaces/{workspace_id}/channels", json=body)
    assert response.status_code == 201, response.text
    channel: dict[str, Any] = response.json()["channel"]
    return channel


async def _workspace_route(world: World, workspace_id: str = "") -> str:
    response = await world.owner.get(f"/api/workspaces/{workspace_id or world.workspace_id}")
    route_id: str = response.json()["workspace"]["route_id"]
    return route_id


async def _bot_in_both(world: World, scopes: list[str]) -> tuple[Caller, str]:
    """A bot whose token belongs to a second workspace but who is also a member of the main one."""
    other = await world.workspace()
    bot = await world.bot(scopes, workspace_id=other)
    await world.db.write(user_store.add_member, world.workspace_id, bot.user_id, "bot")
    return bot, other


# Listing.


async def test_list_shows_general_with_read_state(world: World) -> None:
    response = await world.owner.get(f"/api/workspaces/{world.workspace_id}/channels")
    assert response.status_code == 200
    [general] = response.json()["channels"]
    assert general["id"] == world.channel_id
    assert general["id"].startswith("chn_") and len(general["id"]) == 30
    assert re.fullmatch(r"C[0-9A-HJKMNP-TV-Z]{16}", general["route_id"])
    assert general["workspace_id"] == world.workspace_id
    assert general["name"] == "general"
    assert general["kind"] == "public"
    assert general["external_managed"] is False
    assert (general["last_seq"], general["last_read_seq"], general["unread_count"]) == (0, 0, 0)
    for absent in ("display_title", "archived_at", "external_ref", "external_url"):
        assert absent not in general
    assert general["created_at"].endswith("Z")


async def test_list_is_ordered_by_name_and_includes_archived(world: World) -> None:
    for name in ("zeta", "alpha", "mid"):
        await _create(world.owner, world.workspace_id, name=name)
    mid = (await _list(world.owner, world.workspace_id))["mid"]
    archived = await world.owner.patch(f"/api/channels/{mid['id']}", json={"archived": True})
    assert archived.status_code == 200
    response = await world.owner.get(f"/api/workspaces/{world.workspace_id}/channels")
    channels = response.json()["channels"]
    assert [c["name"] for c in channels] == ["alpha", "general", "mid", "zeta"]
    assert channels[2]["archived_at"] == archived.json()["channel"]["archived_at"]


async def test_list_visibility_for_guests_outsiders_and_bots(world: World) -> None:
    guest = await world.user("Guesty", role="guest")
    assert await _list(guest, world.workspace_id) == {}
    guest_channel = await _insert_channel(world, "guest")
    listed = await _list(guest, world.workspace_id)
    assert [c["id"] for c in listed.values()] == [guest_channel]
    member_view = await _list(world.owner, world.workspace_id)
    assert set(member_view) == {"general", "guest"}

    outsider = await world.user("Outsider", role="")
    response = await outsider.get(f"/api/workspaces/{world.workspace_id}/channels")
    assert response.status_code == 400
    assert response.json() == {"error": "not a member of this workspace"}
    missing = await world.owner.get("/api/workspaces/wsp_00000000000000000000000000/channels")
    assert missing.status_code == 400
    assert missing.json() == NO_ROWS

    reader = await world.bot(["channels:read"])
    assert set(await _list(reader, world.workspace_id)) == {"general", "guest"}
    no_scope = await world.bot(["messages:read"])
    denied = await no_scope.get(f"/api/workspaces/{world.workspace_id}/channels")
    assert denied.status_code == 403
    assert denied.json() == {"error": "bot token is missing scope channels:read"}
    foreign, other = await _bot_in_both(world, ["bot:read"])
    cross = await foreign.get(f"/api/workspaces/{world.workspace_id}/channels")
    assert cross.status_code == 403
    assert cross.json() == FOREIGN_TOKEN
    assert set(await _list(foreign, other)) == {"general"}
    anonymous = await world.anon().get(f"/api/workspaces/{world.workspace_id}/channels")
    assert anonymous.status_code == 401


# Creation.


async def test_create_channel_returns_channel_and_event(world: World) -> None:
    response = await world.owner.post(
        f"/api/workspaces/{world.workspace_id}/channels",
        json={
            "name": "  Release Train!! ",
            "display_title": "  Release train  ",
            "kind": "announcements",
            "external_managed": True,
            "external_ref": " gh:42 ",
            "external_url": "https://example.com/42",
            "sidebar_section": "Projects",
            "unknown_field": "ignored",
        },
    )
    assert response.status_code == 201
    body = response.json()
    channel, event = body["channel"], body["event"]
    assert channel["name"] == "release-train"
    assert channel["display_title"] == "Release train"
    assert channel["kind"] == "announcements"
    assert channel["external_managed"] is True
    assert channel["external_ref"] == "gh:42"
    assert channel["external_url"] == "https://example.com/42"
    assert channel["sidebar_section"] == "Projects"
    assert channel["workspace_id"] == world.workspace_id
    assert (channel["last_seq"], channel["last_read_seq"], channel["unread_count"]) == (0, 0, 0)
    assert channel["route_id"].startswith("C") and len(channel["route_id"]) == 17
    assert event["type"] == "channel.created"
    assert event["id"].startswith("evt_")
    assert event["cursor"].startswith("cur_")
    assert event["workspace_id"] == world.workspace_id
    assert event["channel_id"] == channel["id"]
    assert event["payload"] == {"channel_id": channel["id"]}
    assert "seq" not in event
    listed = await _list(world.owner, world.workspace_id)
    assert listed["release-train"] == channel
    [stored] = await _events(world, "channel.created")
    assert stored["id"] == event["id"] and stored["cursor"] == event["cursor"]
    assert stored["is_private"] == 0 and stored["recipients"] == []


async def test_create_defaults_and_blank_optionals(world: World) -> None:
    channel = await _create(
        world.owner,
        world.workspace_id,
        name="Plain",
        display_title="   ",
        kind="  ",
        external_ref="",
        sidebar_section=" ",
    )
    assert channel["kind"] == "public"
    assert channel["external_managed"] is False
    for absent in ("display_title", "external_ref", "external_url", "sidebar_section"):
        assert absent not in channel
    row = await _channel_row(world, channel["id"])
    assert row["display_title"] is None and row["sidebar_section"] is None


async def test_create_name_rules(world: World) -> None:
    url = f"/api/workspaces/{world.workspace_id}/channels"
    taken = await world.owner.post(url, json={"name": "General"})
    assert taken.status_code == 400
    assert taken.json() == {"error": "channel name is already taken"}
    # An empty (or all-punctuation) name means "general"; free that name first.
    await world.owner.patch(f"/api/channels/{world.channel_id}", json={"name": "lobby"})
    assert (await _create(world.owner, world.workspace_id, name="!!!"))["name"] == "general"
    assert (await world.owner.post(url, json={})).json() == {
        "error": "channel name is already taken"
    }
    for reserved in ("guest", "  GUEST!! ", "-guest-"):
        response = await world.owner.post(url, json={"name": reserved})
        assert response.status_code == 400
        assert response.json() == {"error": "guest channel name is reserved"}
    first = await _create(world.owner, world.workspace_id, name="Random Stuff")
    assert first["name"] == "random-stuff"
    dup = await world.owner.post(url, json={"name": "random_stuff"})
    assert dup.status_code == 400
    # The same name is free in another workspace.
    other = await world.workspace()
    assert (await _create(world.owner, other, name="random-stuff"))["workspace_id"] == other
    names = set(await _list(world.owner, world.workspace_id))
    assert names == {"lobby", "general", "random-stuff"}


async def test_create_permissions(world: World) -> None:
    url = f"/api/workspaces/{world.workspace_id}/channels"
    guest = await world.user("Guest Writer", role="guest")
    response = await guest.post(url, json={"name": "sneaky"})
    assert response.status_code == 403
    assert response.json() == {"error": "moderation restriction"}

    blocked = await world.user("Blocked")
    await _restrict(world, blocked.user_id, blocked=True)
    response = await blocked.post(url, json={"name": "blocked-one"})
    assert response.status_code == 403
    assert response.json() == {"error": "moderation restriction"}
    timed_out = await world.user("Timed Out")
    await _restrict(world, timed_out.user_id, timeout_ns=3600 * 10**9)
    assert (await timed_out.post(url, json={"name": "late"})).status_code == 403
    expired = await world.user("Expired")
    await _restrict(world, expired.user_id, timeout_ns=-(10**9))
    assert (await _create(expired, world.workspace_id, name="back"))["name"] == "back"

    moderator = await world.user("Mod", role="moderator")
    member = await world.user("Member")
    assert (await _create(moderator, world.workspace_id, name="mods"))["name"] == "mods"
    assert (await _create(member, world.workspace_id, name="members"))["name"] == "members"

    outsider = await world.user("Nobody", role="")
    response = await outsider.post(url, json={"name": "outside"})
    assert response.status_code == 400
    assert response.json() == {"error": "not a member of this workspace"}
    missing = await world.owner.post(
        "/api/workspaces/wsp_00000000000000000000000000/channels", json={"name": "x"}
    )
    assert missing.status_code == 400
    assert missing.json() == NO_ROWS

    admin_bot = await world.bot(["bot:admin"])
    assert (await _create(admin_bot, world.workspace_id, name="bot-made"))["name"] == "bot-made"
    writer_bot = await world.bot(["bot:write"])
    response = await writer_bot.post(url, json={"name": "nope"})
    assert response.status_code == 403
    assert response.json() == {"error": "bot token is missing scope channels:write"}
    foreign, _ = await _bot_in_both(world, ["bot:admin"])
    response = await foreign.post(url, json={"name": "cross"})
    assert response.status_code == 403
    assert response.json() == FOREIGN_TOKEN

    assert set(await _list(world.owner, world.workspace_id)) == {
        "general",
        "back",
        "mods",
        "members",
        "bot-made",
    }
    assert len(await _events(world, "channel.created")) == 4


async def test_create_bad_bodies_write_nothing(world: World) -> None:
    url = f"/api/workspaces/{world.workspace_id}/channels"
    cases: list[tuple[bytes, int, str | None]] = [
        (b"", 400, "EOF"),
        (b"{nope", 400, None),
        (b'["a"]', 400, None),
        (b'{"name": "a"} {"name": "b"}', 400, "json request body must contain a single JSON value"),
        (b'{"name": 5}', 400, None),
        (b'{"name": "ok", "external_managed": "yes"}', 400, None),
        (b'{"name": "ok", "kind": ["private"]}', 400, None),
        (b'{"name": "ok", "display_title": {"a": 1}}', 400, None),
        (b'{"name": "' + b"x" * (1 << 20) + b'"}', 413, None),
    ]
    for raw, status, message in cases:
        response = await world.owner.post(
            url, content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == status, (raw[:40], response.text)
        if message is not None:
            assert response.json() == {"error": message}
    assert set(await _list(world.owner, world.workspace_id)) == {"general"}
    assert await _events(world, "channel.created") == []


# Updates.


async def test_update_fields_archive_and_clear(world: World) -> None:
    channel = await _create(
        world.owner,
        world.workspace_id,
        name="ops",
        display_title="Ops",
        external_ref="ref-1",
        external_url="https://example.com",
        sidebar_section="Infra",
    )
    url = f"/api/channels/{channel['id']}"
    response = await world.owner.patch(
        url,
        json={
            "name": "Ops Room",
            "display_title": " Operations ",
            "kind": " private ",
            "external_managed": True,
            "sidebar_section": "Core",
        },
    )
    assert response.status_code == 200
    body = response.json()
    updated, event = body["channel"], body["event"]
    assert updated["name"] == "ops-room"
    assert updated["display_title"] == "Operations"
    assert updated["kind"] == "private"
    assert updated["external_managed"] is True
    assert updated["external_ref"] == "ref-1"
    assert updated["sidebar_section"] == "Core"
    assert updated["route_id"] == channel["route_id"]
    assert updated["created_at"] == channel["created_at"]
    assert "archived_at" not in updated
    assert event["type"] == "channel.updated"
    assert event["channel_id"] == channel["id"]
    assert event["payload"] == {"channel_id": channel["id"], "archived": False}
    assert "seq" not in event

    # Blank name and kind leave them alone; blank nullable text clears.
    cleared = await world.owner.patch(
        url,
        json={
            "name": "  ",
            "kind": "",
            "display_title": "",
            "external_ref": " ",
            "external_url": "",
            "sidebar_section": "",
            "external_managed": False,
        },
    )
    assert cleared.status_code == 200
    after = cleared.json()["channel"]
    assert (after["name"], after["kind"], after["external_managed"]) == (
        "ops-room",
        "private",
        False,
    )
    for absent in ("display_title", "external_ref", "external_url", "sidebar_section"):
        assert absent not in after
    row = await _channel_row(world, channel["id"])
    assert row["external_ref"] is None and row["display_title"] is None

    archived = await world.owner.patch(url, json={"archived": True})
    assert archived.status_code == 200
    assert archived.json()["channel"]["archived_at"].endswith("Z")
    assert archived.json()["event"]["payload"] == {"channel_id": channel["id"], "archived": True}
    # Other fields keep the archive flag as it is.
    renamed = await world.owner.patch(url, json={"display_title": "Archived ops"})
    assert renamed.json()["channel"]["archived_at"] == archived.json()["channel"]["archived_at"]
    assert renamed.json()["event"]["payload"]["archived"] is True
    restored = await world.owner.patch(url, json={"archived": False})
    assert "archived_at" not in restored.json()["channel"]
    assert restored.json()["event"]["payload"] == {"channel_id": channel["id"], "archived": False}
    assert (await _channel_row(world, channel["id"]))["archived_at"] is None

    events = await _events(world, "channel.updated")
    assert len(events) == 5
    cursors = [e["cursor"] for e in events]
    assert cursors == sorted(cursors) and len(set(cursors)) == 5
    assert all(e["channel_id"] == channel["id"] and e["is_private"] == 0 for e in events)
    assert events[-1]["id"] == restored.json()["event"]["id"]


async def test_update_validation(world: World) -> None:
    ops = await _create(world.owner, world.workspace_id, name="ops")
    url = f"/api/channels/{ops['id']}"
    for body in ({}, {"name": None}, {"archived": None, "unknown": 1}):
        response = await world.owner.patch(url, json=body)
        assert response.status_code == 400, body
        assert response.json()["error"].startswith("at least one of name")
    taken = await world.owner.patch(url, json={"name": "GENERAL"})
    assert taken.status_code == 400
    assert taken.json() == {"error": "channel name is already taken"}
    same = await world.owner.patch(url, json={"name": "Ops"})
    assert same.status_code == 200 and same.json()["channel"]["name"] == "ops"
    to_guest = await world.owner.patch(url, json={"name": "Guest"})
    assert to_guest.status_code == 400
    assert to_guest.json() == {"error": "guest channel name is reserved"}
    guest_channel = await _insert_channel(world, "guest")
    from_guest = await world.owner.patch(f"/api/channels/{guest_channel}", json={"name": "lounge"})
    assert from_guest.status_code == 400
    assert from_guest.json() == {"error": "guest channel name is reserved"}
    guest_archive = await world.owner.patch(
        f"/api/channels/{guest_channel}", json={"name": "guest", "archived": True}
    )
    assert guest_archive.status_code == 200
    for raw in (
        b'{"archived": "yes"}',
        b'{"archived": 1}',
        b'{"name": 7}',
        b'{"external_managed": "false"}',
        b'{"sidebar_section": []}',
        b"",
        b"{",
    ):
        response = await world.owner.patch(
            url, content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, raw
    missing = await world.owner.patch(
        "/api/channels/chn_00000000000000000000000000", json={"name": "x"}
    )
    assert missing.status_code == 400
    assert missing.json() == NO_ROWS
    odd = await world.owner.patch("/api/channels/%20chn_x%20", json={"name": "x"})
    assert odd.status_code == 400
    row = await _channel_row(world, ops["id"])
    assert (row["name"], row["archived_at"]) == ("ops", None)
    # Only the two successful updates above wrote events.
    assert len(await _events(world, "channel.updated")) == 2


async def test_update_permissions(world: World) -> None:
    url = f"/api/channels/{world.channel_id}"
    for role in ("moderator", "member"):
        caller = await world.user(f"Not Owner {role}", role=role)
        response = await caller.patch(url, json={"name": "mine"})
        assert response.status_code == 403, role
        assert response.json() == {"error": "channel admin permission required"}
    guest = await world.user("Guest Patcher", role="guest")
    response = await guest.patch(url, json={"name": "mine"})
    assert response.status_code == 400
    assert response.json() == NO_ROWS
    outsider = await world.user("Patch Outsider", role="")
    assert (await outsider.patch(url, json={"name": "mine"})).json() == NO_ROWS

    admin_bot = await world.bot(["bot:admin"])
    response = await admin_bot.patch(url, json={"display_title": "Bot titled"})
    assert response.status_code == 200
    assert response.json()["channel"]["display_title"] == "Bot titled"
    writer_bot = await world.bot(["bot:write"])
    response = await writer_bot.patch(url, json={"display_title": "nope"})
    assert response.status_code == 403
    assert response.json() == {"error": "bot token is missing scope channels:write"}
    foreign, other = await _bot_in_both(world, ["bot:admin"])
    response = await foreign.patch(url, json={"display_title": "cross"})
    assert response.status_code == 403
    assert response.json() == FOREIGN_TOKEN
    # A bot that is not even a member of the channel's workspace is refused the same way.
    stranger_bot = await world.bot(["bot:admin"], workspace_id=other)
    response = await stranger_bot.patch(url, json={"display_title": "cross"})
    assert response.status_code == 403
    assert response.json() == FOREIGN_TOKEN

    await _restrict(world, world.owner.user_id, blocked=True)
    response = await world.owner.patch(url, json={"name": "blocked"})
    assert response.status_code == 403
    assert response.json() == {"error": "moderation restriction"}
    channel = (await _list(admin_bot, world.workspace_id))["general"]
    assert channel["display_title"] == "Bot titled"
    assert len(await _events(world, "channel.updated")) == 1


async def test_channel_names_always_slugify(world: World) -> None:
    """Any name a client sends ends up as ``[a-z0-9]`` runs joined by single dashes."""
    probe = await _create(world.owner, world.workspace_id, name="probe")
    assert world.owner.token is not None
    headers = {"Authorization": f"Bearer {world.owner.token}"}

    def expected_slug(name: str) -> str:
        return "-".join(re.findall(r"[a-z0-9]+", name.lower()))

    def run_property() -> None:
        current = {"name": "probe"}
        with httpx.Client(base_url=world.url, headers=headers, timeout=30) as http:

            @settings(max_examples=120, deadline=None)
            @given(st.text(max_size=40) | st.from_regex(r"[ A-Za-z0-9_.!-]{0,20}", fullmatch=True))
            def check(name: str) -> None:
                response = http.patch(f"/api/channels/{probe['id']}", json={"name": name})
                slug = expected_slug(name)
                if slug == "guest":
                    assert response.status_code == 400
                    assert response.json() == {"error": "guest channel name is reserved"}
                    return
                if slug == "general":
                    assert response.status_code == 400
                    return
                assert response.status_code == 200, response.text
                got = response.json()["channel"]["name"]
                if slug:
                    assert got == slug
                    current["name"] = slug
                else:
                    assert got == current["name"]
                assert SLUG.fullmatch(got), got

            check()

    with trio.fail_after(120):
        await trio.to_thread.run_sync(run_property)


# Read pointers and unread counts.


async def test_unread_counts_follow_the_read_pointer(world: World) -> None:
    me = await world.user("Reader")
    other = await world.user("Writer")
    channel = world.channel_id
    await _insert_root(world, other.user_id, channel_id=channel)  # 1
    await _insert_root(world, me.user_id, channel_id=channel)  # 2 (mine)
    root3, _ = await _insert_root(world, other.user_id, channel_id=channel)  # 3
    await _insert_root(world, other.user_id, channel_id=channel, deleted=True)  # 4
    await _insert_root(world, other.user_id, channel_id=channel, kind="agent_tool")  # 5
    await _insert_root(world, world.owner.user_id, channel_id=channel)  # 6
    await _insert_reply(world, root3, other.user_id)
    mine = (await _list(me, world.workspace_id))["general"]
    assert (mine["last_seq"], mine["last_read_seq"], mine["unread_count"]) == (6, 0, 3)
    owners = (await _list(world.owner, world.workspace_id))["general"]
    assert owners["unread_count"] == 3  # 1, 2 and 3; 4 is deleted, 5 is agent activity, 6 is own

    read = await me.post(f"/api/channels/{channel}/read", json={"seq": 3})
    assert read.status_code == 200
    receipt = read.json()["receipt"]
    assert set(read.json()) == {"receipt"}
    assert receipt["scope_id"] == channel
    assert receipt["user_id"] == me.user_id
    assert receipt["last_read_seq"] == 3
    assert receipt["last_read_at"].endswith("Z")
    mine = (await _list(me, world.workspace_id))["general"]
    assert (mine["last_read_seq"], mine["unread_count"]) == (3, 1)
    # Somebody else's pointer is untouched.
    assert (await _list(world.owner, world.workspace_id))["general"]["last_read_seq"] == 0

    [event] = await _events(world, "channel.read")
    assert event["channel_id"] == channel
    assert event["seq"] == 3
    assert event["is_private"] == 1
    assert event["recipients"] == [me.user_id]
    assert event["payload_json"] == f'{{"channel_id":"{channel}","user_id":"{me.user_id}"}}'
    assert event["cursor"].startswith("cur_")

    # Lower or equal pointers are no-ops: same receipt, no event.
    for seq in (2, 3, 0):
        again = await me.post(f"/api/channels/{channel}/read", json={"seq": seq})
        assert again.status_code == 200
        assert again.json()["receipt"] == receipt
    assert len(await _events(world, "channel.read")) == 1

    # Beyond the last root is capped.
    capped = await me.post(f"/api/channels/{channel}/read", json={"seq": 10_000})
    assert capped.json()["receipt"]["last_read_seq"] == 6
    events = await _events(world, "channel.read")
    assert [e["seq"] for e in events] == [3, 6]
    assert events[0]["cursor"] < events[1]["cursor"]
    mine = (await _list(me, world.workspace_id))["general"]
    assert (mine["last_read_seq"], mine["unread_count"]) == (6, 0)
    beyond = await me.post(f"/api/channels/{channel}/read", json={"seq": 7})
    assert beyond.json()["receipt"]["last_read_seq"] == 6
    assert len(await _events(world, "channel.read")) == 2

    # A new root from someone else is unread again.
    await _insert_root(world, other.user_id, channel_id=channel)
    mine = (await _list(me, world.workspace_id))["general"]
    assert (mine["last_seq"], mine["last_read_seq"], mine["unread_count"]) == (7, 6, 1)


async def test_read_pointer_edge_cases(world: World) -> None:
    url = f"/api/channels/{world.channel_id}/read"
    fresh = await world.owner.post(url, json={"seq": 5})
    assert fresh.status_code == 200
    # An empty channel caps everything to 0: nothing to record yet.
    assert fresh.json()["receipt"] == {
        "scope_id": world.channel_id,
        "user_id": world.owner.user_id,
        "last_read_seq": 0,
        "last_read_at": "",
    }
    defaulted = await world.owner.post(url, json={})
    assert defaulted.json()["receipt"]["last_read_seq"] == 0
    negative = await world.owner.post(url, json={"seq": -1})
    assert negative.status_code == 400
    assert negative.json() == {"error": "seq must be non-negative"}
    await _insert_root(world, world.owner.user_id, channel_id=world.channel_id)
    await _insert_root(world, world.owner.user_id, channel_id=world.channel_id)
    whole = await world.owner.post(url, json={"seq": 2.0})
    assert whole.json()["receipt"]["last_read_seq"] == 2
    for raw in (b'{"seq": "1"}', b'{"seq": 1.5}', b'{"seq": true}', b"", b"[1]"):
        response = await world.owner.post(
            url, content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, raw
    assert [e["seq"] for e in await _events(world, "channel.read")] == [2]


async def test_read_pointer_access(world: World) -> None:
    url = f"/api/channels/{world.channel_id}/read"
    await _insert_root(world, world.owner.user_id, channel_id=world.channel_id)
    outsider = await world.user("Read Outsider", role="")
    response = await outsider.post(url, json={"seq": 1})
    assert response.status_code == 400
    assert response.json() == NO_ROWS
    guest = await world.user("Read Guest", role="guest")
    assert (await guest.post(url, json={"seq": 1})).json() == NO_ROWS
    guest_channel = await _insert_channel(world, "guest")
    await _insert_root(world, world.owner.user_id, channel_id=guest_channel)
    response = await guest.post(f"/api/channels/{guest_channel}/read", json={"seq": 1})
    assert response.status_code == 200
    assert response.json()["receipt"]["last_read_seq"] == 1
    # Moderation restricts writing, not reading.
    blocked = await world.user("Blocked Reader")
    await _restrict(world, blocked.user_id, blocked=True)
    assert (await blocked.post(url, json={"seq": 1})).status_code == 200
    missing = await world.owner.post(
        "/api/channels/chn_00000000000000000000000000/read", json={"seq": 1}
    )
    assert missing.status_code == 400
    assert missing.json() == NO_ROWS

    reader_bot = await world.bot(["messages:read"])
    response = await reader_bot.post(url, json={"seq": 1})
    assert response.status_code == 200
    assert response.json()["receipt"]["user_id"] == reader_bot.user_id
    no_scope = await world.bot(["channels:read"])
    response = await no_scope.post(url, json={"seq": 1})
    assert response.status_code == 403
    assert response.json() == {"error": "bot token is missing scope messages:read"}
    foreign, _ = await _bot_in_both(world, ["bot:read"])
    response = await foreign.post(url, json={"seq": 1})
    assert response.status_code == 403
    assert response.json() == FOREIGN_TOKEN
    readers = sorted(e["recipients"][0] for e in await _events(world, "channel.read"))
    assert readers == sorted([guest.user_id, blocked.user_id, reader_bot.user_id])


# Route resolution.


async def test_route_resolves_channels_new_and_legacy(world: World) -> None:
    workspace_route = await _workspace_route(world)
    general = (await _list(world.owner, world.workspace_id))["general"]
    expected = {
        "workspace_id": world.workspace_id,
        "workspace_route_id": workspace_route,
        "target_type": "channel",
        "target_id": general["id"],
        "target_route_id": general["route_id"],
        "canonical_path": f"/app/{workspace_route}/{general['route_id']}",
    }
    response = await world.owner.get(f"/api/routes/{workspace_route}/{general['route_id']}")
    assert response.status_code == 200
    assert response.json() == {"route": expected}
    legacy = await world.owner.get(f"/api/routes/{world.workspace_id}/{general['id']}")
    assert legacy.json() == {"route": expected}

    not_found = [
        f"/api/routes/{workspace_route}/{general['id']}",  # mixed: legacy target, route workspace
        f"/api/routes/{world.workspace_id}/{general['route_id']}",  # mixed the other way
        f"/api/routes/{workspace_route}/C0000000000000000",
        f"/api/routes/{workspace_route}/X{general['route_id'][1:]}",
        f"/api/routes/{workspace_route}/usr_00000000000000000000000000",
        f"/api/routes/T0000000000000000/{general['route_id']}",
        f"/api/routes/{workspace_route}/{general['route_id'].lower()}",
    ]
    other = await world.workspace()
    other_general = (await _list(world.owner, other))["general"]
    not_found.append(f"/api/routes/{workspace_route}/{other_general['route_id']}")
    not_found.append(f"/api/routes/{world.workspace_id}/{other_general['id']}")
    for path in not_found:
        response = await world.owner.get(path)
        assert response.status_code == 404, path
        assert response.json() == ROUTE_NOT_FOUND

    outsider = await world.user("Route Outsider", role="")
    response = await outsider.get(f"/api/routes/{workspace_route}/{general['route_id']}")
    assert response.status_code == 404
    guest = await world.user("Route Guest", role="guest")
    assert (
        await guest.get(f"/api/routes/{workspace_route}/{general['route_id']}")
    ).status_code == 404
    guest_channel = await _insert_channel(world, "guest")
    response = await guest.get(f"/api/routes/{world.workspace_id}/{guest_channel}")
    assert response.status_code == 200
    assert response.json()["route"]["target_id"] == guest_channel
    assert (await world.anon().get(f"/api/routes/{workspace_route}/C1")).status_code == 401


async def test_route_resolves_direct_conversations(world: World) -> None:
    workspace_route = await _workspace_route(world)
    friend = await world.user("Friend")
    dm = await _insert_dm(world, [world.owner.user_id, friend.user_id])
    expected = {
        "workspace_id": world.workspace_id,
        "workspace_route_id": workspace_route,
        "target_type": "direct",
        "target_id": dm["id"],
        "target_route_id": dm["route_id"],
        "canonical_path": f"/app/{workspace_route}/{dm['route_id']}",
    }
    for caller in (world.owner, friend):
        response = await caller.get(f"/api/routes/{workspace_route}/{dm['route_id']}")
        assert response.status_code == 200
        assert response.json() == {"route": expected}
    legacy = await friend.get(f"/api/routes/{world.workspace_id}/{dm['id']}")
    assert legacy.json() == {"route": expected}
    bystander = await world.user("Bystander")
    for path in (
        f"/api/routes/{workspace_route}/{dm['route_id']}",
        f"/api/routes/{world.workspace_id}/{dm['id']}",
    ):
        response = await bystander.get(path)
        assert response.status_code == 404
        assert response.json() == ROUTE_NOT_FOUND
    guest = await world.user("DM Guest", role="guest")
    guest_dm = await _insert_dm(world, [world.owner.user_id, guest.user_id])
    response = await guest.get(f"/api/routes/{workspace_route}/{guest_dm['route_id']}")
    assert response.status_code == 404


async def test_route_resolves_threads(world: World) -> None:
    workspace_route = await _workspace_route(world)
    general = (await _list(world.owner, world.workspace_id))["general"]
    routed_root, _ = await _insert_root(
        world, world.owner.user_id, channel_id=general["id"], routed=True
    )
    root_route = await world.db.read(
        lambda tx: tx.scalar("SELECT route_id FROM messages WHERE id = ?", (routed_root,))
    )
    response = await world.owner.get(f"/api/routes/{workspace_route}/{root_route}")
    assert response.status_code == 200
    assert response.json() == {
        "route": {
            "workspace_id": world.workspace_id,
            "workspace_route_id": workspace_route,
            "target_type": "thread",
            "target_id": routed_root,
            "target_route_id": root_route,
            "parent_type": "channel",
            "parent_id": general["id"],
            "parent_route_id": general["route_id"],
            "canonical_path": f"/app/{workspace_route}/{root_route}",
        }
    }
    legacy = await world.owner.get(f"/api/routes/{world.workspace_id}/{routed_root}")
    assert legacy.json() == response.json()

    # A legacy link to a root that never had a thread URL allocates one, once.
    bare_root, _ = await _insert_root(world, world.owner.user_id, channel_id=general["id"])
    first = await world.owner.get(f"/api/routes/{world.workspace_id}/{bare_root}")
    assert first.status_code == 200
    allocated = first.json()["route"]["target_route_id"]
    assert re.fullmatch(r"M[0-9A-HJKMNP-TV-Z]{16}", allocated)
    stored = await world.db.read(
        lambda tx: tx.scalar("SELECT route_id FROM messages WHERE id = ?", (bare_root,))
    )
    assert stored == allocated
    second = await world.owner.get(f"/api/routes/{world.workspace_id}/{bare_root}")
    assert second.json() == first.json()
    via_route = await world.owner.get(f"/api/routes/{workspace_route}/{allocated}")
    assert via_route.json() == first.json()

    # Replies are not thread targets, neither are ids of other workspaces or unknown ones.
    reply = await _insert_reply(world, routed_root, world.owner.user_id)
    for path in (
        f"/api/routes/{world.workspace_id}/{reply}",
        f"/api/routes/{world.workspace_id}/msg_00000000000000000000000000",
        f"/api/routes/{workspace_route}/M0000000000000000",
    ):
        response = await world.owner.get(path)
        assert response.status_code == 404, path
    assert (
        await world.db.read(
            lambda tx: tx.scalar("SELECT route_id FROM messages WHERE id = ?", (reply,))
        )
        is None
    )

    # DM thread roots have the conversation as parent and stay private to its members.
    friend = await world.user("Thread Friend")
    dm = await _insert_dm(world, [world.owner.user_id, friend.user_id])
    dm_root, _ = await _insert_root(world, friend.user_id, dm_id=dm["id"])
    response = await world.owner.get(f"/api/routes/{world.workspace_id}/{dm_root}")
    assert response.status_code == 200
    route = response.json()["route"]
    assert (route["parent_type"], route["parent_id"], route["parent_route_id"]) == (
        "direct",
        dm["id"],
        dm["route_id"],
    )
    bystander = await world.user("Thread Bystander")
    for path in (
        f"/api/routes/{world.workspace_id}/{dm_root}",
        f"/api/routes/{workspace_route}/{route['target_route_id']}",
    ):
        assert (await bystander.get(path)).status_code == 404
    guest = await world.user("Thread Guest", role="guest")
    assert (await guest.get(f"/api/routes/{workspace_route}/{root_route}")).status_code == 404


async def test_route_bot_scopes(world: World) -> None:
    workspace_route = await _workspace_route(world)
    general = (await _list(world.owner, world.workspace_id))["general"]
    channel_root, _ = await _insert_root(
        world, world.owner.user_id, channel_id=general["id"], routed=True
    )
    channel_thread = (
        await world.owner.get(f"/api/routes/{world.workspace_id}/{channel_root}")
    ).json()["route"]["target_route_id"]

    channels_only = await world.bot(["channels:read"])
    response = await channels_only.get(f"/api/routes/{workspace_route}/{general['route_id']}")
    assert response.status_code == 200
    for target, scope in (("D0000000000000000", "dms:read"), (channel_thread, "threads:read")):
        response = await channels_only.get(f"/api/routes/{workspace_route}/{target}")
        assert response.status_code == 403
        assert response.json() == {"error": f"bot token is missing scope {scope}"}
    threads_only = await world.bot(["threads:read"])
    response = await threads_only.get(f"/api/routes/{workspace_route}/{general['route_id']}")
    assert response.json() == {"error": "bot token is missing scope channels:read"}
    assert (
        await threads_only.get(f"/api/routes/{workspace_route}/{channel_thread}")
    ).status_code == 200

    reader = await world.bot(["bot:read"])
    dm = await _insert_dm(world, [world.owner.user_id, reader.user_id])
    dm_root, _ = await _insert_root(world, world.owner.user_id, dm_id=dm["id"], routed=True)
    assert (await reader.get(f"/api/routes/{workspace_route}/{dm['route_id']}")).status_code == 200
    dm_thread = await reader.get(f"/api/routes/{world.workspace_id}/{dm_root}")
    assert dm_thread.status_code == 200
    # A DM thread reveals its conversation: threads:read alone is not enough.
    thread_bot = await world.bot(["threads:read"])
    dm_with_thread_bot = await _insert_dm(world, [thread_bot.user_id, reader.user_id])
    thread_bot_root, _ = await _insert_root(
        world, reader.user_id, dm_id=dm_with_thread_bot["id"], routed=True
    )
    response = await thread_bot.get(f"/api/routes/{world.workspace_id}/{thread_bot_root}")
    assert response.status_code == 403
    assert response.json() == {"error": "bot token is missing scope dms:read"}

    foreign, other = await _bot_in_both(world, ["bot:read"])
    response = await foreign.get(f"/api/routes/{workspace_route}/{general['route_id']}")
    assert response.status_code == 403
    assert response.json() == FOREIGN_TOKEN
    other_route = await _workspace_route(world, other)
    other_general = (await _list(world.owner, other))["general"]
    own = await foreign.get(f"/api/routes/{other_route}/{other_general['route_id']}")
    assert own.status_code == 200
    stranger = await world.bot(["bot:read"], workspace_id=other)
    for path in (
        f"/api/routes/{workspace_route}/{general['route_id']}",
        f"/api/routes/{world.workspace_id}/{general['id']}",
    ):
        response = await stranger.get(path)
        assert response.status_code == 403, path
        assert response.json() == FOREIGN_TOKEN


async def test_garbage_ids_are_client_errors(world: World) -> None:
    """Malformed ids anywhere in this area answer 4xx (never 500) and write nothing."""
    weird = ["x", "chn_", "chn_" + "z" * 200, "C" * 17, "ünï", "%00", "%25", "wsp_%20"]
    for ref in weird:
        listed = await world.owner.get(f"/api/workspaces/{ref}/channels")
        created = await world.owner.post(f"/api/workspaces/{ref}/channels", json={"name": "n"})
        patched = await world.owner.patch(f"/api/channels/{ref}", json={"name": "n"})
        read = await world.owner.post(f"/api/channels/{ref}/read", json={"seq": 1})
        for response in (listed, created, patched, read):
            assert response.status_code == 400, (ref, response.request.url, response.text)
    assert set(await _list(world.owner, world.workspace_id)) == {"general"}
    assert await _events(world, "channel.created") == []
    assert await _events(world, "channel.read") == []

    workspace_route = await _workspace_route(world)
    assert world.owner.token is not None
    headers = {"Authorization": f"Bearer {world.owner.token}"}
    refs = st.text(min_size=1, max_size=30).filter(
        lambda ref: "/" not in ref and ref.strip() not in ("", ".", "..")
    )

    def run_property() -> None:
        with httpx.Client(base_url=world.url, headers=headers, timeout=30) as http:

            @settings(max_examples=80, deadline=None)
            @given(
                st.one_of(refs, st.just(workspace_route), st.just(world.workspace_id)),
                st.one_of(refs, refs.map(lambda ref: "C" + ref), refs.map(lambda r: "msg_" + r)),
            )
            def check(workspace_ref: str, target_ref: str) -> None:
                path = f"/api/routes/{quote(workspace_ref, safe='')}/{quote(target_ref, safe='')}"
                response = http.get(path)
                assert response.status_code == 404, (path, response.text)
                assert response.json() == ROUTE_NOT_FOUND

            check()

    with trio.fail_after(120):
        await trio.to_thread.run_sync(run_property)
