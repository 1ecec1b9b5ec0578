"""Member moderation (protocol 3.5, 2.6-2.7, 4.4-4.5) against a real server.

The roster is for active managers only; a PATCH times members out, blocks them, notes them or
changes their role, each under the reference server's rank rules, and writes a private
``member.moderation_updated`` event for the target and the active managers. Every refusal must
write nothing; a Hypothesis property sends random bodies and never sees a 5xx.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickclack_server import ids
from clickclack_server.config import Config
from clickclack_server.db import Tx
from clickclack_server.errors import NO_ROWS
from clickclack_server.runner import Running, run_server
from clickclack_server.store import sessions as session_store
from clickclack_server.store import users as user_store
from clickclack_server.store.moderation import MAX_TIMEOUT_MINUTES, go_quote, parse_timestamp
from tests.conftest import Caller, World
from tests.server.test_realtime_socket import make_channel, next_event, open_socket, tail_cursor

RESTRICTED = {"error": "moderation restriction"}
BAD_TIMESTAMP = {"error": "timeout_until must be an RFC 3339 timestamp"}
BAD_MINUTES = {"error": f"timeout_minutes must be between 0 and {MAX_TIMEOUT_MINUTES}"}
NOT_FOUND = {"error": NO_ROWS}
BASE_KEYS = {"workspace_id", "user", "role", "posts_remaining", "post_limit"}


def roster_path(world: World, workspace_id: str | None = None) -> str:
    return f"/api/workspaces/{workspace_id or world.workspace_id}/moderation/members"


def member_path(world: World, user_id: str, workspace_id: str | None = None) -> str:
    return f"{roster_path(world, workspace_id)}/{user_id}"


async def roster(world: World, caller: Caller | None = None) -> dict[str, dict[str, Any]]:
    """The roster as the owner (or ``caller``) sees it, keyed by user id."""
    response = await (caller or world.owner).get(roster_path(world))
    assert response.status_code == 200, response.text
    return {entry["user"]["id"]: entry for entry in response.json()["members"]}


async def moderate(world: World, user_id: str, caller: Caller | None = None, **body: Any) -> Any:
    """PATCH as the owner (or ``caller``); must succeed; answers the JSON body."""
    response = await (caller or world.owner).patch(member_path(world, user_id), json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def state(world: World) -> tuple[Any, ...]:
    """Everything a moderation write touches: moderation rows, roles and the event log."""

    def read(tx: Tx) -> tuple[Any, ...]:
        return (
            [
                tuple(row)
                for row in tx.all("SELECT * FROM workspace_member_moderation ORDER BY 1, 2")
            ],
            [tuple(row) for row in tx.all("SELECT * FROM workspace_members ORDER BY 1, 2")],
            tx.scalar("SELECT count(*) FROM events"),
        )

    result: tuple[Any, ...] = await world.db.read(read)
    return result


async def stored(world: World, user_id: str) -> dict[str, Any] | None:
    """The raw moderation row of ``user_id`` in the main workspace."""

    def read(tx: Tx) -> dict[str, Any] | None:
        row = tx.one(
            "SELECT * FROM workspace_member_moderation WHERE workspace_id = ? AND user_id = ?",
            (world.workspace_id, user_id),
        )
        return None if row is None else dict(row)

    result: dict[str, Any] | None = await world.db.read(read)
    return result


async def refused(
    world: World, caller: Caller, method: str, path: str, status: int, error: Any, **kwargs: Any
) -> None:
    """``caller``'s request answers ``status`` with ``error`` (a dict body) and writes nothing."""
    before = await state(world)
    response = await caller.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == error
    assert await state(world) == before


async def post(caller: Caller, channel_id: str, body: str = "hello") -> httpx.Response:
    return await caller.post(f"/api/channels/{channel_id}/messages", json={"body": body})


def at(wire: str) -> float:
    """A wire timestamp as POSIX seconds."""
    return ids.parse_rfc3339_ns(wire) / 1e9


# The roster.


