"""Slash commands (protocol 3.15): registration, secrets, signed callbacks, replies, the legacy
unregistered path, and the SSRF refusal seen end to end.

Callbacks go to a real HTTP endpoint on a free loopback port (``CallbackServer``); a server that
may reach it is started with ``allow_private_callbacks=True``. The default ``world`` server does
not allow private targets, which is how the end-to-end refusal is tested.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from clickclack_sdk.signing import InvalidSignature, verify_request
from clickclack_server import callbacks
from clickclack_server.errors import Invalid
from clickclack_server.store import integrations as store
from clickclack_server.store.users import insert_channel
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
ZERO_MESSAGE = {
    "id": "",
    "workspace_id": "",
    "author_id": "",
    "thread_root_id": "",
    "body": "",
    "body_format": "",
    "created_at": "",
}
ZERO_EVENT = {
    "id": "",
    "cursor": "",
    "type": "",
    "workspace_id": "",
    "created_at": "",
    "payload": None,
}


@pytest.fixture
async def endpoint(nursery: trio.Nursery) -> CallbackServer:
    return await open_callback_server(nursery)


@pytest.fixture
async def private_world(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[World]:
    async for world in integration_world(nursery, tmp_path, allow_private_callbacks=True):
        yield world


def commands_path(world: World, workspace_id: str | None = None) -> str:
    return f"/api/workspaces/{workspace_id or world.workspace_id}/slash-commands"


async def register(
    world: World, caller: Caller | None = None, *, workspace_id: str | None = None, **body: Any
) -> dict[str, Any]:
    if "bot_user_id" not in body:
        body["bot_user_id"] = (await world.bot(workspace_id=workspace_id)).user_id
    body.setdefault("command", "/deploy")
    body.setdefault("callback_url", "https://hooks.example.com/deploy")
    response = await (caller or world.owner).post(commands_path(world, workspace_id), json=body)
    assert response.status_code == 201, response.text
    command: dict[str, Any] = response.json()["slash_command"]
    return command


async def invoke(caller: Caller, channel_id: str, **fields: str) -> Any:
    return await caller.post(f"/api/hooks/slash/{channel_id}", data=fields)


async def count(world: World, table: str) -> int:
    found: int = await world.db.read(lambda tx: tx.scalar(f"SELECT count(*) FROM {table}"))
    return found


async def channel_messages(world: World, channel_id: str | None = None) -> list[dict[str, Any]]:
    response = await world.owner.get(f"/api/channels/{channel_id or world.channel_id}/messages")
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


# Registration.


async def test_register_returns_the_command_and_a_one_time_secret(world: World) -> None:
    bot = await world.bot()
    response = await world.owner.post(
        commands_path(world),
        json={
            "command": "  Deploy ",
            "callback_url": " https://hooks.example.com/deploy?env=1 ",
            "bot_user_id": bot.user_id,
            "description": "  Deploy an environment ",
        },
    )
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"slash_command"}
    command = response.json()["slash_command"]
    assert command["id"].startswith("cmd_") and len(command["id"]) == 30
    assert command["signing_secret"].startswith("ccs_") and len(command["signing_secret"]) == 4 + 52
    assert command == {
        "id": command["id"],
        "workspace_id": world.workspace_id,
        "command": "/deploy",
        "description": "Deploy an environment",
        "callback_url": "https://hooks.example.com/deploy?env=1",
        "signing_secret": command["signing_secret"],
        "bot_user_id": bot.user_id,
        "created_by": world.owner.user_id,
        "created_at": command["created_at"],
    }
    listed = (await world.owner.get(commands_path(world))).json()["slash_commands"]
    assert listed == [{k: v for k, v in command.items() if k != "signing_secret"}]


async def test_list_is_for_members_sorted_and_skips_revoked(world: World) -> None:
    bot = await world.bot()
    zeta = await register(world, command="/zeta", bot_user_id=bot.user_id)
    alpha = await register(world, command="alpha", bot_user_id=bot.user_id)
    gone = await register(world, command="/gone", bot_user_id=bot.user_id)
    assert (await world.owner.post(f"/api/slash-commands/{gone['id']}/revoke")).status_code == 200
    member = await world.user("Reader")
    response = await member.get(commands_path(world))
    assert response.status_code == 200
    listed = response.json()["slash_commands"]
    assert [c["id"] for c in listed] == [alpha["id"], zeta["id"]]
    assert all("signing_secret" not in c for c in listed)
    empty = await world.owner.get(commands_path(world, await world.workspace()))
    assert empty.json() == {"slash_commands": []}
    outsider = await world.user("Outsider", workspace_id=await world.workspace())
    denied = await outsider.get(commands_path(world))
    assert (denied.status_code, denied.json()) == (
        400,
        {"error": "not a member of this workspace"},
    )
    missing = await world.owner.get(commands_path(world, "wsp_01aaaaaaaaaaaaaaaaaaaaaaaa"))
    assert (missing.status_code, missing.json()) == (400, NO_ROWS)
    robot = await world.bot(["bot:admin"])
    refused = await robot.get(commands_path(world))
    assert (refused.status_code, refused.json()) == (
        403,
        {"error": "bot tokens cannot manage slash commands"},
    )


async def test_only_human_managers_register(world: World) -> None:
    bot_id = (await world.bot()).user_id
    moderator = await world.user("Mod", role="moderator")
    created = await register(world, moderator, command="/mod", bot_user_id=bot_id)
    assert created["created_by"] == moderator.user_id
    for role in ("member", "guest"):
        user = await world.user(f"A {role}", role=role)
        response = await user.post(
            commands_path(world),
            json={"command": "/x", "callback_url": "https://e.example/x", "bot_user_id": bot_id},
        )
        assert (response.status_code, response.json()) == (
            403,
            {"error": "workspace manager permission required"},
        )
    robot = await world.bot(["bot:admin"])
    response = await robot.post(
        commands_path(world),
        json={"command": "/x", "callback_url": "https://e.example/x", "bot_user_id": bot_id},
    )
    assert (response.status_code, response.json()) == (
        403,
        {"error": "bot tokens cannot manage slash commands"},
    )
    anon = await world.anon().post(commands_path(world), json={})
    assert anon.status_code == 401
    assert await count(world, "slash_commands") == 1


async def test_registration_validation_writes_nothing(world: World) -> None:
    bot_id = (await world.bot()).user_id
    human = await world.user("Human")
    other_bot = await world.bot(workspace_id=await world.workspace())
    good = {"command": "/ok", "callback_url": "https://e.example/x", "bot_user_id": bot_id}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"command": ""}, "command is required"),
        ({"command": "  "}, "command is required"),
        ({"command": "/"}, "command must be / followed by 1-32 characters of a-z, 0-9, _ or -"),
        (
            {"command": "/two words"},
            "command must be / followed by 1-32 characters of a-z, 0-9, _ or -",
        ),
        (
            {"command": "/" + "x" * 33},
            "command must be / followed by 1-32 characters of a-z, 0-9, _ or -",
        ),
        ({"callback_url": ""}, "callback_url is required"),
        ({"callback_url": "ftp://e.example/x"}, "callback_url must be an http or https URL"),
        ({"callback_url": "/relative"}, "callback_url must be an http or https URL"),
        ({"callback_url": "https://"}, "callback_url must be an http or https URL"),
        ({"callback_url": "https://e.example:99999/"}, "callback_url must be an http or https URL"),
        ({"callback_url": "https://e.exa mple/"}, "callback_url must be an http or https URL"),
        ({"callback_url": "https://u:p@e.example/"}, "callback_url must not contain credentials"),
        (
            {"callback_url": "https://e.example/" + "a" * 2048},
            "callback_url must be at most 2048 characters",
        ),
        ({"bot_user_id": ""}, "bot_user_id is required"),
        ({"bot_user_id": "usr_01aaaaaaaaaaaaaaaaaaaaaaaa"}, NO_ROWS["error"]),
        ({"bot_user_id": human.user_id}, "bot_user_id must refer to a bot in the workspace"),
        ({"bot_user_id": other_bot.user_id}, NO_ROWS["error"]),
        ({"description": "d" * 501}, "description is too long"),
        ({"app_installation_id": "inst-1"}, "app_installation_id must be an app_ id"),
        (
            {"command": 5},
            "json: cannot unmarshal number into Go struct field .command of type string",
        ),
        (
            {"bot_user_id": ["x"]},
            "json: cannot unmarshal array into Go struct field .bot_user_id of type string",
        ),
    ]
    for change, error in cases:
        response = await world.owner.post(commands_path(world), json={**good, **change})
        assert (response.status_code, response.json()) == (400, {"error": error}), change
    empty = await world.owner.post(
        commands_path(world), content=b"", headers={"Content-Type": "application/json"}
    )
    assert (empty.status_code, empty.json()) == (400, {"error": "EOF"})
    assert await count(world, "slash_commands") == 0
    edge = await register(
        world,
        command="/ok",
        bot_user_id=bot_id,
        description="é" * 500,
        app_installation_id="app_01" + "a" * 24,
    )
    assert edge["description"] == "é" * 500
    assert edge["app_installation_id"] == "app_01" + "a" * 24


async def test_one_active_command_name_per_workspace(world: World) -> None:
    bot_id = (await world.bot()).user_id
    first = await register(world, command="/deploy", bot_user_id=bot_id)
    again = await world.owner.post(
        commands_path(world),
        json={"command": "DEPLOY", "callback_url": "https://e.example/x", "bot_user_id": bot_id},
    )
    assert (again.status_code, again.json()) == (
        400,
        {"error": "slash command is already registered"},
    )
    elsewhere = await world.workspace()
    other = await register(world, workspace_id=elsewhere, command="/deploy")
    assert other["workspace_id"] == elsewhere
    await world.owner.post(f"/api/slash-commands/{first['id']}/revoke")
    second = await register(world, command="/deploy", bot_user_id=bot_id)
    assert second["id"] != first["id"]


async def test_revoke_is_idempotent_and_manager_only(world: World) -> None:
    command = await register(world)
    path = f"/api/slash-commands/{command['id']}/revoke"
    member = await world.user("Member")
    denied = await member.post(path)
    assert (denied.status_code, denied.json()) == (
        403,
        {"error": "workspace manager permission required"},
    )
    robot = await world.bot(["bot:admin"])
    assert (await robot.post(path)).status_code == 403
    first = await world.owner.post(path)
    assert first.status_code == 200
    revoked = first.json()["slash_command"]
    assert revoked["revoked_at"] and "signing_secret" not in revoked
    assert revoked["id"] == command["id"]
    second = await world.owner.post(path)
    assert second.json()["slash_command"]["revoked_at"] == revoked["revoked_at"]
    for bad in ("cmd_01aaaaaaaaaaaaaaaaaaaaaaaa", "nope"):
        unknown = await world.owner.post(f"/api/slash-commands/{bad}/revoke")
        assert (unknown.status_code, unknown.json()) == (400, NO_ROWS)


async def test_rotate_secret(world: World) -> None:
    command = await register(world)
    path = f"/api/slash-commands/{command['id']}/rotate-secret"
    member = await world.user("Member")
    assert (await member.post(path)).status_code == 403
    assert (await (await world.bot(["bot:admin"])).post(path)).status_code == 403
    rotated = await world.owner.post(path)
    assert rotated.status_code == 200
    fresh = rotated.json()["slash_command"]
    assert fresh["signing_secret"].startswith("ccs_")
    assert fresh["signing_secret"] != command["signing_secret"]
    assert {k: v for k, v in fresh.items() if k != "signing_secret"} == {
        k: v for k, v in command.items() if k != "signing_secret"
    }
    await world.owner.post(f"/api/slash-commands/{command['id']}/revoke")
    refused = await world.owner.post(path)
    assert (refused.status_code, refused.json()) == (
        400,
        {"error": "cannot rotate a revoked slash command"},
    )
    unknown = await world.owner.post(
        "/api/slash-commands/cmd_01aaaaaaaaaaaaaaaaaaaaaaaa/rotate-secret"
    )
    assert (unknown.status_code, unknown.json()) == (400, NO_ROWS)


@given(
    raw=st.from_regex(r"[a-zA-Z0-9_-]{1,32}", fullmatch=True),
    slash=st.booleans(),
    pad=st.sampled_from(["", " ", "\t "]),
)
def test_command_names_normalise(raw: str, slash: bool, pad: str) -> None:
    assert store.normalize_command(pad + ("/" if slash else "") + raw + pad) == "/" + raw.lower()


@given(raw=st.text(max_size=40))
def test_any_command_name_is_normalised_or_rejected(raw: str) -> None:
    try:
        name = store.normalize_command(raw)
    except Invalid as exc:
        assert exc.message in (
            "command is required",
            "command must be / followed by 1-32 characters of a-z, 0-9, _ or -",
        )
    else:
        assert name == "/" + raw.strip().lower().removeprefix("/")


@given(
    scheme=st.sampled_from(["http", "https", "HTTPS", "ftp", "javascript", ""]),
    host=st.sampled_from(["example.com", "127.0.0.1", "[::1]", "", "exa mple.com"]),
    rest=st.sampled_from(["", "/", "/a?b=c", ":8080/x", ":0", "#frag"]),
)
def test_callback_url_shapes(scheme: str, host: str, rest: str) -> None:
    url = f"{scheme}://{host}{rest}" if scheme else f"{host}{rest}"
    try:
        accepted = store.normalize_callback_url(url)
    except Invalid:
        assert scheme.lower() not in ("http", "https") or host in ("", "exa mple.com")
    else:
        assert accepted == url
        assert scheme.lower() in ("http", "https") and host not in ("", "exa mple.com")


# Invocation of a registered command.


async def setup_command(
    world: World, endpoint: CallbackServer, **body: Any
) -> tuple[dict[str, Any], Caller]:
    bot = await world.bot(name="Deployer")
    command = await register(
        world, bot_user_id=bot.user_id, callback_url=endpoint.url("/slash"), **body
    )
    return command, bot


async def test_in_channel_reply_is_posted_as_the_bot(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    command, bot = await setup_command(world, endpoint)
    endpoint.respond = json_reply(
        200, b'{"response_type": "in_channel", "text": "  Deploying staging  ", "extra": 1}'
    )
    caller = await world.user("Invoker")
    response = await caller.post(
        f"/api/hooks/slash/{world.channel_id}",
        data={"command": " /deploy ", "text": "  staging  "},
        headers={"X-Correlation-ID": "slash-1"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"response_type", "text", "message", "event", "invocation"}
    assert body["response_type"] == "in_channel"
    assert body["text"] == "  Deploying staging  "
    message, event, invocation = body["message"], body["event"], body["invocation"]
    assert message["body"] == "Deploying staging"
    assert message["author_id"] == bot.user_id
    assert message["channel_id"] == world.channel_id
    assert event["type"] == "message.created"
    assert event["payload"]["message_id"] == message["id"]
    assert event["payload"]["author_id"] == bot.user_id
    assert event["payload"]["correlation_id"] == "slash-1"
    # What the callback received.
    request = await endpoint.next_request()
    assert request.path == "/slash"
    assert request.headers["content-type"] == "application/json"
    assert int(request.headers["x-clickclack-timestamp"]) > 1_700_000_000
    payload = json.loads(request.body)
    assert payload == {
        "command_id": command["id"],
        "command": "/deploy",
        "text": "staging",
        "workspace_id": world.workspace_id,
        "channel_id": world.channel_id,
        "user_id": caller.user_id,
        "bot_user_id": bot.user_id,
        "trigger_id": invocation["id"],
    }
    verify_request(command["signing_secret"], request.headers, request.body)
    tampered = request.body.replace(b"staging", b"prod")
    with pytest.raises(InvalidSignature):
        verify_request(command["signing_secret"], request.headers, tampered)
    # The stored invocation.
    assert invocation["id"].startswith("sci_")
    assert invocation == {
        "id": invocation["id"],
        "command_id": command["id"],
        "workspace_id": world.workspace_id,
        "channel_id": world.channel_id,
        "user_id": caller.user_id,
        "text": "staging",
        "payload_json": request.body.decode(),
        "response_status": 200,
        "response_body": '{"response_type": "in_channel", "text": "  Deploying staging  ", "extra": 1}',
        "created_at": invocation["created_at"],
        "completed_at": invocation["completed_at"],
    }
    assert invocation["completed_at"] >= invocation["created_at"]
    stored_message = await world.db.read(
        lambda tx: tx.scalar(
            "SELECT message_id FROM slash_command_invocations WHERE id = ?", (invocation["id"],)
        )
    )
    assert stored_message == message["id"]
    assert [(m["body"], m["author_id"]) for m in await channel_messages(world)] == [
        ("Deploying staging", bot.user_id)
    ]


@pytest.mark.parametrize(
    "reply",
    [
        b'{"text": "done"}',
        b'{"response_type": "", "text": "done"}',
        b'{"response_type": null, "text": "done"}',
    ],
)
async def test_response_type_defaults_to_in_channel(
    private_world: World, endpoint: CallbackServer, reply: bytes
) -> None:
    await setup_command(private_world, endpoint)
    endpoint.respond = json_reply(200, reply)
    response = await invoke(private_world.owner, private_world.channel_id, command="/deploy")
    assert response.status_code == 200, response.text
    assert response.json()["response_type"] == "in_channel"
    assert response.json()["message"]["body"] == "done"


@pytest.mark.parametrize(
    "reply",
    [
        b'{"response_type": "ephemeral", "text": "only you see this"}',
        b'{"response_type": "in_channel", "text": "   "}',
        b'{"response_type": "in_channel"}',
        b"{}",
    ],
)
async def test_nothing_is_posted_for_ephemeral_or_empty_replies(
    private_world: World, endpoint: CallbackServer, reply: bytes
) -> None:
    world = private_world
    await setup_command(world, endpoint)
    endpoint.respond = json_reply(200, reply)
    response = await invoke(world.owner, world.channel_id, command="/deploy", text="x")
    assert response.status_code == 200, response.text
    body = response.json()
    expected = json.loads(reply)
    assert body["response_type"] == (expected.get("response_type") or "in_channel")
    assert body["text"] == expected.get("text", "")
    assert body["message"] == ZERO_MESSAGE
    assert body["event"] == ZERO_EVENT
    assert body["invocation"]["response_status"] == 200
    assert "error" not in body["invocation"]
    assert await channel_messages(world) == []
    assert await count(world, "slash_command_invocations") == 1


@pytest.mark.parametrize(
    ("status", "reply", "error"),
    [
        (500, b'{"text": "boom"}', "callback returned HTTP 500"),
        (404, b"", "callback returned HTTP 404"),
        (200, b"<html>ok</html>", "callback response is not JSON"),
        (200, b"", "callback response is not JSON"),
        (200, b'["in_channel"]', "callback response must be a JSON object"),
        (
            200,
            b'{"response_type": "broadcast", "text": "x"}',
            "callback response_type must be in_channel or ephemeral",
        ),
        (200, b'{"response_type": 1}', "callback response_type must be in_channel or ephemeral"),
        (200, b'{"text": 42}', "callback text must be a string"),
    ],
)
async def test_failed_callbacks_answer_502_and_are_recorded(
    private_world: World, endpoint: CallbackServer, status: int, reply: bytes, error: str
) -> None:
    world = private_world
    await setup_command(world, endpoint)
    endpoint.respond = json_reply(status, reply)
    response = await invoke(world.owner, world.channel_id, command="/deploy", text="go")
    assert response.status_code == 502
    assert response.json() == {"error": f"slash command callback failed: {error}"}
    assert await channel_messages(world) == []
    row = await world.db.read(lambda tx: tx.one("SELECT * FROM slash_command_invocations"))
    assert row["response_status"] == status
    assert row["response_body"] == reply.decode()
    assert row["error"] == error
    assert row["completed_at"] is not None and row["message_id"] is None


async def test_callback_timeout_answers_502(
    private_world: World, endpoint: CallbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = private_world
    await setup_command(world, endpoint)
    never = trio.Event()

    async def hang(_: Received) -> Reply:
        await never.wait()
        return 200, {}, b"{}"

    endpoint.respond = hang
    monkeypatch.setattr(callbacks, "CALLBACK_TIMEOUT", 0.3)
    with trio.fail_after(10):
        response = await invoke(world.owner, world.channel_id, command="/deploy")
    assert (response.status_code, response.json()) == (
        502,
        {"error": "slash command callback failed: callback timed out after 0.3s"},
    )
    assert len(endpoint.received) == 1
    error = await world.db.read(lambda tx: tx.scalar("SELECT error FROM slash_command_invocations"))
    assert error == "callback timed out after 0.3s"


async def test_loopback_callback_is_refused_when_private_targets_are_not_allowed(
    world: World, endpoint: CallbackServer
) -> None:
    assert not world.running.server.config.callbacks_may_target_private
    # Registered while private targets were allowed (or by the operator's admin command): the
    # call-time guard still refuses it.
    bot = await world.bot(name="Deployer")
    await world.db.write(
        lambda tx: store.create_slash_command(
            tx,
            world.workspace_id,
            world.owner.user_id,
            command="/deploy",
            callback_url=endpoint.url("/slash"),
            bot_user_id=bot.user_id,
        )
    )
    response = await invoke(world.owner, world.channel_id, command="/deploy", text="now")
    assert response.status_code == 502
    assert response.json() == {
        "error": "slash command callback failed: callback address 127.0.0.1 of 127.0.0.1 "
        "is not public (loopback)"
    }
    assert endpoint.received == []
    assert await channel_messages(world) == []
    row = await world.db.read(lambda tx: tx.one("SELECT * FROM slash_command_invocations"))
    assert row["response_status"] == 0
    assert "is not public (loopback)" in row["error"]


ODD_HOSTS = [
    ("127.0.0.1", "loopback"),
    ("0177.0.0.1", "loopback"),
    ("0x7f.1", "loopback"),
    ("127.1", "loopback"),
    ("2130706433", "loopback"),
    ("[::1]", "loopback"),
    ("[::ffff:10.0.0.1]", "private IPv4 address 10.0.0.1 embedded in IPv6"),
    ("10.1", "private"),
    ("0", "unspecified"),
    ("localhost", "loopback"),
    ("api.localhost", "loopback"),
]


@pytest.mark.parametrize(("host", "reason"), ODD_HOSTS)
async def test_registration_refuses_what_the_call_time_guard_would(
    world: World, host: str, reason: str
) -> None:
    """An address in the URL, in any form a resolver reads without DNS, is judged at
    registration by the call-time rule (octal, hex, short and integer IPv4 forms included)."""
    bot = await world.bot()
    url = f"http://{host}:8080/slash"
    for path, body in (
        (commands_path(world), {"command": "/odd", "bot_user_id": bot.user_id}),
        (
            f"/api/workspaces/{world.workspace_id}/event-subscriptions",
            {"event_types": ["message.created"]},
        ),
    ):
        response = await world.owner.post(path, json={**body, "callback_url": url})
        assert response.status_code == 400, (path, response.text)
        error = response.json()["error"]
        assert error.startswith("callback_url host ") and error.endswith(f"({reason})"), error
    assert await world.db.read(lambda tx: tx.scalar("SELECT count(*) FROM slash_commands")) == 0
    assert (
        await world.db.read(lambda tx: tx.scalar("SELECT count(*) FROM event_subscriptions")) == 0
    )


@pytest.mark.parametrize(("host", "reason"), ODD_HOSTS)
async def test_registration_allows_private_hosts_where_the_deployment_does(
    private_world: World, host: str, reason: str
) -> None:
    bot = await private_world.bot()
    response = await private_world.owner.post(
        commands_path(private_world),
        json={"command": "/odd", "bot_user_id": bot.user_id, "callback_url": f"http://{host}/x"},
    )
    assert response.status_code == 201, response.text


@given(st.ip_addresses(v=4))
def test_literal_address_reads_every_ipv4_form(address: Any) -> None:
    number = int(address)
    for form in (str(address), str(number), hex(number), "0" + oct(number)[2:]):
        assert callbacks.literal_address(form) == address, form
    assert callbacks.literal_address("hooks.example.com") is None
    assert callbacks.literal_address("deadbeef") is None


async def test_rotated_secret_signs_the_next_call(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    command, _ = await setup_command(world, endpoint)
    rotated = await world.owner.post(f"/api/slash-commands/{command['id']}/rotate-secret")
    secret = rotated.json()["slash_command"]["signing_secret"]
    endpoint.respond = json_reply(200, b'{"response_type": "ephemeral", "text": "ok"}')
    assert (await invoke(world.owner, world.channel_id, command="/deploy")).status_code == 200
    request = await endpoint.next_request()
    verify_request(secret, request.headers, request.body)
    with pytest.raises(InvalidSignature):
        verify_request(command["signing_secret"], request.headers, request.body)


async def test_command_matching_is_case_insensitive_and_slash_optional(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    command, _ = await setup_command(world, endpoint)
    endpoint.respond = json_reply(200, b'{"response_type": "ephemeral", "text": "ok"}')
    for name in ("/DEPLOY", "deploy", " Deploy "):
        response = await invoke(world.owner, world.channel_id, command=name)
        assert response.status_code == 200, (name, response.text)
        assert json.loads((await endpoint.next_request()).body)["command_id"] == command["id"]
    assert await count(world, "slash_command_invocations") == 3


async def test_form_fields_come_from_body_then_query(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    await setup_command(world, endpoint)
    endpoint.respond = json_reply(200, b'{"response_type": "ephemeral", "text": "ok"}')
    path = f"/api/hooks/slash/{world.channel_id}"
    by_query = await world.owner.post(path, params={"command": "/deploy", "text": "from query"})
    assert by_query.status_code == 200, by_query.text
    assert json.loads((await endpoint.next_request()).body)["text"] == "from query"
    mixed = await world.owner.post(
        path, params={"command": "/deploy", "text": "query text"}, data={"text": "body text"}
    )
    assert mixed.status_code == 200
    assert json.loads((await endpoint.next_request()).body)["text"] == "body text"
    encoded = await world.owner.post(
        path,
        content=b"command=%2Fdeploy&text=a+b%26c%3D%C3%A9",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert encoded.status_code == 200
    assert json.loads((await endpoint.next_request()).body)["text"] == "a b&c=é"


async def test_bot_tokens_invoke_with_messages_write(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    command, _ = await setup_command(world, endpoint)
    endpoint.respond = json_reply(200, b'{"text": "bot said"}')
    caller_bot = await world.bot(["messages:write"])
    response = await invoke(caller_bot, world.channel_id, command="/deploy")
    assert response.status_code == 200, response.text
    assert json.loads((await endpoint.next_request()).body)["user_id"] == caller_bot.user_id
    assert response.json()["invocation"]["user_id"] == caller_bot.user_id
    reader = await world.bot(["bot:read"])
    missing = await invoke(reader, world.channel_id, command="/deploy")
    assert (missing.status_code, missing.json()) == (
        403,
        {"error": "bot token is missing scope messages:write"},
    )
    foreign = await world.bot(workspace_id=await world.workspace())
    crossed = await invoke(foreign, world.channel_id, command="/deploy")
    assert (crossed.status_code, crossed.json()) == (
        403,
        {"error": "bot token cannot access this workspace"},
    )
    assert len(endpoint.received) == 1
    assert command["id"]


async def test_invocation_needs_write_authority(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    await setup_command(world, endpoint)
    outsider = await world.user("Outsider", workspace_id=await world.workspace())
    hidden = await invoke(outsider, world.channel_id, command="/deploy")
    assert hidden.status_code == 400
    unknown = await invoke(world.owner, "chn_01aaaaaaaaaaaaaaaaaaaaaaaa", command="/deploy")
    assert (unknown.status_code, unknown.json()) == (400, NO_ROWS)
    guest = await world.user("Guest", role="guest")
    not_guest_channel = await invoke(guest, world.channel_id, command="/deploy")
    assert not_guest_channel.status_code == 400
    blocked = await world.user("Blocked")
    await world.db.write(
        lambda tx: tx.execute(
            "INSERT INTO workspace_member_moderation (workspace_id, user_id, blocked_at) "
            "VALUES (?, ?, '2020-01-01T00:00:00.000000000Z')",
            (world.workspace_id, blocked.user_id),
        )
    )
    restricted = await invoke(blocked, world.channel_id, command="/deploy")
    assert (restricted.status_code, restricted.json()) == (
        403,
        {"error": "moderation restriction"},
    )
    anon = await world.anon().post(f"/api/hooks/slash/{world.channel_id}", data={"text": "x"})
    assert anon.status_code == 401
    assert endpoint.received == []
    assert await count(world, "slash_command_invocations") == 0


async def test_guest_budget_counts_invocations(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    guest_channel = await world.db.write(
        lambda tx: insert_channel(tx, workspace_id=world.workspace_id, name="guest")
    )
    await setup_command(world, endpoint)
    endpoint.respond = json_reply(500, b"")
    guest = await world.user("Visitor", role="guest")
    for _ in range(3):
        failed = await invoke(guest, guest_channel, command="/deploy")
        assert failed.status_code == 502  # the callback failed, the budget is spent anyway
    over = await invoke(guest, guest_channel, command="/deploy")
    assert (over.status_code, over.json()) == (429, {"error": "waiting room post limit reached"})
    assert len(endpoint.received) == 3
    legacy = await invoke(guest, guest_channel, command="/unregistered")
    assert legacy.status_code == 429


async def test_reply_that_cannot_be_posted_answers_502(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    command, bot = await setup_command(world, endpoint)
    await world.db.write(
        lambda tx: tx.execute(
            "DELETE FROM workspace_members WHERE workspace_id = ? AND user_id = ?",
            (world.workspace_id, bot.user_id),
        )
    )
    endpoint.respond = json_reply(200, b'{"text": "hello"}')
    response = await invoke(world.owner, world.channel_id, command="/deploy")
    assert (response.status_code, response.json()) == (
        502,
        {"error": "slash command response could not be posted: sql: no rows in result set"},
    )
    assert await channel_messages(world) == []
    row = await world.db.read(lambda tx: tx.one("SELECT * FROM slash_command_invocations"))
    assert row["response_status"] == 200 and row["message_id"] is None
    assert row["error"] == "slash command response could not be posted: sql: no rows in result set"
    assert command["id"] == row["command_id"]


# The legacy (unregistered) path.


async def test_unregistered_command_posts_as_the_caller(world: World) -> None:
    member = await world.user("Scripter")
    response = await invoke(member, world.channel_id, command=" /unknown ", text=" do  it ")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"response_type", "text", "message", "event"}
    assert body["response_type"] == "in_channel"
    assert body["text"] == "/unknown do  it"
    assert body["message"]["body"] == "/unknown do  it"
    assert body["message"]["author_id"] == member.user_id
    assert body["event"]["type"] == "message.created"
    only_text = await invoke(member, world.channel_id, text="plain words")
    assert only_text.json()["text"] == "plain words"
    only_command = await invoke(member, world.channel_id, command="/ping")
    assert only_command.json()["message"]["body"] == "/ping"
    assert [m["body"] for m in await channel_messages(world)] == [
        "/unknown do  it",
        "plain words",
        "/ping",
    ]
    assert await count(world, "slash_command_invocations") == 0


async def test_revoked_or_foreign_commands_fall_back_to_legacy(
    private_world: World, endpoint: CallbackServer
) -> None:
    world = private_world
    command, _ = await setup_command(world, endpoint)
    await world.owner.post(f"/api/slash-commands/{command['id']}/revoke")
    revoked = await invoke(world.owner, world.channel_id, command="/deploy", text="x")
    assert revoked.status_code == 201
    assert revoked.json()["message"]["author_id"] == world.owner.user_id
    elsewhere = await world.workspace()
    await register(world, workspace_id=elsewhere, command="/other", callback_url=endpoint.url())
    foreign = await invoke(world.owner, world.channel_id, command="/other")
    assert foreign.status_code == 201
    assert endpoint.received == []


@pytest.mark.parametrize(
    "fields",
    [{}, {"command": "", "text": ""}, {"command": "  ", "text": "\n\t"}, {"other": "x"}],
)
async def test_empty_invocations_are_rejected(world: World, fields: dict[str, str]) -> None:
    response = await invoke(world.owner, world.channel_id, **fields)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "slash command text is required"},
    )
    assert await channel_messages(world) == []


async def test_json_bodies_are_not_form_fields(world: World) -> None:
    response = await world.owner.post(
        f"/api/hooks/slash/{world.channel_id}", json={"command": "/x", "text": "y"}
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": "slash command text is required"},
    )


async def test_oversized_form_is_413(world: World) -> None:
    response = await world.owner.post(
        f"/api/hooks/slash/{world.channel_id}", data={"text": "x" * (1 << 20)}
    )
    assert response.status_code == 413
    assert await channel_messages(world) == []


async def test_removing_or_deleting_the_bot_retires_its_commands(world: World) -> None:
    removed_bot = await world.bot()
    deleted_bot = await world.bot()
    await register(world, command="/stays-out", bot_user_id=removed_bot.user_id)
    await register(world, command="/gone", bot_user_id=deleted_bot.user_id)
    listed = (await world.owner.get(commands_path(world))).json()["slash_commands"]
    assert sorted(c["command"] for c in listed) == ["/gone", "/stays-out"]
    removal = await world.owner.delete(
        f"/api/workspaces/{world.workspace_id}/bots/{removed_bot.user_id}/membership"
    )
    assert removal.status_code == 204
    deletion = await world.owner.delete(f"/api/bots/{deleted_bot.user_id}")
    assert deletion.status_code == 200
    assert (await world.owner.get(commands_path(world))).json()["slash_commands"] == []
    # An unregistered (retired) command falls back to the legacy path: posted as the caller.
    legacy = await invoke(world.owner, world.channel_id, command="/gone", text="now")
    assert legacy.status_code == 201
    assert legacy.json()["text"] == "/gone now"
