"""Outgoing event subscriptions (protocol 3.16): management, the durable event vocabulary, signed
deliveries at commit time, the delivery log and its pages, privacy of private events, and the
delivery service's overflow and shutdown behaviour.

Deliveries go to a real HTTP endpoint on a free loopback port (``CallbackServer``) of a server
started with ``allow_private_callbacks=True``; nothing is sent to any other address.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickclack_sdk.signing import InvalidSignature, verify_request
from clickclack_server import callbacks, deliveries, ids
from clickclack_server.auth import Actor
from clickclack_server.config import Config
from clickclack_server.db import Database
from clickclack_server.store import integrations as store
from clickclack_server.store import messages as message_store
from clickclack_server.store import users as user_store
from tests.conftest import Caller, World
from tests.server.test_hooks import (
    CallbackServer,
    Received,
    Reply,
    integration_world,
    json_reply,
    open_callback_server,
)

NO_ROWS = {"error": "sql: no rows in result set"}
# Protocol 4.4's durable types, written out so the server cannot drift from them.
DURABLE = [
    "channel.created",
    "channel.updated",
    "message.created",
    "message.updated",
    "message.deleted",
    "thread.reply_created",
    "thread.state_updated",
    "reaction.added",
    "reaction.removed",
    "channel.read",
    "dm.read",
    "member.moderation_updated",
    "workspace.updated",
    "workspace.ownership_transferred",
]


@pytest.fixture
async def endpoint(nursery: trio.Nursery) -> CallbackServer:
    return await open_callback_server(nursery)


@pytest.fixture
async def private_world(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[World]:
    async for world in integration_world(nursery, tmp_path, allow_private_callbacks=True):
        yield world


def subs_path(world: World, workspace_id: str | None = None) -> str:
    return f"/api/workspaces/{workspace_id or world.workspace_id}/event-subscriptions"


async def subscribe(
    world: World, caller: Caller | None = None, *, workspace_id: str | None = None, **body: Any
) -> dict[str, Any]:
    body.setdefault("event_types", ["*"])
    body.setdefault("callback_url", "https://hooks.example.com/events")
    response = await (caller or world.owner).post(subs_path(world, workspace_id), json=body)
    assert response.status_code == 201, response.text
    subscription: dict[str, Any] = response.json()["event_subscription"]
    return subscription


def service(world: World) -> deliveries.Deliveries:
    found = deliveries.installed(world.running.server)
    assert found is not None and found.running
    return found


async def settle(world: World) -> None:
    with trio.fail_after(10):
        await service(world).wait_idle()


async def log_of(world: World, subscription_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await world.owner.get(
        f"/api/event-subscriptions/{subscription_id}/deliveries", params=params
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["deliveries"]
    return found


async def post_message(caller: Caller, channel_id: str, body: str = "hi") -> dict[str, Any]:
    response = await caller.post(f"/api/channels/{channel_id}/messages", json={"body": body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def count(world: World, table: str) -> int:
    found: int = await world.db.read(lambda tx: tx.scalar(f"SELECT count(*) FROM {table}"))
    return found


# The vocabulary.


async def test_event_types_lists_the_durable_types(world: World) -> None:
    response = await world.owner.get("/api/event-types")
    assert response.status_code == 200
    assert response.json() == {"event_types": DURABLE}
    robot = await world.bot(["bot:read"])
    assert (await robot.get("/api/event-types")).json() == {"event_types": DURABLE}
    assert (await world.anon().get("/api/event-types")).status_code == 401


# Management.


async def test_create_and_list(world: World) -> None:
    response = await world.owner.post(
        subs_path(world),
        json={
            "event_types": [" message.created ", "reaction.added", "message.created", ""],
            "callback_url": "https://hooks.example.com/events",
        },
    )
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"event_subscription"}
    sub = response.json()["event_subscription"]
    assert sub["id"].startswith("sub_") and len(sub["id"]) == 30
    assert sub["signing_secret"].startswith("ccs_")
    assert sub == {
        "id": sub["id"],
        "workspace_id": world.workspace_id,
        "event_types": ["message.created", "reaction.added"],
        "callback_url": "https://hooks.example.com/events",
        "signing_secret": sub["signing_secret"],
        "created_by": world.owner.user_id,
        "created_at": sub["created_at"],
    }
    star = await subscribe(world, event_types=["*"], app_installation_id="app_01" + "b" * 24)
    assert star["event_types"] == ["*"]
    assert star["app_installation_id"] == "app_01" + "b" * 24
    member = await world.user("Reader")
    listed = await member.get(subs_path(world))
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["event_subscriptions"]] == [sub["id"], star["id"]]
    assert all("signing_secret" not in s for s in listed.json()["event_subscriptions"])


async def test_only_human_managers_manage(world: World) -> None:
    moderator = await world.user("Mod", role="moderator")
    assert (await subscribe(world, moderator))["created_by"] == moderator.user_id
    body = {"event_types": ["*"], "callback_url": "https://e.example/x"}
    for role in ("member", "guest"):
        user = await world.user(f"A {role}", role=role)
        response = await user.post(subs_path(world), json=body)
        assert (response.status_code, response.json()) == (
            403,
            {"error": "workspace manager permission required"},
        )
    robot = await world.bot(["bot:admin"])
    for method, path in (
        ("POST", subs_path(world)),
        ("GET", subs_path(world)),
        ("POST", "/api/event-subscriptions/sub_x/revoke"),
        ("POST", "/api/event-subscriptions/sub_x/rotate-secret"),
        ("GET", "/api/event-subscriptions/sub_x/deliveries"),
    ):
        response = await robot.request(method, path, json=body if method == "POST" else None)
        assert (response.status_code, response.json()) == (
            403,
            {"error": "bot tokens cannot manage event subscriptions"},
        ), path
    outsider = await world.user("Outsider", workspace_id=await world.workspace())
    denied = await outsider.post(subs_path(world), json=body)
    assert (denied.status_code, denied.json()) == (400, {"error": "not a member of this workspace"})
    assert (await world.anon().get(subs_path(world))).status_code == 401
    assert await count(world, "event_subscriptions") == 1


async def test_validation_writes_nothing(world: World) -> None:
    good: dict[str, Any] = {"event_types": ["*"], "callback_url": "https://e.example/x"}
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"event_types": ["message.created", "typing.started"]},
            "unknown event type: typing.started",
        ),
        ({"event_types": ["bot.deleted"]}, "unknown event type: bot.deleted"),
        ({"event_types": ["Message.Created"]}, "unknown event type: Message.Created"),
        ({"event_types": ["**"]}, "unknown event type: **"),
        ({"event_types": []}, "event_types is required"),
        ({"event_types": ["", " "]}, "event_types is required"),
        ({"event_types": None}, "event_types is required"),
        (
            {"event_types": "message.created"},
            "json: cannot unmarshal string into Go struct field .event_types of type []string",
        ),
        (
            {"event_types": [1]},
            "json: cannot unmarshal number into Go struct field .event_types of type string",
        ),
        ({"callback_url": ""}, "callback_url is required"),
        ({"callback_url": "gopher://e.example"}, "callback_url must be an http or https URL"),
        ({"callback_url": "https://a:b@e.example"}, "callback_url must not contain credentials"),
        ({"app_installation_id": "x"}, "app_installation_id must be an app_ id"),
    ]
    for change, error in cases:
        response = await world.owner.post(subs_path(world), json={**good, **change})
        assert (response.status_code, response.json()) == (400, {"error": error}), change
    missing = await world.owner.post(subs_path(world, "wsp_01aaaaaaaaaaaaaaaaaaaaaaaa"), json=good)
    assert (missing.status_code, missing.json()) == (400, NO_ROWS)
    assert await count(world, "event_subscriptions") == 0


async def test_quota_of_active_subscriptions(world: World) -> None:
    made = [await subscribe(world) for _ in range(store.MAX_SUBSCRIPTIONS_PER_WORKSPACE)]
    over = await world.owner.post(
        subs_path(world), json={"event_types": ["*"], "callback_url": "https://e.example/x"}
    )
    assert (over.status_code, over.json()) == (400, {"error": "event subscription quota exceeded"})
    await world.owner.post(f"/api/event-subscriptions/{made[0]['id']}/revoke")
    await subscribe(world)


async def test_revoke_and_rotate(world: World) -> None:
    sub = await subscribe(world)
    member = await world.user("Member")
    for action in ("revoke", "rotate-secret"):
        denied = await member.post(f"/api/event-subscriptions/{sub['id']}/{action}")
        assert (denied.status_code, denied.json()) == (
            403,
            {"error": "workspace manager permission required"},
        )
        unknown = await world.owner.post(f"/api/event-subscriptions/sub_nope/{action}")
        assert (unknown.status_code, unknown.json()) == (400, NO_ROWS)
    rotated = (
        await world.owner.post(f"/api/event-subscriptions/{sub['id']}/rotate-secret")
    ).json()["event_subscription"]
    assert rotated["signing_secret"] != sub["signing_secret"]
    assert rotated["signing_secret"].startswith("ccs_")
    first = await world.owner.post(f"/api/event-subscriptions/{sub['id']}/revoke")
    assert first.status_code == 200
    revoked = first.json()["event_subscription"]
    assert revoked["revoked_at"] and "signing_secret" not in revoked
    again = await world.owner.post(f"/api/event-subscriptions/{sub['id']}/revoke")
    assert again.json()["event_subscription"]["revoked_at"] == revoked["revoked_at"]
    refused = await world.owner.post(f"/api/event-subscriptions/{sub['id']}/rotate-secret")
    assert (refused.status_code, refused.json()) == (
        400,
        {"error": "cannot rotate a revoked event subscription"},
    )
    assert (await world.owner.get(subs_path(world))).json() == {"event_subscriptions": []}


# Deliveries.


async def test_new_events_are_delivered_signed_and_logged(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    await post_message(world.owner, world.channel_id, "before the subscription")
    sub = await subscribe(world, event_types=["message.created"], callback_url=endpoint.url("/ev"))
    endpoint.respond = json_reply(200, b'{"ok":true}')
    created = await post_message(world.owner, world.channel_id, "after")
    request = await endpoint.next_request()
    await settle(world)
    assert request.path == "/ev"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-clickclack-event-id"] == created["event"]["id"]
    body = json.loads(request.body)
    assert body == {"subscription_id": sub["id"], "event": created["event"]}
    verify_request(sub["signing_secret"], request.headers, request.body)
    with pytest.raises(InvalidSignature):
        verify_request(
            sub["signing_secret"],
            request.headers,
            request.body.replace(b"message.created", b"message.deleted"),
        )
    # Only the event after the subscription went out, once.
    assert len(endpoint.received) == 1
    [attempt] = await log_of(world, sub["id"])
    assert attempt["id"].startswith("eda_")
    assert attempt == {
        "id": attempt["id"],
        "subscription_id": sub["id"],
        "event_id": created["event"]["id"],
        "workspace_id": world.workspace_id,
        "event_type": "message.created",
        "attempt": 1,
        "response_status": 200,
        "response_body": '{"ok":true}',
        "created_at": attempt["created_at"],
        "completed_at": attempt["completed_at"],
    }
    assert attempt["completed_at"] >= attempt["created_at"]
    stored = await world.db.read(
        lambda tx: tx.scalar("SELECT request_json FROM event_delivery_attempts")
    )
    assert stored == request.body.decode()
    # Replaying the log delivers nothing.
    replay = await world.owner.get(
        "/api/realtime/events", params={"workspace_id": world.workspace_id}
    )
    assert replay.status_code == 200
    await settle(world)
    assert len(endpoint.received) == 1


async def test_type_filters_and_workspaces(private_world: World, endpoint: CallbackServer) -> None:
    world = private_world
    reactions = await subscribe(
        world, event_types=["reaction.added"], callback_url=endpoint.url("/r")
    )
    everything = await subscribe(world, event_types=["*"], callback_url=endpoint.url("/all"))
    elsewhere = await world.workspace()
    await subscribe(world, workspace_id=elsewhere, callback_url=endpoint.url("/other"))
    created = await post_message(world.owner, world.channel_id)
    reaction = await world.owner.post(
        f"/api/messages/{created['message']['id']}/reactions", json={"emoji": "👍"}
    )
    assert reaction.status_code == 201
    await settle(world)
    got = sorted((r.path, json.loads(r.body)["event"]["type"]) for r in endpoint.received)
    assert got == [
        ("/all", "message.created"),
        ("/all", "reaction.added"),
        ("/r", "reaction.added"),
    ]
    assert [a["event_type"] for a in await log_of(world, reactions["id"])] == ["reaction.added"]
    # Attempts are logged as they complete; the two deliveries ran concurrently.
    assert sorted(a["event_type"] for a in await log_of(world, everything["id"])) == [
        "message.created",
        "reaction.added",
    ]


async def test_private_events_reach_only_subscriptions_their_creator_may_see(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    await subscribe(world, callback_url=endpoint.url("/owner"))
    alice = await world.user("Alice")
    bob = await world.user("Bob")

    async def dm(caller: Caller, other: str) -> str:
        response = await caller.post(
            "/api/dms", json={"workspace_id": world.workspace_id, "member_ids": [other]}
        )
        assert response.status_code == 201, response.text
        conversation_id: str = response.json()["conversation"]["id"]
        sent = await caller.post(f"/api/dms/{conversation_id}/messages", json={"body": "psst"})
        assert sent.status_code == 201, sent.text
        return conversation_id

    hidden = await dm(alice, bob.user_id)
    shared = await dm(world.owner, alice.user_id)
    read = await bob.post(f"/api/channels/{world.channel_id}/read", json={"seq": 0})
    assert read.status_code == 200
    posted = await post_message(bob, world.channel_id, "public")
    assert (
        await bob.post(f"/api/channels/{world.channel_id}/read", json={"seq": 1})
    ).status_code == 200
    await settle(world)
    events = [json.loads(r.body)["event"] for r in endpoint.received]
    conversations = {e["payload"].get("direct_conversation_id") for e in events}
    assert shared in conversations and hidden not in conversations
    assert posted["event"]["id"] in {e["id"] for e in events}
    assert not any(e["type"] == "channel.read" for e in events)  # Bob's pointer is his own


async def test_failures_are_logged_without_retries(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    sub = await subscribe(world, callback_url=endpoint.url())
    endpoint.respond = json_reply(500, b"nope")
    await post_message(world.owner, world.channel_id)
    await settle(world)
    assert len(endpoint.received) == 1
    [attempt] = await log_of(world, sub["id"])
    assert attempt["response_status"] == 500
    assert attempt["response_body"] == "nope"
    assert attempt["error"] == "callback returned HTTP 500"
    assert service(world).statistics().failed == 1


async def test_a_broken_delivery_is_logged_and_spares_the_others(
    private_world: World, endpoint: CallbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = private_world
    good = await subscribe(world, callback_url=endpoint.url("/good"))
    bad = await subscribe(world, callback_url="https://broken.example.com/x")
    real = callbacks.post_signed

    async def post(url: str, body: bytes, **kwargs: Any) -> callbacks.CallbackResult:
        if "broken" in url:
            raise RuntimeError("boom")
        return await real(url, body, **kwargs)

    monkeypatch.setattr(callbacks, "post_signed", post)
    await post_message(world.owner, world.channel_id)
    await settle(world)
    [broken] = await log_of(world, bad["id"])
    assert (broken["response_status"], broken["error"]) == (0, "delivery failed: RuntimeError")
    assert [a["response_status"] for a in await log_of(world, good["id"])] == [200]


async def test_refused_callbacks_are_logged(world: World, endpoint: CallbackServer) -> None:
    # The default world may not reach private addresses; start its delivery service here.
    service_ = deliveries.install(world.running.server)
    async with trio.open_nursery() as nursery:
        if not service_.running:
            await nursery.start(service_.run)
        # Registered past the API's own check (by a deployment that allowed private targets
        # then): the call-time guard refuses it all the same.
        created = await world.db.write(
            lambda tx: store.create_event_subscription(
                tx,
                world.workspace_id,
                world.owner.user_id,
                event_types=["message.created"],
                callback_url=endpoint.url(),
            )
        )
        sub = {"id": created.id}
        await post_message(world.owner, world.channel_id)
        with trio.fail_after(10):
            await service_.wait_idle()
        [attempt] = await log_of(world, sub["id"])
        assert attempt["response_status"] == 0
        assert (
            attempt["error"] == "callback address 127.0.0.1 of 127.0.0.1 is not public (loopback)"
        )
        assert endpoint.received == []
        nursery.cancel_scope.cancel()


async def test_slow_callbacks_never_block_requests(
    private_world: World, endpoint: CallbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = private_world
    sub = await subscribe(world, callback_url=endpoint.url())
    release = trio.Event()

    async def slow(_: Received) -> Reply:
        await release.wait()
        return 204, {}, b""

    endpoint.respond = slow
    with trio.fail_after(5):
        await post_message(world.owner, world.channel_id, "one")
        await endpoint.next_request()  # delivery is in flight, held by the endpoint
        await post_message(world.owner, world.channel_id, "two")
    assert service(world).statistics().pending == 2
    release.set()
    await settle(world)
    statuses = [a["response_status"] for a in await log_of(world, sub["id"])]
    assert statuses == [204, 204]
    # And a callback that never answers is cut off by the timeout and logged.
    monkeypatch.setattr(callbacks, "CALLBACK_TIMEOUT", 0.3)

    async def silent(_: Received) -> Reply:
        await trio.sleep_forever()

    endpoint.respond = silent
    await post_message(world.owner, world.channel_id, "three")
    await settle(world)
    newest = (await log_of(world, sub["id"], limit=1))[0]
    assert newest["error"] == "callback timed out after 0.3s"


async def test_revoked_subscription_stops_and_rotation_resigns(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    sub = await subscribe(world, callback_url=endpoint.url())
    rotated = (
        await world.owner.post(f"/api/event-subscriptions/{sub['id']}/rotate-secret")
    ).json()["event_subscription"]
    await post_message(world.owner, world.channel_id)
    request = await endpoint.next_request()
    verify_request(rotated["signing_secret"], request.headers, request.body)
    with pytest.raises(InvalidSignature):
        verify_request(sub["signing_secret"], request.headers, request.body)
    await settle(world)
    await world.owner.post(f"/api/event-subscriptions/{sub['id']}/revoke")
    await post_message(world.owner, world.channel_id)
    await settle(world)
    assert len(endpoint.received) == 1
    # The log of a revoked subscription stays readable.
    assert len(await log_of(world, sub["id"])) == 1


# The delivery log's pages.


async def seed_attempts(world: World, subscription_id: str, n: int) -> list[str]:
    now = ids.now()
    records = [
        store.DeliveryRecord(
            subscription_id=subscription_id,
            event_id=f"evt_{i:026d}",
            workspace_id=world.workspace_id,
            event_type="message.created",
            status=200,
            started_at=now,
            completed_at=now,
        )
        for i in range(n)
    ]
    written: list[str] = await world.db.write(store.record_deliveries, records)
    return written


async def test_delivery_pages(world: World) -> None:
    sub = await subscribe(world)
    written = await seed_attempts(world, sub["id"], 7)
    newest_first = list(reversed(written))
    path = f"/api/event-subscriptions/{sub['id']}/deliveries"
    first = (await world.owner.get(path, params={"limit": 3})).json()
    assert [d["id"] for d in first["deliveries"]] == newest_first[:3]
    assert first["next_cursor"] == newest_first[2]
    second = (
        await world.owner.get(path, params={"limit": 3, "before": first["next_cursor"]})
    ).json()
    assert [d["id"] for d in second["deliveries"]] == newest_first[3:6]
    third = (
        await world.owner.get(path, params={"limit": 3, "before": second["next_cursor"]})
    ).json()
    assert [d["id"] for d in third["deliveries"]] == newest_first[6:]
    assert third["next_cursor"] is None
    whole = (await world.owner.get(path)).json()
    assert [d["id"] for d in whole["deliveries"]] == newest_first and whole["next_cursor"] is None
    assert len((await world.owner.get(path, params={"limit": 1000})).json()["deliveries"]) == 7
    # The same event twice counts attempts.
    again = await seed_attempts(world, sub["id"], 1)
    [latest] = (await world.owner.get(path, params={"limit": 1})).json()["deliveries"]
    assert latest["id"] == again[0] and latest["attempt"] == 2
    member = await world.user("Reader")
    assert (await member.get(path)).status_code == 200
    outsider = await world.user("Outsider", workspace_id=await world.workspace())
    assert (await outsider.get(path)).status_code == 400


async def test_delivery_page_parameters(world: World) -> None:
    sub = await subscribe(world)
    other = await subscribe(world)
    [foreign] = await seed_attempts(world, other["id"], 1)
    path = f"/api/event-subscriptions/{sub['id']}/deliveries"
    limits: list[tuple[str, str | None]] = [
        ("0", "limit must be a positive integer"),
        ("-1", "limit must be a positive integer"),
        ("abc", "limit must be an integer"),
        ("1.5", "limit must be an integer"),
        ("1_0", "limit must be an integer"),
        ("١٢", "limit must be an integer"),
        ("9" * 40, None),
    ]
    for limit, error in limits:
        response = await world.owner.get(path, params={"limit": limit})
        if error is None:  # beyond 64 bits: simply capped
            assert response.status_code == 200, response.text
            continue
        assert (response.status_code, response.json()) == (400, {"error": error}), limit
    for before, error in (
        ("", "before must not be empty"),
        (foreign, "before is not a delivery attempt of this subscription"),
        ("eda_01aaaaaaaaaaaaaaaaaaaaaaaa", "before is not a delivery attempt of this subscription"),
    ):
        response = await world.owner.get(path, params={"before": before})
        assert (response.status_code, response.json()) == (400, {"error": error})
    unknown = await world.owner.get("/api/event-subscriptions/sub_nope/deliveries")
    assert (unknown.status_code, unknown.json()) == (400, NO_ROWS)
    empty = await world.owner.get(path, params={"limit": " "})
    assert empty.json() == {"deliveries": [], "next_cursor": None}


async def test_any_page_size_walks_the_whole_log(world: World) -> None:
    sub = await subscribe(world)
    written = list(reversed(await seed_attempts(world, sub["id"], 23)))
    assert world.owner.token is not None
    headers = {"Authorization": f"Bearer {world.owner.token}"}
    path = f"/api/event-subscriptions/{sub['id']}/deliveries"

    def run_property() -> None:
        with httpx.Client(base_url=world.url, headers=headers, timeout=30) as http:

            @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
            @given(limit=st.integers(min_value=1, max_value=260))
            def check(limit: int) -> None:
                seen: list[str] = []
                params: dict[str, Any] = {"limit": limit}
                while True:
                    page = http.get(path, params=params).json()
                    assert len(page["deliveries"]) <= min(limit, store.MAX_DELIVERY_LIMIT)
                    seen += [d["id"] for d in page["deliveries"]]
                    if page["next_cursor"] is None:
                        break
                    assert page["next_cursor"] == seen[-1]
                    params = {"limit": limit, "before": page["next_cursor"]}
                assert seen == written

            check()

    with trio.fail_after(120):
        await trio.to_thread.run_sync(run_property)


# The service itself, on a bare database: overflow and shutdown.


async def bare_setup(tmp_path: Path, callback_url: str) -> tuple[Database, str, str]:
    db = Database(tmp_path / "bare.db")
    db.migrate()
    boot = db.write_sync(user_store.bootstrap, name="Owner", email="o@example.com")
    db.write_sync(
        store.create_event_subscription,
        boot.workspace_id,
        boot.user_id,
        event_types=["message.created"],
        callback_url=callback_url,
    )
    return db, boot.user_id, boot.channel_id


async def post_direct(db: Database, user_id: str, channel_id: str, body: str) -> None:
    actor = Actor(user_id=user_id, kind="human", via="test")
    await db.write(
        message_store.create_root, actor, message_store.Draft(body=body), channel_id=channel_id
    )


async def attempt_errors(db: Database) -> list[tuple[int, str]]:
    rows = await db.read(
        lambda tx: tx.all("SELECT response_status, error FROM event_delivery_attempts ORDER BY id")
    )
    return [(row[0], row[1]) for row in rows]


async def test_overflow_drops_and_logs(
    endpoint: CallbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deliveries, "QUEUE_SIZE", 1)
    monkeypatch.setattr(deliveries, "WORKERS", 1)
    db, user_id, channel_id = await bare_setup(tmp_path, endpoint.url())
    release = trio.Event()

    async def held(_: Received) -> Reply:
        await release.wait()
        return 200, {}, b"{}"

    endpoint.respond = held
    service_ = deliveries.Deliveries(db, Config(allow_private_callbacks=True))
    try:
        async with service_.open_service():
            await post_direct(db, user_id, channel_id, "one")
            await endpoint.next_request()  # the only worker is busy with "one"
            await post_direct(db, user_id, channel_id, "two")  # waits in the queue
            await post_direct(db, user_id, channel_id, "three")  # queue full: dropped
            await post_direct(db, user_id, channel_id, "four")  # dropped
            assert service_.statistics().dropped == 2
            release.set()
            with trio.fail_after(10):
                await service_.wait_idle()
            assert service_.statistics() == deliveries.DeliveryStatistics(
                pending=0, delivered=2, failed=0, dropped=2
            )
        assert len(endpoint.received) == 2
        errors = sorted(await attempt_errors(db))
        assert errors == [
            (0, deliveries.QUEUE_FULL_ERROR),
            (0, deliveries.QUEUE_FULL_ERROR),
            (200, ""),
            (200, ""),
        ]
    finally:
        db.close()


async def test_shutdown_logs_interrupted_and_queued_deliveries(
    endpoint: CallbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deliveries, "WORKERS", 1)
    db, user_id, channel_id = await bare_setup(tmp_path, endpoint.url())
    never = trio.Event()

    async def hang(_: Received) -> Reply:
        await never.wait()
        return 200, {}, b"{}"

    endpoint.respond = hang
    service_ = deliveries.Deliveries(db, Config(allow_private_callbacks=True))
    try:
        async with service_.open_service():
            assert service_.running
            with pytest.raises(RuntimeError, match="already running"):
                await service_.run()
            await post_direct(db, user_id, channel_id, "in flight")
            await endpoint.next_request()
            await post_direct(db, user_id, channel_id, "queued")
        assert not service_.running
        assert sorted(await attempt_errors(db)) == sorted(
            [(0, deliveries.INTERRUPTED_ERROR), (0, deliveries.SHUTDOWN_ERROR)]
        )
        assert service_.statistics().pending == 0
        # Not running: commits are ignored, nothing is queued.
        await post_direct(db, user_id, channel_id, "later")
        assert service_.statistics().pending == 0
    finally:
        db.close()


async def test_install_is_idempotent(world: World) -> None:
    first = deliveries.install(world.running.server)
    assert deliveries.install(world.running.server) is first
    assert deliveries.installed(world.running.server) is first


async def test_commits_from_other_threads_are_delivered(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    await subscribe(world, callback_url=endpoint.url())
    actor = Actor(user_id=world.owner.user_id, kind="human", via="test")

    def write_from_thread() -> None:
        world.db.write_sync(
            message_store.create_root,
            actor,
            message_store.Draft(body="threaded"),
            channel_id=world.channel_id,
        )

    await trio.to_thread.run_sync(write_from_thread)
    request = await endpoint.next_request()
    assert json.loads(request.body)["event"]["type"] == "message.created"