async def test_roster_lists_every_member_with_their_state(world: World) -> None:
    moderator = await world.user("Mia Moderator", role="moderator")
    member = await world.user("Max Member")
    guest = await world.user("Gus Guest", role="guest")
    bot = await world.bot(["bot:read"], name="Beep Bot")
    guest_channel = await make_channel(world, "guest")
    assert (await post(guest, guest_channel)).status_code == 201
    response = await world.owner.get(roster_path(world))
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["members"]
    entries = body["members"]
    assert [(e["user"]["id"], e["role"]) for e in entries] == [
        (world.owner.user_id, "owner"),
        (moderator.user_id, "moderator"),
        (member.user_id, "member"),
        (bot.user_id, "bot"),
        (guest.user_id, "guest"),
    ]
    for entry in entries:
        assert set(entry) == BASE_KEYS, entry
        assert entry["workspace_id"] == world.workspace_id
    by_id = {e["user"]["id"]: e for e in entries}
    assert by_id[member.user_id]["user"]["display_name"] == "Max Member"
    assert by_id[bot.user_id]["user"]["kind"] == "bot"
    assert (by_id[guest.user_id]["posts_remaining"], by_id[guest.user_id]["post_limit"]) == (2, 3)
    assert (by_id[member.user_id]["posts_remaining"], by_id[member.user_id]["post_limit"]) == (0, 0)
    # A moderator sees the same roster.
    assert await roster(world, moderator) == by_id


async def test_roster_access_rules(world: World) -> None:
    path = roster_path(world)
    member = await world.user("Member")
    guest = await world.user("Guest", role="guest")
    outsider = await world.user("Outsider", role="")
    other = await world.workspace("Elsewhere")
    reader = await world.bot(["bot:read"])
    narrow = await world.bot(["channels:read"])
    foreign = await world.bot(["bot:admin"], workspace_id=other)
    for caller in (member, guest, reader):
        await refused(world, caller, "GET", path, 403, RESTRICTED)
    await refused(world, outsider, "GET", path, 400, {"error": "not a member of this workspace"})
    await refused(
        world, narrow, "GET", path, 403, {"error": "bot token is missing scope workspaces:read"}
    )
    await refused(
        world, foreign, "GET", path, 403, {"error": "bot token cannot access this workspace"}
    )
    await refused(world, world.anon(), "GET", path, 401, {"error": "authentication required"})
    missing = roster_path(world, "wsp_00000000000000000000000000")
    await refused(world, world.owner, "GET", missing, 400, NOT_FOUND)
    # A moderator who is blocked or timed out loses the roster too.
    blocked = await world.user("Blocked Mod", role="moderator")
    timed = await world.user("Timed Mod", role="moderator")
    assert (await blocked.get(path)).status_code == 200
    await moderate(world, blocked.user_id, blocked=True)
    await moderate(world, timed.user_id, timeout_minutes=5)
    for caller in (blocked, timed):
        await refused(world, caller, "GET", path, 403, RESTRICTED)


# Changing a member.


async def test_patch_answers_member_and_private_event(world: World) -> None:
    member = await world.user("Target")
    started = time.time()
    body = await moderate(world, member.user_id, timeout_minutes=30, moderation_note="spam")
    assert set(body) == {"member", "event"}
    entry, event = body["member"], body["event"]
    assert entry["user"]["id"] == member.user_id and entry["role"] == "member"
    assert entry["moderation_note"] == "spam"
    assert entry["moderation_by"] == world.owner.user_id
    assert started - 1 <= at(entry["moderation_at"]) <= time.time() + 1
    assert started + 1799 <= at(entry["timeout_until"]) <= time.time() + 1801
    assert "blocked_at" not in entry
    assert event["type"] == "member.moderation_updated"
    assert event["payload"] == {"user_id": member.user_id, "role": "member"}
    assert event["id"].startswith("evt_") and event["cursor"].startswith("cur_")
    assert event["workspace_id"] == world.workspace_id
    assert "channel_id" not in event and "seq" not in event
    assert (await roster(world))[member.user_id] == entry
    row = await stored(world, member.user_id)
    assert row is not None
    # Stored fixed-width (nine fractional digits) so that text order is time order.
    assert len(row["timeout_until"]) == len(ids.now()) and row["timeout_until"].endswith("Z")

    def recipients(tx: Tx) -> list[str]:
        return [
            r[0]
            for r in tx.all(
                "SELECT user_id FROM event_recipients WHERE event_id = ? ORDER BY user_id",
                (event["id"],),
            )
        ]

    assert await world.db.read(recipients) == sorted([world.owner.user_id, member.user_id])


