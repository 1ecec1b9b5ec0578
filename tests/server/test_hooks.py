"""Inbound hooks and the outbound callback client: the Mattermost-shaped webhook (protocol 3.14),
the SSRF guard and transport rules of callbacks (3.15), and the shared signature helper.

The fake callback endpoint defined here (:class:`CallbackServer`) and :func:`integration_world`
are reused by the slash-command and event-subscription tests. Every callback in these tests
targets 127.0.0.1; nothing is ever sent to another address.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from hypothesis import given, settings
from hypothesis import strategies as st

from clickclack_sdk.signing import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InvalidSignature,
    is_valid_signature,
    sign,
    signature_headers,
    verify_request,
    verify_signature,
)
from clickclack_server import callbacks, deliveries
from clickclack_server.config import Config
from clickclack_server.runner import Running, run_server
from clickclack_server.store import sessions as session_store
from clickclack_server.store import users as user_store
from tests.conftest import Caller, World

# A fake callback endpoint.


@attrs.frozen
class Received:
    """One request the fake endpoint received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, dict[str, str], bytes]
Responder = Callable[[Received], Awaitable[Reply]]


def json_reply(status: int = 200, body: bytes = b"{}") -> Responder:
    async def respond(_: Received) -> Reply:
        return status, {"content-type": "application/json"}, body

    return respond


