"""``Client``: credentials and CSRF headers, the transport seam, retry defaults per method,
response decoding, configuration from the environment, health probes."""

from __future__ import annotations

import httpx
import pytest

from clickclack_sdk import ClickClackError, Client, RetryPolicy, ServerUnavailable, Workspace
from tests.conftest import World

FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)


def recording(
    status: int = 200, json: object | None = None
) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=json if json is not None else {"ok": True})

    return httpx.MockTransport(answer), seen


async def test_bearer_token_and_no_csrf_header() -> None:
    transport, seen = recording()
    async with Client("http://cc.test/", token=" ccb_secret ", transport=transport) as client:
        await client.request("GET", "/api/x")
        await client.request("POST", "/api/x", json={})
    for request in seen:
        assert request.headers["authorization"] == "Bearer ccb_secret"
        assert "x-clickclack-csrf" not in request.headers
        assert "x-clickclack-user" not in request.headers
        assert request.headers["user-agent"] == "clickclack-python"
    assert str(seen[0].url) == "http://cc.test/api/x"


async def test_csrf_only_on_unsafe_methods_without_a_token() -> None:
    transport, seen = recording()
    async with Client("http://cc.test", user_id="usr_1", transport=transport) as client:
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
            await client.request(method, "/api/x")
    csrf = {r.method: r.headers.get("x-clickclack-csrf") for r in seen}
    assert csrf == {
        "GET": None,
        "HEAD": None,
        "POST": "1",
        "PUT": "1",
        "PATCH": "1",
        "DELETE": "1",
    }
    assert {r.headers["x-clickclack-user"] for r in seen} == {"usr_1"}
    assert all("authorization" not in r.headers for r in seen)


@pytest.mark.parametrize(
    ("method", "retry", "attempts"),
    [
        ("GET", None, 3),
        ("HEAD", None, 3),
        ("PUT", None, 3),
        ("DELETE", None, 3),
        ("POST", None, 1),
        ("PATCH", None, 1),
        ("POST", True, 3),
        ("GET", False, 1),
    ],
)
async def test_retry_defaults_follow_idempotency(
    method: str, retry: bool | None, attempts: int
) -> None:
    transport, seen = recording(503, {"error": "busy"})
    async with Client("http://cc.test", transport=transport, retry=FAST) as client:
        with pytest.raises(ServerUnavailable):
            await client.request(method, "/api/x", retry=retry)
    assert len(seen) == attempts


async def test_none_query_parameters_are_dropped() -> None:
    transport, seen = recording()
    async with Client("http://cc.test", transport=transport) as client:
        await client.request("GET", "/api/x", params={"a": 1, "b": None, "c": "z"})
    assert seen[0].url.query == b"a=1&c=z"


async def test_decoding_failures_are_clickclack_errors() -> None:
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>app</html>")

    async with Client("http://cc.test", transport=httpx.MockTransport(html)) as client:
        with pytest.raises(ClickClackError, match="not JSON"):
            await client.workspaces.list()
    transport, _ = recording(200, {"workspaces": [{"id": 3}]})
    async with Client("http://cc.test", transport=transport) as client:
        with pytest.raises(ClickClackError, match="unexpected response shape"):
            await client.workspaces.list()
    transport, _ = recording(200, {"something_else": []})
    async with Client("http://cc.test", transport=transport) as client:
        with pytest.raises(ClickClackError, match="unexpected response shape"):
            await client.call("GET", "/api/workspaces", list[Workspace], "workspaces")


async def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKCLACK_SERVER", "http://env.test:9/")
    monkeypatch.setenv("CLICKCLACK_TOKEN", "sst_env")
    monkeypatch.setenv("CLICKCLACK_USER_ID", "usr_env")
    async with Client.from_env() as client:
        assert (client.base_url, client.token, client.user_id) == (
            "http://env.test:9",
            "sst_env",
            "usr_env",
        )
    async with Client.from_env(token="sst_explicit", base_url="http://x.test") as client:
        assert (client.base_url, client.token) == ("http://x.test", "sst_explicit")
    monkeypatch.delenv("CLICKCLACK_SERVER")
    monkeypatch.setenv("CLICKCLACK_TOKEN", "")
    async with Client.from_env() as client:
        assert (client.base_url, client.token) == ("http://localhost:8080", None)


async def test_health_close_and_ids(world: World) -> None:
    client = Client(world.url, token=world.owner.token)
    assert await client.health() and await client.ready()
    assert not client.is_closed
    await client.aclose()
    assert client.is_closed
    async with Client(world.url) as anonymous:
        with pytest.raises(ValueError):
            await anonymous.messages.get("  ")
