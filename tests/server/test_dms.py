"""Direct conversations: creation rules, pair reuse, hiding, messages, read pointers, privacy."""

from __future__ import annotations

from typing import Any

from tests.conftest import Caller, World


async def start(caller: Caller, world: World, *members: str) -> Any:
    return await caller.post(
        "/api/dms", json={"workspace_id": world.workspace_id, "member_ids": list(members)}
    )


async def test_create_pair_reuse_and_group(world: World) -> None:
    alice = await world.user("Alice")
    bob = await world.user("Bob")
    created = await start(alice, world, bob.user_id, f" {bob.user_id} ")
    assert created.status_code == 201
    conversation = created.json()["conversation"]
    assert conversation["id"].startswith("dm_")
    assert conversation["route_id"].startswith("D")
    assert {m["id"] for m in conversation["members"]} == {alice.user_id, bob.user_id}
    assert conversation["can_send"] is True
    assert conversation["last_seq"] == 0 and conversation["unread_count"] == 0
    again = await start(bob, world, alice.user_id)
    assert again.status_code == 201
    assert again.json()["conversation"]["id"] == conversation["id"]
    carol = await world.user("Carol")
    group = await start(alice, world, bob.user_id, carol.user_id)
    group_again = await start(alice, world, bob.user_id, carol.user_id)
    assert group.json()["conversation"]["id"] != group_again.json()["conversation"]["id"]
    alone = await start(alice, world, alice.user_id)
    assert alone.json() == {"error": "direct conversation needs at least two members"}
    outsider = await world.user("Outsider", role="")
    not_member = await start(alice, world, outsider.user_id)
    assert not_member.status_code == 400
    guest = await world.user("Guest", role="guest")
    assert (await start(guest, world, alice.user_id)).status_code == 403
    assert (await start(alice, world, guest.user_id)).status_code == 400
    many = await start(alice, world, *[f"usr_{i}" for i in range(40)])
    assert many.json() == {"error": "direct conversation has too many members"}
    no_workspace = await alice.post("/api/dms", json={"member_ids": [bob.user_id]})
    assert no_workspace.status_code == 400


async def test_messages_privacy_and_reads(world: World) -> None:
    alice = await world.user("Alice")
    bob = await world.user("Bob")
    eve = await world.user("Eve")
    conversation = (await start(alice, world, bob.user_id)).json()["conversation"]
    url = f"/api/dms/{conversation['id']}/messages"
    sent = await alice.post(url, json={"body": "psst", "nonce": "dm-1"})
    assert sent.status_code == 201
    message = sent.json()["message"]
    event = sent.json()["event"]
    assert message["direct_conversation_id"] == conversation["id"]
    assert "channel_id" not in message and message["channel_seq"] == 1
    assert "channel_id" not in event and event["seq"] == 1
    assert event["payload"]["direct_conversation_id"] == conversation["id"]
    replay = await alice.post(url, json={"body": "psst", "nonce": "dm-1"})
    assert replay.status_code == 200
    await alice.post(url, json={"body": "second"})
    page = (await bob.get(url)).json()
    assert [m["body"] for m in page["messages"]] == ["psst", "second"]
    assert (await eve.get(url)).status_code == 400
    assert (await eve.get(f"/api/messages/{message['id']}")).status_code == 400
    assert (await eve.post(url, json={"body": "let me in"})).status_code == 400
    assert (await eve.get(f"/api/dms/{conversation['id']}")).status_code == 400
    listed = (await bob.get("/api/dms", params={"workspace_id": world.workspace_id})).json()
    [entry] = listed["conversations"]
    assert entry["unread_count"] == 2 and entry["last_seq"] == 2
    receipt = await bob.post(f"/api/dms/{conversation['id']}/read", json={"seq": 99})
    assert receipt.status_code == 200
    assert receipt.json()["receipt"]["last_read_seq"] == 2
    assert receipt.json()["receipt"]["scope_id"] == conversation["id"]
    lower = await bob.post(f"/api/dms/{conversation['id']}/read", json={"seq": 1})
    assert lower.json()["receipt"]["last_read_seq"] == 2
    after = (await bob.get(f"/api/dms/{conversation['id']}")).json()["conversation"]
    assert after["unread_count"] == 0 and after["last_read_seq"] == 2
    thread = await bob.post(f"/api/messages/{message['id']}/thread/replies", json={"body": "re"})
    assert thread.status_code == 201
    assert thread.json()["events"][0]["payload"]["direct_conversation_id"] == conversation["id"]
    denied_owner_delete = await world.owner.delete(f"/api/messages/{message['id']}")
    assert denied_owner_delete.status_code == 400
    bob_delete = await bob.delete(f"/api/messages/{message['id']}")
    assert bob_delete.status_code == 403
    assert bob_delete.json() == {"error": "message is not writable"}

    def private_rows(tx: Any) -> list[tuple[str, list[str]]]:
        rows = tx.all(
            "SELECT e.type, group_concat(r.user_id) FROM events e JOIN event_recipients r ON r.event_id = e.id "
            "WHERE e.is_private = 1 GROUP BY e.id ORDER BY e.cursor"
        )
        return [(row[0], sorted(row[1].split(","))) for row in rows]

    rows = await world.db.read(private_rows)
    pair = sorted([alice.user_id, bob.user_id])
    assert ("message.created", pair) in rows
    assert ("dm.read", [bob.user_id]) in rows
    assert all(eve.user_id not in users for _, users in rows)


