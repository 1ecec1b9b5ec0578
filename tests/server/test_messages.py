"""Channel messages: create, nonce idempotency, quotes, pages, edit, delete, by-nonce, routes."""

from __future__ import annotations

from typing import Any

from tests.conftest import Caller, World


async def post(
    caller: Caller, channel_id: str, body: str = "hello", **extra: Any
) -> dict[str, Any]:
    response = await caller.post(
        f"/api/channels/{channel_id}/messages", json={"body": body, **extra}
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_create_message_shape_and_event(world: World) -> None:
    response = await world.owner.post(
        f"/api/channels/{world.channel_id}/messages",
        json={"body": "  hello **world**  "},
        headers={"X-Correlation-ID": "req-42"},
    )
    assert response.status_code == 201
    assert response.headers["x-correlation-id"] == "req-42"
    message = response.json()["message"]
    event = response.json()["event"]
    assert message["body"] == "hello **world**"
    assert message["body_format"] == "markdown"
    assert message["channel_seq"] == 1
    assert message["thread_root_id"] == message["id"]
    assert message["author"]["id"] == world.owner.user_id
    assert "parent_message_id" not in message and "deleted_at" not in message
    assert "direct_conversation_id" not in message and "reactions" not in message
    assert event["type"] == "message.created"
    assert event["channel_id"] == world.channel_id
    assert event["seq"] == 1
    assert event["payload"] == {
        "message_id": message["id"],
        "author_id": world.owner.user_id,
        "correlation_id": "req-42",
    }
    second = await post(world.owner, world.channel_id, "again")
    assert second["message"]["channel_seq"] == 2
    assert second["event"]["cursor"] > event["cursor"]
    generated = await post(world.owner, world.channel_id, "x")
    assert generated["event"]["payload"]["correlation_id"].startswith("corr_")


async def test_nonce_replay_and_conflict(world: World) -> None:
    first = await world.owner.post(
        f"/api/channels/{world.channel_id}/messages", json={"body": "once", "nonce": "n-1"}
    )
    assert first.status_code == 201
    assert first.json()["event"]["payload"]["nonce"] == "n-1"
    replay = await world.owner.post(
        f"/api/channels/{world.channel_id}/messages", json={"body": "once", "nonce": " n-1 "}
    )
    assert replay.status_code == 200
    assert "event" not in replay.json()
    assert replay.json()["message"]["id"] == first.json()["message"]["id"]
    conflict = await world.owner.post(
        f"/api/channels/{world.channel_id}/messages", json={"body": "different", "nonce": "n-1"}
    )
    assert conflict.status_code == 400
    assert conflict.json() == {"error": "client nonce was already used for a different message"}
    # The nonce is scoped to the author: another user may reuse it.
    other = await world.user()
    assert (await post(other, world.channel_id, "once", nonce="n-1"))["message"][
        "author_id"
    ] == other.user_id
    page = (await world.owner.get(f"/api/channels/{world.channel_id}/messages")).json()
    assert [m["body"] for m in page["messages"]] == ["once", "once"]
    too_long = await world.owner.post(
        f"/api/channels/{world.channel_id}/messages", json={"body": "x", "nonce": "n" * 129}
    )
    assert too_long.status_code == 400


async def test_by_nonce_lookup(world: World) -> None:
    created = await post(world.owner, world.channel_id, "lookup", nonce="look-1")
    found = await world.owner.get(
        "/api/messages/by-nonce", params={"workspace_id": world.workspace_id, "nonce": "look-1"}
    )
    assert found.status_code == 200
    assert found.headers["x-clickclack-message-nonce"] == "supported"
    assert found.json()["message"]["id"] == created["message"]["id"]
    missing = await world.owner.get(
        "/api/messages/by-nonce", params={"workspace_id": world.workspace_id, "nonce": "nope"}
    )
    assert missing.status_code == 404
    assert missing.headers["x-clickclack-message-nonce"] == "supported"
    other_space = await world.workspace()
    elsewhere = await world.owner.get(
        "/api/messages/by-nonce", params={"workspace_id": other_space, "nonce": "look-1"}
    )
    assert elsewhere.status_code == 400
    assert elsewhere.json()["error"] == "client nonce was already used for a different message"
    bad = await world.owner.get("/api/messages/by-nonce", params={"nonce": "x"})
    assert bad.status_code == 400


async def test_create_validation(world: World) -> None:
    url = f"/api/channels/{world.channel_id}/messages"
    cases = [
        ({"body": "   "}, 400, "message body is required"),
        ({"body": "x", "kind": "weird"}, 400, "invalid message kind"),
        ({"body": "x", "turn_id": "t1"}, 400, "turn_id is only valid for agent activity messages"),
        ({"body": "x", "kind": "agent_tool"}, 403, None),
        (
            {"body": "x", "quoted_message_id": "msg_nope"},
            400,
            "quoted message is not in this channel, conversation, or thread",
        ),
        ({"body": 12}, 400, None),
        ({"body": "x", "topic_id": "top_1"}, 400, None),
    ]
    for payload, status, error in cases:
        response = await world.owner.post(url, json=payload)
        assert response.status_code == status, (payload, response.text)
        if error:
            assert response.json() == {"error": error}
    missing_channel = await world.owner.post("/api/channels/chn_nope/messages", json={"body": "x"})
    assert missing_channel.status_code == 400
    assert missing_channel.json() == {"error": "sql: no rows in result set"}
    page = (await world.owner.get(url)).json()
    assert page["messages"] == [] and page["oldest_seq"] == 0 and page["has_older"] is False


async def test_quotes_snapshot_body(world: World) -> None:
    original = await post(world.owner, world.channel_id, "quote me")
    other = await world.user("Quoter")
    quoting = await post(
        other, world.channel_id, "agreed", quoted_message_id=original["message"]["id"]
    )
    message = quoting["message"]
    assert message["quoted_message_id"] == original["message"]["id"]
    assert message["quoted_body_snapshot"] == "quote me"
    assert message["quoted_author_id"] == world.owner.user_id
    assert message["quoted_author"]["id"] == world.owner.user_id
    await world.owner.patch(f"/api/messages/{original['message']['id']}", json={"body": "changed"})
    fetched = (await world.owner.get(f"/api/messages/{message['id']}")).json()["message"]
    assert fetched["quoted_body_snapshot"] == "quote me"
    other_channel = (
        await world.owner.post(
            f"/api/workspaces/{world.workspace_id}/channels", json={"name": "elsewhere"}
        )
    ).json()
    if "channel" in other_channel:
        cross = await world.owner.post(
            f"/api/channels/{other_channel['channel']['id']}/messages",
            json={"body": "x", "quoted_message_id": original["message"]["id"]},
        )
        assert cross.status_code == 400


async def test_agent_activity_kinds(world: World) -> None:
    agent = await world.bot(["bot:write", "agent_activity:write"])
    plain_bot = await world.bot(["bot:write"])
    url = f"/api/channels/{world.channel_id}/messages"
    denied = await plain_bot.post(url, json={"body": "thinking", "kind": "agent_commentary"})
    assert denied.status_code == 403
    assert denied.json() == {"error": "bot token is missing scope agent_activity:write"}
    created = await agent.post(
        url, json={"body": "thinking", "kind": "agent_commentary", "turn_id": "turn-1"}
    )
    assert created.status_code == 201
    assert created.json()["message"]["kind"] == "agent_commentary"
    assert created.json()["event"]["payload"]["kind"] == "agent_commentary"
    assert created.json()["event"]["payload"]["turn_id"] == "turn-1"


async def seed(world: World, count: int) -> list[dict[str, Any]]:
    return [
        (await post(world.owner, world.channel_id, f"m{i}"))["message"] for i in range(1, count + 1)
    ]


async def test_pages(world: World) -> None:
    await seed(world, 12)
    url = f"/api/channels/{world.channel_id}/messages"

    async def seqs(**params: Any) -> tuple[list[int], dict[str, Any]]:
        response = await world.owner.get(url, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        return [m["channel_seq"] for m in body["messages"]], body

    latest, body = await seqs(limit=5)
    assert latest == [8, 9, 10, 11, 12] and body["has_older"] and not body["has_newer"]
    assert (body["oldest_seq"], body["newest_seq"]) == (8, 12)
    assert (await seqs(limit=5, mode="latest"))[0] == latest
    after, body = await seqs(after_seq=3, limit=4)
    assert after == [4, 5, 6, 7] and body["has_older"] and body["has_newer"]
    before, body = await seqs(before_seq=3)
    assert before == [1, 2] and not body["has_older"] and body["has_newer"]
    around, body = await seqs(around_seq=6, limit=4)
    assert around == [5, 6, 7, 8]
    around_odd, _ = await seqs(around_seq=6, limit=5)
    assert around_odd == [4, 5, 6, 7, 8]
    empty_after, body = await seqs(after_seq=12)
    assert empty_after == [] and body["has_older"] and not body["has_newer"]
    assert (body["oldest_seq"], body["newest_seq"]) == (0, 0)
    default_limit, _ = await seqs(limit=0)
    assert len(default_limit) == 12
    assert len((await seqs(limit=500))[0]) == 12
    for params in (
        {"after_seq": "x"},
        {"after_seq": ""},
        {"after_seq": "-1"},
        {"after_seq": 1, "before_seq": 5},
        {"mode": "oldest"},
        {"mode": "latest", "after_seq": 2},
        {"limit": "many"},
    ):
        response = await world.owner.get(url, params=params)
        assert response.status_code == 400, params


async def test_windows_match_model_over_http(world: World) -> None:
    await seed(world, 10)
    url = f"/api/channels/{world.channel_id}/messages"
    seqs = list(range(1, 11))
    for cursor in ("after_seq", "before_seq", "around_seq"):
        for position in (0, 1, 5, 10, 11):
            for limit in (1, 3, 4, 15):
                if cursor == "after_seq":
                    expected = [s for s in seqs if s > position][:limit]
                elif cursor == "before_seq":
                    expected = [s for s in seqs if s < position][-limit:]
                else:
                    older = [s for s in seqs if s <= position][-((limit + 1) // 2) :]
                    expected = older + [s for s in seqs if s > position][: limit - len(older)]
                body = (
                    await world.owner.get(url, params={cursor: position, "limit": limit})
                ).json()
                assert [m["channel_seq"] for m in body["messages"]] == expected, (
                    cursor,
                    position,
                    limit,
                )
                if expected:
                    assert body["has_older"] == (expected[0] > 1)
                    assert body["has_newer"] == (expected[-1] < 10)


async def test_edit_and_delete(world: World) -> None:
    mine = (await post(world.owner, world.channel_id, "draft"))["message"]
    other = await world.user("Editor")
    theirs = (await post(other, world.channel_id, "theirs"))["message"]
    edited = await world.owner.patch(f"/api/messages/{mine['id']}", json={"body": " final "})
    assert edited.status_code == 200
    assert edited.json()["message"]["body"] == "final"
    assert "edited_at" in edited.json()["message"]
    event = edited.json()["event"]
    assert event["type"] == "message.updated"
    assert event["payload"] == {"message_id": mine["id"], "root_message_id": mine["id"]}
    assert event["seq"] == mine["channel_seq"] and event["channel_id"] == world.channel_id
    not_author = await other.patch(f"/api/messages/{mine['id']}", json={"body": "hijack"})
    assert not_author.status_code == 400
    assert not_author.json() == {"error": "only the author can edit a message"}
    empty = await world.owner.patch(f"/api/messages/{mine['id']}", json={"body": ""})
    assert empty.json() == {"error": "message body is required"}
    member_delete = await other.delete(f"/api/messages/{mine['id']}")
    assert member_delete.status_code == 403
    assert member_delete.json() == {"error": "message is not writable"}
    owner_delete = await world.owner.delete(f"/api/messages/{theirs['id']}")
    assert owner_delete.status_code == 200
    deleted = owner_delete.json()
    assert deleted["message"]["body"] == "" and "deleted_at" in deleted["message"]
    assert deleted["event"]["type"] == "message.deleted"
    again = await world.owner.delete(f"/api/messages/{theirs['id']}")
    assert again.status_code == 200
    assert again.json()["event"] == {
        "id": "",
        "cursor": "",
        "type": "",
        "workspace_id": "",
        "created_at": "",
        "payload": None,
    }
    edit_deleted = await other.patch(f"/api/messages/{theirs['id']}", json={"body": "back"})
    assert edit_deleted.status_code == 400
    page = (await world.owner.get(f"/api/channels/{world.channel_id}/messages")).json()
    assert [m["body"] for m in page["messages"]] == ["final", ""]


async def test_get_message_and_route(world: World) -> None:
    created = (await post(world.owner, world.channel_id, "routable"))["message"]
    fetched = await world.owner.get(f"/api/messages/{created['id']}")
    assert fetched.status_code == 200
    assert "route_id" not in fetched.json()["message"]
    routed = await world.owner.post(f"/api/messages/{created['id']}/route")
    assert routed.status_code == 200
    route_id = routed.json()["message"]["route_id"]
    assert route_id.startswith("M") and len(route_id) == 17
    assert (await world.owner.post(f"/api/messages/{created['id']}/route")).json()["message"][
        "route_id"
    ] == route_id
    assert (await world.owner.post("/api/messages/msg_nope/route")).status_code == 404
    assert (await world.owner.get("/api/messages/msg_nope")).status_code == 400
    outsider = await world.user("Outsider", role="")
    assert (await outsider.get(f"/api/messages/{created['id']}")).status_code == 400


async def test_guest_rules(world: World) -> None:
    guest = await world.user("Guest", role="guest")
    denied = await guest.post(f"/api/channels/{world.channel_id}/messages", json={"body": "hi"})
    assert denied.status_code == 400

    def make_guest_channel(tx: Any) -> str:
        from clickclack_server.store.users import insert_channel

        return insert_channel(tx, workspace_id=world.workspace_id, name="guest")

    guest_channel = await world.db.write(make_guest_channel)
    for index in range(3):
        await post(guest, guest_channel, f"hello {index}")
    fourth = await guest.post(f"/api/channels/{guest_channel}/messages", json={"body": "again"})
    assert fourth.status_code == 429
    assert fourth.json() == {"error": "waiting room post limit reached"}


async def test_moderation_restriction(world: World) -> None:
    member = await world.user("Muted")

    def block(tx: Any) -> None:
        tx.execute(
            "INSERT INTO workspace_member_moderation (workspace_id, user_id, blocked_at) VALUES (?, ?, ?)",
            (world.workspace_id, member.user_id, "2026-01-01T00:00:00.000000000Z"),
        )

    await world.db.write(block)
    response = await member.post(f"/api/channels/{world.channel_id}/messages", json={"body": "hi"})
    assert response.status_code == 403
    assert response.json() == {"error": "moderation restriction"}


async def test_bot_scopes_on_messages(world: World) -> None:
    reader = await world.bot(["bot:read"])
    writer = await world.bot(["bot:write"])
    url = f"/api/channels/{world.channel_id}/messages"
    assert (await reader.get(url)).status_code == 200
    denied = await reader.post(url, json={"body": "x"})
    assert denied.status_code == 403
    assert denied.json() == {"error": "bot token is missing scope messages:write"}
    created = await writer.post(url, json={"body": "from bot"})
    assert created.status_code == 201
    # A bot that is also a member elsewhere cannot use this token there.
    other = await world.workspace()

    def join(tx: Any) -> str:
        from clickclack_server.store.users import add_member

        add_member(tx, other, writer.user_id, "bot")
        channel_id: str = tx.scalar("SELECT id FROM channels WHERE workspace_id = ?", (other,))
        return channel_id

    other_channel = await world.db.write(join)
    cross = await writer.post(f"/api/channels/{other_channel}/messages", json={"body": "x"})
    assert cross.status_code == 403
    assert cross.json() == {"error": "bot token cannot access this workspace"}
    cross_read = await writer.get(f"/api/channels/{other_channel}/messages")
    assert cross_read.status_code == 403


async def test_cannot_attach_someone_elses_private_upload(world: World) -> None:
    owner_upload = await world.owner.post(
        "/api/uploads",
        params={"workspace_id": world.workspace_id},
        files={"file": ("secret.txt", b"private bytes", "text/plain")},
    )
    assert owner_upload.status_code == 201
    upload_id = owner_upload.json()["upload"]["id"]
    thief = await world.user("Thief")
    response = await thief.post(
        f"/api/channels/{world.channel_id}/messages", json={"body": "look", "upload_id": upload_id}
    )
    assert response.status_code == 400
    assert (await thief.get(f"/api/uploads/{upload_id}")).status_code == 404
    mine = await world.owner.post(
        f"/api/channels/{world.channel_id}/messages",
        json={"body": "shared", "upload_id": upload_id},
    )
    assert mine.status_code == 201
    assert [a["id"] for a in mine.json()["message"]["attachments"]] == [upload_id]
    assert (await thief.get(f"/api/uploads/{upload_id}")).status_code == 200