async def test_timeout_refuses_writes_until_cleared(world: World) -> None:
    member = await world.user("Chatty")
    first = await post(member, world.channel_id, "before")
    assert first.status_code == 201
    message_id = first.json()["message"]["id"]
    await moderate(world, member.user_id, timeout_minutes=10)
    before = await state(world)
    refused_post = await post(member, world.channel_id, "during")
    assert (refused_post.status_code, refused_post.json()) == (403, RESTRICTED)
    reaction = await member.post(f"/api/messages/{message_id}/reactions", json={"emoji": "x"})
    assert (reaction.status_code, reaction.json()) == (403, RESTRICTED)
    assert await state(world) == before
    # Reading still works.
    page = await member.get(f"/api/channels/{world.channel_id}/messages")
    assert page.status_code == 200 and len(page.json()["messages"]) == 1
    cleared = await moderate(world, member.user_id, clear_timeout=True)
    assert "timeout_until" not in cleared["member"]
    assert (await post(member, world.channel_id, "after")).status_code == 201
    # A timeout that already ended restricts nothing.
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    expired = await moderate(world, member.user_id, timeout_until=past)
    assert at(expired["member"]["timeout_until"]) < time.time()
    assert (await post(member, world.channel_id, "still fine")).status_code == 201


async def test_block_and_unblock(world: World) -> None:
    member = await world.user("Troll")
    started = time.time()
    body = await moderate(world, member.user_id, blocked=True, moderation_note="abuse")
    assert started - 1 <= at(body["member"]["blocked_at"]) <= time.time() + 1
    refused_post = await post(member, world.channel_id)
    assert (refused_post.status_code, refused_post.json()) == (403, RESTRICTED)
    dm = await member.post(
        "/api/dms", json={"workspace_id": world.workspace_id, "member_ids": [world.owner.user_id]}
    )
    assert (dm.status_code, dm.json()) == (403, RESTRICTED)
    # A note-only change keeps the block; a block-only change keeps the note.
    noted = await moderate(world, member.user_id, moderation_note="still abusive")
    assert noted["member"]["blocked_at"] == body["member"]["blocked_at"]
    unblocked = await moderate(world, member.user_id, blocked=False)
    assert "blocked_at" not in unblocked["member"]
    assert unblocked["member"]["moderation_note"] == "still abusive"
    assert (await post(member, world.channel_id)).status_code == 201
    # An empty note clears it (and is then omitted, like every empty optional field).
    cleared = await moderate(world, member.user_id, moderation_note="")
    assert "moderation_note" not in cleared["member"]


async def test_a_blocked_bot_cannot_post(world: World) -> None:
    bot = await world.bot(["bot:write"])
    await moderate(world, bot.user_id, blocked=True)
    response = await post(bot, world.channel_id)
    assert (response.status_code, response.json()) == (403, RESTRICTED)
    await moderate(world, bot.user_id, blocked=False)
    assert (await post(bot, world.channel_id)).status_code == 201


async def test_timeout_precedence(world: World) -> None:
    member = await world.user("Precise")
    # An explicit end wins over minutes; any offset and fraction, stored in UTC.
    body = await moderate(
        world, member.user_id, timeout_until="2999-01-02T03:04:05.5+02:00", timeout_minutes=5
    )
    assert body["member"]["timeout_until"] == "2999-01-02T01:04:05.5Z"
    # Clearing wins over a timeout set in the same request.
    body = await moderate(world, member.user_id, timeout_minutes=5, clear_timeout=True)
    assert "timeout_until" not in body["member"]
    # Zero minutes and a blank end set nothing (the reference's zero values).
    body = await moderate(world, member.user_id, timeout_minutes=0, timeout_until="  ")
    assert "timeout_until" not in body["member"]
    # A new timeout replaces the old one.
    await moderate(world, member.user_id, timeout_until="2999-01-01T00:00:00Z")
    body = await moderate(world, member.user_id, timeout_until="2998-01-01T00:00:00Z")
    assert body["member"]["timeout_until"] == "2998-01-01T00:00:00Z"


