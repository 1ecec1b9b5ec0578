"""``client.workspaces.moderation_members`` and ``moderate_member``: typed results against the
real server, and exactly the fields the caller gave on the wire."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from clickclack_sdk import (
    Client,
    InvalidRequest,
    MemberModeration,
    MemberModerationChanged,
    MemberModerationUpdatedPayload,
    NotFound,
    PermissionDenied,
    User,
)
from tests.conftest import World
from tests.sdk.conftest import ClientFactory


async def test_roster_is_typed(world: World, owner: Client) -> None:
    member = await world.user("Typed Member")
    guest = await world.user("Typed Guest", role="guest")
    roster = await owner.workspaces.moderation_members(world.workspace_id)
    assert all(isinstance(entry, MemberModeration) for entry in roster)
    by_id = {entry.user.id: entry for entry in roster}
    assert by_id[world.owner.user_id].role == "owner"
    plain = by_id[member.user_id]
    assert (plain.role, plain.posts_remaining, plain.post_limit) == ("member", 0, 0)
    assert plain.timeout_until is None and plain.blocked_at is None
    assert plain.moderation_note is None and plain.moderation_by is None
    assert (by_id[guest.user_id].posts_remaining, by_id[guest.user_id].post_limit) == (3, 3)


async def test_moderate_member_round_trip(world: World, owner: Client) -> None:
    member = await world.user("Moderated")
    started = time.time()
    changed = await owner.workspaces.moderate_member(
        world.workspace_id, member.user_id, timeout_minutes=15, note="cool down"
    )
    assert isinstance(changed, MemberModerationChanged)
    assert changed.member.moderation_note == "cool down"
    assert changed.member.moderation_by == world.owner.user_id
    assert changed.member.timeout_until is not None
    until = datetime.fromisoformat(changed.member.timeout_until.replace("Z", "+00:00"))
    assert started + 899 <= until.timestamp() <= time.time() + 901
    assert changed.event.type == "member.moderation_updated"
    payload = changed.event.typed_payload()
    assert payload == MemberModerationUpdatedPayload(user_id=member.user_id, role="member")
    # An aware datetime is sent as RFC 3339 and comes back in UTC.
    end = datetime(2999, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    timed = await owner.workspaces.moderate_member(
        world.workspace_id, member.user_id, timeout_until=end
    )
    assert timed.member.timeout_until == "2999-01-02T01:04:05Z"
    cleared = await owner.workspaces.moderate_member(
        world.workspace_id, member.user_id, clear_timeout=True, blocked=True, role="guest"
    )
    assert cleared.member.timeout_until is None and cleared.member.blocked_at is not None
    assert cleared.member.role == "guest" and cleared.member.moderation_note == "cool down"
    # A User object works as the reference too.
    user = User(
        id=member.user_id,
        kind="human",
        display_name="Moderated",
        handle="",
        avatar_url="",
        created_at="",
    )
    unblocked = await owner.workspaces.moderate_member(
        world.workspace_id, user, blocked=False, note=""
    )
    assert unblocked.member.blocked_at is None and unblocked.member.moderation_note is None


async def test_errors_map_to_the_sdk_hierarchy(
    world: World, owner: Client, client_for: ClientFactory
) -> None:
    member = await world.user("Plain")
    other = await world.user("Other")
    with pytest.raises(InvalidRequest) as invalid:
        await owner.workspaces.moderate_member(world.workspace_id, member.user_id, role="admin")
    assert invalid.value.error == 'invalid workspace role "admin"'
    with pytest.raises(NotFound):
        await owner.workspaces.moderate_member(world.workspace_id, "usr_00000000000000000000000000")
    async with client_for(member) as client:
        with pytest.raises(PermissionDenied) as denied:
            await client.workspaces.moderation_members(world.workspace_id)
        assert denied.value.error == "moderation restriction"
        with pytest.raises(PermissionDenied):
            await client.workspaces.moderate_member(world.workspace_id, other.user_id, blocked=True)
    async with client_for(await world.bot(["bot:admin"])) as bot:
        with pytest.raises(PermissionDenied) as scoped:
            await bot.workspaces.moderate_member(world.workspace_id, other.user_id, blocked=True)
        assert scoped.value.error == "bot token is missing scope workspaces:write"


MEMBER = {
    "workspace_id": "wsp_1",
    "user": {
        "id": "usr_1",
        "kind": "human",
        "display_name": "One",
        "handle": "",
        "avatar_url": "",
        "created_at": "2026-05-08T12:00:00Z",
    },
    "role": "member",
    "posts_remaining": 0,
    "post_limit": 0,
    "future_field": True,
}
EVENT = {
    "id": "evt_1",
    "cursor": "cur_1",
    "type": "member.moderation_updated",
    "workspace_id": "wsp_1",
    "created_at": "2026-05-08T12:00:00Z",
    "payload": {"user_id": "usr_1", "role": "member"},
}


async def _exchange(call: Any) -> tuple[list[httpx.Request], Any]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"members": [MEMBER]})
        return httpx.Response(200, json={"member": MEMBER, "event": EVENT})

    async with Client("http://cc.test", token="t", transport=httpx.MockTransport(answer)) as client:
        result = await call(client)
    return seen, result


async def test_requests_use_the_protocol_paths_and_only_given_fields() -> None:
    seen, roster = await _exchange(lambda c: c.workspaces.moderation_members("wsp_1"))
    assert [(r.method, r.url.path) for r in seen] == [
        ("GET", "/api/workspaces/wsp_1/moderation/members")
    ]
    assert roster[0].user.id == "usr_1"
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({}, {}),
        ({"blocked": True}, {"blocked": True}),
        ({"blocked": False, "clear_timeout": False}, {"blocked": False}),
        ({"clear_timeout": True, "note": ""}, {"clear_timeout": True, "moderation_note": ""}),
        ({"role": "guest", "timeout_minutes": 0}, {"role": "guest", "timeout_minutes": 0}),
        (
            {"timeout_until": datetime(2030, 1, 1, tzinfo=UTC)},
            {"timeout_until": "2030-01-01T00:00:00+00:00"},
        ),
        ({"timeout_until": "2030-01-01T00:00:00Z"}, {"timeout_until": "2030-01-01T00:00:00Z"}),
    ]
    for kwargs, sent in cases:
        seen, changed = await _exchange(
            lambda c, kw=kwargs: c.workspaces.moderate_member("wsp_1", "usr/1", **kw)
        )
        [request] = seen
        assert (request.method, request.url.raw_path) == (
            "PATCH",
            b"/api/workspaces/wsp_1/moderation/members/usr%2F1",
        )
        assert json.loads(request.content) == sent, kwargs
        assert changed.member.role == "member" and changed.event.id == "evt_1"


async def test_naive_datetime_is_refused_before_sending() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500)

    async with Client("http://cc.test", token="t", transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(ValueError, match="time zone"):
            await client.workspaces.moderate_member(
                "wsp_1", "usr_1", timeout_until=datetime(2030, 1, 1)
            )
    assert seen == []