class CallbackServer:
    """A tiny ASGI app on a free loopback port that records requests and answers as told."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.respond: Responder = json_reply()
        self.port = 0
        self._send, self._receive = trio.open_memory_channel[Received](1000)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def next_request(self) -> Received:
        with trio.fail_after(10):
            return await self._receive.receive()

    def pending(self) -> int:
        """Requests received but not yet taken with :meth:`next_request`."""
        return self._receive.statistics().current_buffer_used

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = Received(
            method=scope["method"],
            path=scope["path"],
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=body,
        )
        self.received.append(request)
        self._send.send_nowait(request)
        status, headers, content = await self.respond(request)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": content})


async def open_callback_server(nursery: trio.Nursery) -> CallbackServer:
    endpoint = CallbackServer()
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = logging.getLogger("tests.callback_server")
    binds: list[str] = await nursery.start(
        lambda task_status: hypercorn_serve(endpoint, config, task_status=task_status)
    )
    endpoint.port = int(binds[0].rsplit(":", 1)[1])
    return endpoint


@pytest.fixture
async def endpoint(nursery: trio.Nursery) -> CallbackServer:
    return await open_callback_server(nursery)


async def integration_world(
    nursery: trio.Nursery, tmp_path: Path, **config: Any
) -> AsyncIterator[World]:
    """A ``World`` on a server with the given config and event delivery running."""
    running: Running = await nursery.start(
        run_server, Config(addr="127.0.0.1:0", data=str(tmp_path / "data"), **config)
    )
    service = deliveries.install(running.server)
    if not service.running:
        await nursery.start(service.run)
    boot = await running.server.db.write(
        user_store.bootstrap, name="Owner", email="owner@example.com"
    )
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
        session = await running.server.db.write(session_store.create_session, boot.user_id)
        owner = Caller(http, boot.user_id, session.token)
        yield World(running, http, tmp_path / "data", boot.workspace_id, boot.channel_id, owner)


@pytest.fixture
async def private_world(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[World]:
    """A world whose callbacks may target loopback (what a local test endpoint needs)."""
    async for world in integration_world(nursery, tmp_path, allow_private_callbacks=True):
        yield world


# Mattermost-shaped incoming webhook.


def hook_path(channel_id: str) -> str:
    return f"/api/hooks/mattermost/{channel_id}"


async def channel_bodies(world: World, channel_id: str | None = None) -> list[str]:
    response = await world.owner.get(f"/api/channels/{channel_id or world.channel_id}/messages")
    assert response.status_code == 200, response.text
    return [m["body"] for m in response.json()["messages"]]


async def test_mattermost_hook_posts_text_as_the_caller(world: World) -> None:
    response = await world.owner.post(
        hook_path(world.channel_id),
        json={
            "text": "  deploy **done** ✅  ",
            "username": "ci-bot",
            "icon_url": "https://example.com/icon.png",
            "icon_emoji": ":rocket:",
            "channel": "town-square",
            "attachments": [{"fallback": "x", "text": "ignored"}],
            "props": {"card": "ignored"},
        },
        headers={"X-Correlation-ID": "hook-7"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"message", "event"}
    message, event = body["message"], body["event"]
    assert message["body"] == "deploy **done** ✅"
    assert message["author_id"] == world.owner.user_id
    assert message["channel_id"] == world.channel_id
    assert message["body_format"] == "markdown"
    assert "nonce" not in message
    assert event["type"] == "message.created"
    assert event["channel_id"] == world.channel_id
    assert event["payload"] == {
        "message_id": message["id"],
        "author_id": world.owner.user_id,
        "correlation_id": "hook-7",
    }
    assert await channel_bodies(world) == ["deploy **done** ✅"]


async def test_mattermost_hook_has_no_idempotency(world: World) -> None:
    for _ in range(2):
        response = await world.owner.post(
            hook_path(world.channel_id), json={"text": "same", "nonce": "n-1"}
        )
        assert response.status_code == 201
        assert "nonce" not in response.json()["message"]
    assert await channel_bodies(world) == ["same", "same"]


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"text": ""}, "message body is required"),
        ({"text": " \n\t "}, "message body is required"),
        ({"username": "only"}, "message body is required"),
        ({"text": None}, "message body is required"),
        ({"text": 5}, "json: cannot unmarshal number into Go struct field .text of type string"),
        ({"text": ["a"]}, "json: cannot unmarshal array into Go struct field .text of type string"),
    ],
)
async def test_mattermost_hook_rejects_missing_text(
    world: World, payload: dict[str, Any], error: str
) -> None:
    response = await world.owner.post(hook_path(world.channel_id), json=payload)
    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert await channel_bodies(world) == []


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "EOF"),
        (b"[1]", "json: cannot unmarshal array into Go value of type request"),
        (b'{"text": "a"} {}', "json request body must contain a single JSON value"),
    ],
)
async def test_mattermost_hook_rejects_bad_json(world: World, content: bytes, error: str) -> None:
    response = await world.owner.post(
        hook_path(world.channel_id),
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert await channel_bodies(world) == []


async def test_mattermost_hook_auth_and_access(world: World) -> None:
    anon = await world.anon().post(hook_path(world.channel_id), json={"text": "x"})
    assert anon.status_code == 401
    unknown = await world.owner.post(
        hook_path("chn_01aaaaaaaaaaaaaaaaaaaaaaaa"), json={"text": "x"}
    )
    assert (unknown.status_code, unknown.json()) == (400, {"error": "sql: no rows in result set"})
    malformed = await world.owner.post(hook_path("not-an-id"), json={"text": "x"})
    assert malformed.status_code == 400
    other_ws = await world.workspace()
    outsider = await world.user("Outsider", workspace_id=other_ws)
    denied = await outsider.post(hook_path(world.channel_id), json={"text": "x"})
    assert denied.status_code == 400
    guest = await world.user("Guesty", role="guest")
    hidden = await guest.post(hook_path(world.channel_id), json={"text": "x"})
    assert hidden.status_code == 400
    assert await channel_bodies(world) == []


async def test_mattermost_hook_bot_scopes(world: World) -> None:
    writer = await world.bot(["messages:write"])
    ok = await writer.post(hook_path(world.channel_id), json={"text": "from bot"})
    assert ok.status_code == 201, ok.text
    assert ok.json()["message"]["author_id"] == writer.user_id
    reader = await world.bot(["bot:read"])
    missing = await reader.post(hook_path(world.channel_id), json={"text": "nope"})
    assert (missing.status_code, missing.json()) == (
        403,
        {"error": "bot token is missing scope messages:write"},
    )
    other_ws = await world.workspace()
    foreign = await world.bot(["bot:write"], workspace_id=other_ws)
    crossed = await foreign.post(hook_path(world.channel_id), json={"text": "nope"})
    assert (crossed.status_code, crossed.json()) == (
        403,
        {"error": "bot token cannot access this workspace"},
    )
    assert await channel_bodies(world) == ["from bot"]


async def test_mattermost_hook_respects_moderation(world: World) -> None:
    member = await world.user("Muted")
    await world.db.write(
        lambda tx: tx.execute(
            "INSERT INTO workspace_member_moderation (workspace_id, user_id, blocked_at) "
            "VALUES (?, ?, '2020-01-01T00:00:00.000000000Z')",
            (world.workspace_id, member.user_id),
        )
    )
    response = await member.post(hook_path(world.channel_id), json={"text": "hi"})
    assert (response.status_code, response.json()) == (403, {"error": "moderation restriction"})


# The SSRF guard's decision function.

REFUSED = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("169.254.169.254", "link-local"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.8", "reserved"),
    ("192.0.2.10", "documentation"),
    ("192.88.99.1", "reserved"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.99", "documentation"),
    ("224.0.0.251", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("febf::1", "link-local"),
    ("fec0::1", "site-local"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("100::1", "reserved"),
    ("::5", "reserved"),
    ("5f00::1", "reserved"),
    ("64:ff9b:1::1", "reserved"),
    ("2001:db8::1", "documentation"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"),
    ("2001:2::1", "reserved"),
    ("2001:10::1", "reserved"),
    ("3fff::1", "documentation"),
    ("::ffff:127.0.0.1", "loopback IPv4 address 127.0.0.1 embedded in IPv6"),
    ("::ffff:10.1.2.3", "private IPv4 address 10.1.2.3 embedded in IPv6"),
    ("::ffff:169.254.169.254", "link-local IPv4 address 169.254.169.254 embedded in IPv6"),
    ("::ffff:100.64.1.1", "carrier-grade NAT IPv4 address 100.64.1.1 embedded in IPv6"),
    ("::ffff:0.0.0.0", "unspecified IPv4 address 0.0.0.0 embedded in IPv6"),
    ("64:ff9b::7f00:1", "loopback IPv4 address 127.0.0.1 embedded in IPv6"),
    ("64:ff9b::a9fe:a9fe", "link-local IPv4 address 169.254.169.254 embedded in IPv6"),
    ("2002:7f00:1::1", "loopback IPv4 address 127.0.0.1 embedded in IPv6"),
    ("2002:c0a8:101::", "private IPv4 address 192.168.1.1 embedded in IPv6"),
    ("localhost", "not an IP address"),
    ("", "not an IP address"),
    ("127.1", "not an IP address"),
]
ALLOWED = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.1",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
    "[2606:4700:4700::1111]",
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_guard_refuses_non_public_addresses(address: str, reason: str) -> None:
    assert callbacks.address_refusal(address) == reason
    assert not callbacks.is_public_address(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_guard_allows_public_unicast(address: str) -> None:
    assert callbacks.address_refusal(address) is None
    assert callbacks.is_public_address(address)


def test_guard_accepts_address_objects() -> None:
    assert callbacks.address_refusal(ipaddress.ip_address("10.0.0.1")) == "private"
    assert callbacks.address_refusal(ipaddress.ip_address("2606:4700::1")) is None


@settings(max_examples=400)
@given(st.ip_addresses(v=4))
def test_ipv4_verdicts_are_conservative_and_survive_mapping(address: ipaddress.IPv4Address) -> None:
    verdict = callbacks.address_refusal(address)
    if verdict is None:
        assert address.is_global and not address.is_multicast
    mapped = ipaddress.IPv6Address("::ffff:" + str(address))
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address))
    for embedded in (mapped, nat64):
        assert (callbacks.address_refusal(embedded) is None) == (verdict is None)
        assert callbacks.address_refusal(str(embedded)) == callbacks.address_refusal(embedded)


@settings(max_examples=400)
@given(st.ip_addresses(v=6))
def test_ipv6_verdicts_are_conservative(address: ipaddress.IPv6Address) -> None:
    if callbacks.address_refusal(address) is not None:
        return
    embedded = (
        address.ipv4_mapped
        or address.sixtofour
        or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
            if address in ipaddress.IPv6Network("64:ff9b::/96")
            else None
        )
    )
    if embedded is not None:
        assert embedded.is_global and not embedded.is_multicast
    else:
        assert address in ipaddress.IPv6Network("2000::/3")
        assert address.is_global and not address.is_multicast


def fake_resolver(
    monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]
) -> list[tuple[str, int]]:
    """Make ``callbacks.resolve_host`` answer from ``answers``; returns the lookups made."""
    lookups: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> list[str]:
        lookups.append((host, port))
        await trio.lowlevel.checkpoint()
        if host not in answers:
            raise OSError(f"no such host {host}")
        return answers[host]

    monkeypatch.setattr(callbacks, "resolve_host", resolve)
    return lookups


async def test_mixed_answers_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_resolver(
        monkeypatch,
        {
            "mixed.test": ["93.184.216.34", "10.0.0.5"],
            "mapped.test": ["2606:4700::1", "::ffff:127.0.0.1"],
            "public.test": ["93.184.216.34", "2606:4700::1"],
            "empty.test": [],
        },
    )
    with pytest.raises(callbacks.CallbackRefused, match=r"10\.0\.0\.5 of mixed\.test .*private"):
        await callbacks.vetted_addresses("mixed.test", 443, allow_private=False)
    with pytest.raises(callbacks.CallbackRefused, match="loopback IPv4"):
        await callbacks.vetted_addresses("mapped.test", 443, allow_private=False)
    with pytest.raises(callbacks.CallbackRefused, match="could not be resolved"):
        await callbacks.vetted_addresses("missing.test", 443, allow_private=False)
    with pytest.raises(callbacks.CallbackRefused, match="did not resolve"):
        await callbacks.vetted_addresses("empty.test", 443, allow_private=False)
    assert await callbacks.vetted_addresses("public.test", 443, allow_private=False) == [
        "93.184.216.34",
        "2606:4700::1",
    ]
    assert await callbacks.vetted_addresses("mixed.test", 443, allow_private=True) == [
        "93.184.216.34",
        "10.0.0.5",
    ]


async def test_ip_literals_are_judged_without_resolving(monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = fake_resolver(monkeypatch, {})
    with pytest.raises(callbacks.CallbackRefused, match="loopback"):
        await callbacks.vetted_addresses("127.0.0.1", 80, allow_private=False)
    with pytest.raises(callbacks.CallbackRefused, match="loopback"):
        await callbacks.vetted_addresses("::1", 80, allow_private=False)
    assert await callbacks.vetted_addresses("8.8.8.8", 80, allow_private=False) == ["8.8.8.8"]
    assert await callbacks.vetted_addresses("127.0.0.1", 80, allow_private=True) == ["127.0.0.1"]
    assert lookups == []


async def test_real_resolution_of_localhost_is_refused() -> None:
    with pytest.raises(callbacks.CallbackRefused, match="loopback"):
        await callbacks.vetted_addresses("localhost", 80, allow_private=False)
    found = await callbacks.vetted_addresses("localhost", 80, allow_private=True)
    assert found and all(ipaddress.ip_address(a).is_loopback for a in found)


# The callback client's transport rules (against a loopback endpoint).

SECRET = "ccs_test-secret"


@pytest.mark.parametrize(
    ("url", "address", "target", "host", "sni"),
    [
        (
            "https://hooks.example.com/x?a=1",
            "93.184.216.34",
            "https://93.184.216.34/x?a=1",
            "hooks.example.com",
            "hooks.example.com",
        ),
        (
            "https://Hooks.Example.com:8443/x",
            "2606:4700::1",
            "https://[2606:4700::1]:8443/x",
            "hooks.example.com:8443",
            "hooks.example.com",
        ),
        (
            "https://bücher.example/",
            "8.8.8.8",
            "https://8.8.8.8/",
            "xn--bcher-kva.example",
            "xn--bcher-kva.example",
        ),
        (
            "http://hooks.example.com:8080/x",
            "8.8.8.8",
            "http://8.8.8.8:8080/x",
            "hooks.example.com:8080",
            None,
        ),
        ("https://8.8.4.4/x", "8.8.4.4", "https://8.8.4.4/x", "8.8.4.4", None),
    ],
)
def test_requests_target_the_vetted_address_but_keep_host_and_tls_name(
    url: str, address: str, target: str, host: str, sni: str | None
) -> None:
    rewritten, headers, extensions = callbacks._target(httpx.URL(url), address)
    assert str(rewritten) == target
    assert headers == {"Host": host}
    assert extensions == ({"sni_hostname": sni} if sni else {})


async def test_post_signed_sends_signed_json(endpoint: CallbackServer) -> None:
    endpoint.respond = json_reply(200, b'{"ok": true}')
    body = b'{"hello": "world"}'
    result = await callbacks.post_signed(
        endpoint.url("/cb?x=1"),
        body,
        secret=SECRET,
        allow_private=True,
        headers={EVENT_ID_HEADER: "evt_1"},
    )
    assert result == callbacks.CallbackResult(status=200, body=b'{"ok": true}', error="")
    assert result.ok
    request = await endpoint.next_request()
    assert request.method == "POST"
    assert request.path == "/cb"
    assert request.body == body
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-clickclack-event-id"] == "evt_1"
    assert request.headers["user-agent"].startswith("ClickClack-Callbacks/")
    assert request.headers["host"] == f"127.0.0.1:{endpoint.port}"
    verify_request(SECRET, request.headers, request.body)
    assert request.headers["x-clickclack-signature"] == sign(
        SECRET, request.headers["x-clickclack-timestamp"], body
    )
    with pytest.raises(InvalidSignature):
        verify_request(SECRET, request.headers, body + b" ")
    with pytest.raises(InvalidSignature):
        verify_request("ccs_other", request.headers, body)


async def test_connection_goes_to_the_vetted_address_with_the_original_host(
    endpoint: CallbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ".invalid" can never resolve: reaching the endpoint proves the server connected to the
    # address it vetted and did not look the name up a second time.
    lookups = fake_resolver(monkeypatch, {"hooks.example.invalid": ["127.0.0.1"]})
    result = await callbacks.post_signed(
        f"http://hooks.example.invalid:{endpoint.port}/deliver",
        b"{}",
        secret=SECRET,
        allow_private=True,
    )
    assert result.ok, result.error
    request = await endpoint.next_request()
    assert request.headers["host"] == f"hooks.example.invalid:{endpoint.port}"
    assert request.path == "/deliver"
    assert lookups == [("hooks.example.invalid", endpoint.port)]


async def test_refused_targets_receive_nothing(
    endpoint: CallbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_resolver(monkeypatch, {"sneaky.test": ["127.0.0.1"]})
    for url in (endpoint.url(), f"http://sneaky.test:{endpoint.port}/hook"):
        result = await callbacks.post_signed(url, b"{}", secret=SECRET, allow_private=False)
        assert not result.ok
        assert result.status == 0
        assert "is not public (loopback)" in result.error
    assert endpoint.received == []


async def test_redirects_are_not_followed(endpoint: CallbackServer) -> None:
    async def redirect(request: Received) -> Reply:
        if request.path == "/hook":
            return 302, {"location": endpoint.url("/elsewhere")}, b""
        return 200, {}, b"{}"

    endpoint.respond = redirect
    result = await callbacks.post_signed(endpoint.url(), b"{}", secret=SECRET, allow_private=True)
    assert result.status == 302
    assert result.error == "callback returned HTTP 302 (redirects are not followed)"
    assert [r.path for r in endpoint.received] == ["/hook"]


async def test_proxy_environment_is_ignored(
    nursery: trio.Nursery, endpoint: CallbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = await open_callback_server(nursery)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy.url(""))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    result = await callbacks.post_signed(endpoint.url(), b"{}", secret=SECRET, allow_private=True)
    assert result.ok, result.error
    assert len(endpoint.received) == 1
    assert proxy.received == []


async def test_errors_and_large_bodies(endpoint: CallbackServer) -> None:
    endpoint.respond = json_reply(503, b'{"error": "down"}')
    failed = await callbacks.post_signed(endpoint.url(), b"{}", secret=SECRET, allow_private=True)
    assert (failed.status, failed.body, failed.error) == (
        503,
        b'{"error": "down"}',
        "callback returned HTTP 503",
    )
    endpoint.respond = json_reply(200, b"x" * (callbacks.MAX_RESPONSE_BYTES + 1))
    large = await callbacks.post_signed(endpoint.url(), b"{}", secret=SECRET, allow_private=True)
    assert large.error == f"callback response exceeds {callbacks.MAX_RESPONSE_BYTES} bytes"
    assert len(large.body) == callbacks.MAX_RESPONSE_BYTES
    endpoint.respond = json_reply(200, b"y" * callbacks.MAX_RESPONSE_BYTES)
    exact = await callbacks.post_signed(endpoint.url(), b"{}", secret=SECRET, allow_private=True)
    assert exact.ok and len(exact.body) == callbacks.MAX_RESPONSE_BYTES


async def test_timeout_and_connection_failures(
    endpoint: CallbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    never = trio.Event()

    async def hang(_: Received) -> Reply:
        await never.wait()
        return 200, {}, b"{}"

    endpoint.respond = hang
    monkeypatch.setattr(callbacks, "CALLBACK_TIMEOUT", 0.3)
    with trio.fail_after(5):
        slow = await callbacks.post_signed(endpoint.url(), b"{}", secret=SECRET, allow_private=True)
    assert slow == callbacks.CallbackResult(error="callback timed out after 0.3s")
    # A port nobody listens on: bind one, note it, close it.
    probe = trio.socket.socket()
    await probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    refused = await callbacks.post_signed(
        f"http://127.0.0.1:{port}/", b"{}", secret=SECRET, allow_private=True
    )
    assert refused.status == 0
    assert refused.error.startswith("callback connection to 127.0.0.1 failed")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://127.0.0.1/x", "callback URL must be an http or https URL"),
        ("http:///nohost", "callback URL must be an http or https URL"),
        ("http://[::1/", "callback URL is invalid"),
    ],
)
async def test_unusable_urls_fail_cleanly(url: str, error: str) -> None:
    result = await callbacks.post_signed(url, b"{}", secret=SECRET, allow_private=True)
    assert not result.ok and result.status == 0
    assert result.error.startswith(error)


# The signature helper.


def test_signature_round_trip_and_tampering() -> None:
    body = b'{"command":"/deploy"}'
    headers = signature_headers("ccs_a", body, timestamp=1_700_000_000)
    assert headers[TIMESTAMP_HEADER] == "1700000000"
    assert headers[SIGNATURE_HEADER].startswith("sha256=")
    assert len(headers[SIGNATURE_HEADER]) == len("sha256=") + 64
    now = 1_700_000_010.0
    stamp, signature = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    verify_signature("ccs_a", body, timestamp=stamp, signature=signature, now=now)
    assert is_valid_signature(
        ["ccs_old", "ccs_a"], body, timestamp=stamp, signature=signature, now=now
    )
    bad = [
        ("ccs_a", body + b"x", stamp, signature, "does not match"),
        ("ccs_b", body, stamp, signature, "does not match"),
        ("ccs_a", body, "1700000001", signature, "does not match"),
        ("ccs_a", body, stamp, signature.upper().replace("SHA256=", "sha256="), "does not match"),
        ("ccs_a", body, stamp, "md5=abc", "unsupported signature scheme"),
        ("ccs_a", body, None, signature, "missing"),
        ("ccs_a", body, stamp, "", "missing"),
        ("ccs_a", body, "17e8", signature, "malformed"),
        ("ccs_a", body, "-1", signature, "malformed"),
    ]
    for secret, payload, ts, sig, message in bad:
        with pytest.raises(InvalidSignature, match=message):
            verify_signature(secret, payload, timestamp=ts, signature=sig, now=now)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_signature("ccs_a", body, timestamp=stamp, signature=signature, now=now + 301)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_signature("ccs_a", body, timestamp=stamp, signature=signature, now=now - 400)
    verify_signature(
        "ccs_a", body, timestamp=stamp, signature=signature, now=now + 10**6, tolerance=None
    )
    with pytest.raises(InvalidSignature, match="no signing secret"):
        verify_signature([], body, timestamp=stamp, signature=signature, now=now)


@settings(max_examples=200)
@given(
    secret=st.text(min_size=1, max_size=40),
    body=st.binary(max_size=200),
    stamp=st.integers(min_value=0, max_value=2**40),
    flip=st.integers(min_value=0),
)
def test_any_single_byte_change_breaks_the_signature(
    secret: str, body: bytes, stamp: int, flip: int
) -> None:
    signature = sign(secret, stamp, body)
    assert is_valid_signature(
        secret, body, timestamp=str(stamp), signature=signature, tolerance=None
    )
    if body:
        index = flip % len(body)
        tampered = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        assert not is_valid_signature(
            secret, tampered, timestamp=str(stamp), signature=signature, tolerance=None
        )
    assert not is_valid_signature(
        secret, body, timestamp=str(stamp + 1), signature=signature, tolerance=None
    )