async def test_hide_open_and_unhide_on_new_message(world: World) -> None:
    alice = await world.user("Alice")
    bob = await world.user("Bob")
    conversation = (await start(alice, world, bob.user_id)).json()["conversation"]
    hidden = await alice.delete(f"/api/dms/{conversation['id']}")
    assert hidden.json() == {"ok": True}
    listed = (await alice.get("/api/dms", params={"workspace_id": world.workspace_id})).json()
    assert listed["conversations"] == []
    assert (await alice.get(f"/api/dms/{conversation['id']}")).status_code == 200
    await bob.post(f"/api/dms/{conversation['id']}/messages", json={"body": "ping"})
    listed = (await alice.get("/api/dms", params={"workspace_id": world.workspace_id})).json()
    assert [c["id"] for c in listed["conversations"]] == [conversation["id"]]
    await alice.delete(f"/api/dms/{conversation['id']}")
    reopened = await alice.post(f"/api/dms/{conversation['id']}/open")
    assert reopened.status_code == 200
    assert reopened.json()["conversation"]["id"] == conversation["id"]
    bot = await world.bot(["bot:write"])
    assert (await bot.delete(f"/api/dms/{conversation['id']}")).status_code == 403


async def test_no_active_recipient(world: World) -> None:
    alice = await world.user("Alice")
    bob = await world.user("Bob")
    conversation = (await start(alice, world, bob.user_id)).json()["conversation"]

    def remove_bob(tx: Any) -> None:
        tx.execute(
            "DELETE FROM workspace_members WHERE workspace_id = ? AND user_id = ?",
            (world.workspace_id, bob.user_id),
        )

    await world.db.write(remove_bob)
    response = await alice.post(f"/api/dms/{conversation['id']}/messages", json={"body": "anyone?"})
    assert response.status_code == 409
    assert response.json() == {"error": "direct conversation has no active recipient"}
    assert (await alice.get(f"/api/dms/{conversation['id']}")).json()["conversation"][
        "can_send"
    ] is False


async def test_bot_dm_scopes(world: World) -> None:
    human = await world.user("Human")
    reader = await world.bot(["messages:read", "messages:write"])
    writer = await world.bot(["bot:write"])
    denied = await reader.post(
        "/api/dms", json={"workspace_id": world.workspace_id, "member_ids": [human.user_id]}
    )
    assert denied.json() == {"error": "bot token is missing scope dms:write"}
    created = await start(writer, world, human.user_id)
    assert created.status_code == 201
    conversation = created.json()["conversation"]
    sent = await writer.post(
        f"/api/dms/{conversation['id']}/messages", json={"body": "hello human"}
    )
    assert sent.status_code == 201
    message_id = sent.json()["message"]["id"]
    # messages:* scopes alone do not reach DM content.
    await world.db.write(
        lambda tx: tx.execute(
            "INSERT INTO direct_conversation_members (conversation_id, user_id, created_at) VALUES (?, ?, ?)",
            (conversation["id"], reader.user_id, "2026-01-01T00:00:00.000000000Z"),
        )
    )
    no_dm_read = await reader.get(f"/api/messages/{message_id}")
    assert no_dm_read.json() == {"error": "bot token is missing scope dms:read"}
    no_reaction = await reader.post(f"/api/messages/{message_id}/reactions", json={"emoji": "x"})
    assert no_reaction.json() == {"error": "bot token is missing scope dms:write"}