async def test_empty_patch_records_the_touch(world: World) -> None:
    member = await world.user("Untouched")
    before = await roster(world)
    body = await moderate(world, member.user_id)
    assert body["event"]["payload"] == {"user_id": member.user_id, "role": "member"}
    entry = body["member"]
    assert entry["role"] == "member" and entry["moderation_by"] == world.owner.user_id
    assert set(entry) == BASE_KEYS | {"moderation_by", "moderation_at"}
    assert {k: v for k, v in entry.items() if k in BASE_KEYS} == before[member.user_id]
    assert (await post(member, world.channel_id)).status_code == 201
    # An empty role is no change either.
    assert (await moderate(world, member.user_id, role=""))["member"]["role"] == "member"


BAD_BODIES: list[tuple[Any, str | None]] = [
    ({"role": 5}, None),
    ({"role": ["moderator"]}, None),
    ({"timeout_until": 1700000000}, None),
    ({"timeout_minutes": "5"}, None),
    ({"timeout_minutes": 1.5}, None),
    ({"timeout_minutes": True}, None),
    ({"timeout_minutes": [5]}, None),
    ({"clear_timeout": "yes"}, None),
    ({"clear_timeout": 1}, None),
    ({"blocked": "no"}, None),
    ({"blocked": 0}, None),
    ({"moderation_note": 7}, None),
    ({"moderation_note": {"text": "x"}}, None),
    ({"timeout_minutes": -1}, BAD_MINUTES["error"]),
    ({"timeout_minutes": MAX_TIMEOUT_MINUTES + 1}, BAD_MINUTES["error"]),
    ({"timeout_minutes": 10**30}, BAD_MINUTES["error"]),
    ({"timeout_minutes": -(10**30), "timeout_until": "2999-01-01T00:00:00Z"}, BAD_MINUTES["error"]),
    ({"role": "admin"}, 'invalid workspace role "admin"'),
    ({"role": "bot"}, 'invalid workspace role "bot"'),
    ({"role": "Moderator"}, 'invalid workspace role "Moderator"'),
    ({"role": ' mem"ber\n'}, 'invalid workspace role " mem\\"ber\\n"'),
    ({"role": "owner"}, "owner role cannot be assigned here"),
    ({"role": "moderator", "timeout_until": "soon"}, BAD_TIMESTAMP["error"]),
    ({"blocked": True, "timeout_until": "2026-05-08"}, BAD_TIMESTAMP["error"]),
]
BAD_TIMESTAMPS = (
    "tomorrow",
    "2026-05-08T12:00:00",
    "2026-05-08 12:00:00Z",
    "2026-05-08t12:00:00z",
    "2026-13-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-05-08T24:00:00Z",
    "2026-05-08T12:60:00Z",
    "2026-05-08T12:00:60Z",
    "2026-05-08T12:00:00+24:00",
    "2026-05-08T12:00:00+0200",
    "2026-05-08T12:00:00.Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "20260508T120000Z",
    "+2026-05-08T12:00:00Z",
    "2026-05-08T12:00:00Z trailing",
    "\uff12\uff10\uff12\uff16-05-08T12:00:00Z",
    "\u0662\u0660\u0662\u0666-05-08T12:00:00Z",
)


async def test_bad_bodies_answer_400_and_write_nothing(world: World) -> None:
    member = await world.user("Target")
    await moderate(world, member.user_id, moderation_note="keep me")
    path = member_path(world, member.user_id)
    for body, error in BAD_BODIES:
        before = await state(world)
        response = await world.owner.patch(path, json=body)
        assert response.status_code == 400, (body, response.text)
        if error is not None:
            assert response.json() == {"error": error}, body
        else:
            assert response.json()["error"].startswith("json: cannot unmarshal"), body
        assert await state(world) == before, body
    for text in BAD_TIMESTAMPS:
        await refused(
            world, world.owner, "PATCH", path, 400, BAD_TIMESTAMP, json={"timeout_until": text}
        )
    raw_cases = [(b"", "EOF"), (b"[]", None), (b'{"blocked": true', None), (b"{} {}", None)]
    for raw, error in raw_cases:
        before = await state(world)
        response = await world.owner.patch(
            path, content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (raw, response.text)
        if error is not None:
            assert response.json() == {"error": error}
        assert await state(world) == before
    assert (await roster(world))[member.user_id]["moderation_note"] == "keep me"


async def test_who_may_moderate_whom(world: World) -> None:
    moderator = await world.user("Mod", role="moderator")
    peer = await world.user("Peer Mod", role="moderator")
    member = await world.user("Member")
    other_member = await world.user("Other Member")
    guest = await world.user("Guest", role="guest")
    outsider = await world.user("Outsider", role="")
    bot = await world.bot(["bot:read"])
    owner = world.owner

    def path(user: Caller | str) -> str:
        return member_path(world, user if isinstance(user, str) else user.user_id)

    note = {"moderation_note": "x"}
    cases: list[tuple[Caller, str, dict[str, Any], int, str]] = [
        (member, path(other_member), note, 403, "moderation restriction"),
        (guest, path(member), note, 403, "moderation restriction"),
        (outsider, path(member), note, 400, "not a member of this workspace"),
        (moderator, path(moderator), note, 400, "moderators cannot moderate themselves"),
        (owner, path(owner), note, 400, "moderators cannot moderate themselves"),
        (moderator, path(owner), note, 400, "owners cannot be moderated"),
        (moderator, path(peer), note, 400, "target role is too high for this moderator"),
        (moderator, path(bot.user_id), note, 400, "target role is too high for this moderator"),
        (
            moderator,
            path(member),
            {"role": "moderator"},
            400,
            "role is too high for this moderator",
        ),
        (moderator, path(member), {"role": "owner"}, 400, "owner role cannot be assigned here"),
        (owner, path(member), {"role": "owner"}, 400, "owner role cannot be assigned here"),
        (moderator, path(outsider), note, 400, NO_ROWS),
        (moderator, path("usr_00000000000000000000000000"), note, 400, NO_ROWS),
        (moderator, path("not-an-id"), note, 400, NO_ROWS),
    ]
    for caller, target, body, status, error in cases:
        await refused(world, caller, "PATCH", target, status, {"error": error}, json=body)
    missing = member_path(world, member.user_id, "wsp_00000000000000000000000000")
    await refused(world, owner, "PATCH", missing, 400, NOT_FOUND, json=note)
    # What moderators may do: members and guests, roles below their own.
    assert (await moderate(world, member.user_id, moderator, role="guest"))["member"]["role"] == (
        "guest"
    )
    assert (await moderate(world, member.user_id, moderator, role="member"))["member"]["role"] == (
        "member"
    )
    await moderate(world, guest.user_id, moderator, timeout_minutes=1, moderation_note="wait")
    # What owners may do on top: moderators and bots, and promote to moderator.
    assert (await moderate(world, peer.user_id, role="member"))["member"]["role"] == "member"
    assert (await moderate(world, member.user_id, role="moderator"))["member"]["role"] == (
        "moderator"
    )
    assert (await moderate(world, bot.user_id, moderation_note="noisy"))["member"]["role"] == "bot"
    # A restricted moderator loses the power at once.
    await moderate(world, moderator.user_id, blocked=True)
    await refused(world, moderator, "PATCH", path(guest), 403, RESTRICTED, json=note)


async def test_bots_cannot_moderate(world: World) -> None:
    member = await world.user("Member")
    other = await world.workspace("Other")
    missing = {"error": "bot token is missing scope workspaces:write"}
    admin = await world.bot(["bot:admin"])
    foreign = await world.bot(["bot:admin"], workspace_id=other)
    for caller in (admin, foreign):
        await refused(
            world, caller, "PATCH", member_path(world, member.user_id), 403, missing, json={}
        )
    await refused(
        world,
        world.anon(),
        "PATCH",
        member_path(world, member.user_id),
        401,
        {"error": "authentication required"},
        json={},
    )


# Who sees the event.


async def test_event_is_private_to_target_and_active_managers(world: World) -> None:
    moderator = await world.user("Mod", role="moderator")
    muted_moderator = await world.user("Muted Mod", role="moderator")
    target = await world.user("Target")
    bystander = await world.user("Bystander")
    bot = await world.bot(["bot:read"])
    await moderate(world, muted_moderator.user_id, timeout_minutes=60)
    event = (await moderate(world, target.user_id, moderator, blocked=True))["event"]

    async def visible(caller: Caller) -> bool:
        response = await caller.get(
            "/api/realtime/events", params={"workspace_id": world.workspace_id}
        )
        assert response.status_code == 200, response.text
        found = [e for e in response.json()["events"] if e["id"] == event["id"]]
        if found:
            assert found[0] == event
        return bool(found)

    for caller in (world.owner, moderator, target):
        assert await visible(caller), caller.user_id
    for caller in (bystander, bot, muted_moderator):
        assert not await visible(caller), caller.user_id


async def test_event_arrives_live_only_where_it_belongs(world: World) -> None:
    target = await world.user("Target")
    bystander = await world.user("Bystander")
    cursor = await tail_cursor(world)
    async with (
        open_socket(world, target, after_cursor=cursor) as target_socket,
        open_socket(world, bystander, after_cursor=cursor) as bystander_socket,
    ):
        moderated = await moderate(world, target.user_id, timeout_minutes=5)
        posted = await post(world.owner, world.channel_id, "public news")
        assert posted.status_code == 201
        first = await next_event(target_socket)
        assert (first["id"], first["type"]) == (
            moderated["event"]["id"],
            "member.moderation_updated",
        )
        assert (await next_event(target_socket))["type"] == "message.created"
        # The bystander's first frame is the public message: the moderation event skipped it.
        assert (await next_event(bystander_socket))["id"] == posted.json()["event"]["id"]


async def test_demotion_to_guest_narrows_a_live_socket_at_once(world: World) -> None:
    member = await world.user("Demoted")
    guest_channel = await make_channel(world, "guest")
    async with open_socket(world, member, after_cursor=await tail_cursor(world)) as socket:
        moderated = await moderate(world, member.user_id, role="guest")
        hidden = await post(world.owner, world.channel_id, "members only")
        shown = await post(world.owner, guest_channel, "welcome")
        assert (hidden.status_code, shown.status_code) == (201, 201)
        assert (await next_event(socket))["id"] == moderated["event"]["id"]
        assert (await next_event(socket))["id"] == shown.json()["event"]["id"]


# Role changes apply at once.


async def test_role_changes_apply_at_once(world: World) -> None:
    member = await world.user("Rising")
    workspace = f"/api/workspaces/{world.workspace_id}"
    # The member's credential is now memoised by the server.
    denied = await member.patch(workspace, json={"name": "Mine"})
    assert (denied.status_code, denied.json()["error"]) == (
        403,
        "workspace manager permission required",
    )
    await moderate(world, member.user_id, role="moderator")
    assert (await member.patch(workspace, json={"name": "Renamed"})).status_code == 200
    assert (await member.get(roster_path(world))).status_code == 200
    await moderate(world, member.user_id, role="guest")
    assert (await member.patch(workspace, json={"name": "Again"})).status_code == 403
    channels = await member.get(f"{workspace}/channels")
    assert channels.status_code == 200
    assert world.channel_id not in [c["id"] for c in channels.json()["channels"]]
    refused_post = await post(member, world.channel_id)
    assert (refused_post.status_code, refused_post.json()) == (400, NOT_FOUND)


# Pure helpers.


def test_go_quote_matches_go_fmt_q() -> None:
    assert go_quote("admin") == '"admin"'
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("\n\t\x00\x7f") == '"\\n\\t\\x00\\x7f"'
    assert go_quote("modérateur ✓") == '"modérateur ✓"'
    assert go_quote("\u200b") == '"\\u200b"'


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
    precision=st.sampled_from(["seconds", "milliseconds", "microseconds"]),
)
def test_parse_timestamp_round_trips_any_offset(
    moment: datetime, offset_minutes: int, precision: str
) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    text = local.isoformat(timespec=precision).replace("+00:00", "Z")
    stored = parse_timestamp(text)
    assert len(stored) == len("2026-05-08T12:00:00.000000000Z")
    expected = moment
    if precision == "seconds":
        expected = moment.replace(microsecond=0)
    elif precision == "milliseconds":
        expected = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert stored == (
        f"{expected.year:04d}-{expected.month:02d}-{expected.day:02d}T{expected.hour:02d}:"
        f"{expected.minute:02d}:{expected.second:02d}.{expected.microsecond:06d}000Z"
    )


# Random bodies against a live server (a server per test, not per example).


moderation_keys = st.sampled_from(
    ["role", "timeout_until", "timeout_minutes", "clear_timeout", "blocked", "moderation_note"]
)
primitives = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["moderator", "member", "guest", "owner", "bot", "2999-01-01T00:00:00Z"])
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)


json_values = st.recursive(primitives, _containers, max_leaves=8)
bodies = st.dictionaries(moderation_keys, json_values, max_size=6) | json_values


async def test_random_bodies_never_500(tmp_path: Path) -> None:
    """Any JSON body, and any integer of minutes: a 200 with a sane state or a 4xx, never 5xx."""
    config = Config(addr="127.0.0.1:0", data=str(tmp_path / "data"))
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(run_server, config)
        db = running.server.db
        boot = await db.write(user_store.bootstrap, name="Owner", email="owner@example.com")
        token = (await db.write(session_store.create_session, boot.user_id)).token

        def add_target(tx: Tx) -> str:
            user = user_store.create_user(tx, display_name="Target", email="t@example.com")
            user_store.add_member(tx, boot.workspace_id, user.id, "member")
            return user.id

        target = await db.write(add_target)
        path = f"/api/workspaces/{boot.workspace_id}/moderation/members/{target}"

        accepted: list[str] = []

        def run_property() -> None:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            with httpx.Client(base_url=running.url, headers=headers, timeout=30) as client:

                def send(body: Any) -> httpx.Response:
                    response = client.patch(path, content=json.dumps(body).encode())
                    assert response.status_code < 500, (body, response.text)
                    if response.status_code >= 400:
                        assert set(response.json()) == {"error"}, response.text
                    else:
                        accepted.append(response.json()["event"]["id"])
                    return response

                @settings(
                    max_examples=250,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                )
                @given(body=bodies)
                def any_body(body: Any) -> None:
                    response = send(body)
                    if response.status_code == 200:
                        member = response.json()["member"]
                        assert member["role"] in ("moderator", "member", "guest")
                        assert member["user"]["id"] == target

                @settings(max_examples=150, deadline=None)
                @given(minutes=st.integers(min_value=-(10**20), max_value=10**20))
                def any_minutes(minutes: int) -> None:
                    started = time.time()
                    response = send({"timeout_minutes": minutes, "role": "member"})
                    if 0 < minutes <= MAX_TIMEOUT_MINUTES:
                        assert response.status_code == 200, response.text
                        until = at(response.json()["member"]["timeout_until"])
                        assert started + minutes * 60 - 1 <= until <= time.time() + minutes * 60 + 1
                    elif minutes == 0:
                        assert response.status_code == 200, response.text
                    else:
                        assert response.json() == BAD_MINUTES

                any_body()
                any_minutes()

        with trio.fail_after(240):
            await trio.to_thread.run_sync(run_property)
        # Every 200 wrote exactly its one event; every refusal wrote none.
        logged = await db.read(
            lambda tx: [row[0] for row in tx.all("SELECT id FROM events ORDER BY cursor")]
        )
        assert logged == accepted and len(accepted) > 50
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("minutes", [1, 60, 24 * 60, MAX_TIMEOUT_MINUTES])
async def test_timeout_minutes_bounds(world: World, minutes: int) -> None:
    member = await world.user("Bounded")
    started = time.time()
    body = await moderate(world, member.user_id, timeout_minutes=minutes)
    until = at(body["member"]["timeout_until"])
    assert started + minutes * 60 - 1 <= until <= time.time() + minutes * 60 + 1
