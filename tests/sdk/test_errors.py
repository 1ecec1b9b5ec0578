"""The error hierarchy: mapping rules, and every class raised from a real server response."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from clickclack_sdk import (
    NO_RETRY,
    AuthenticationError,
    ClickClackError,
    Client,
    Conflict,
    InvalidRequest,
    NetworkError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerUnavailable,
)
from clickclack_sdk._errors import NO_ROWS, error_for_status, error_text, parse_retry_after
from clickclack_server.store.users import insert_channel
from tests.conftest import World
from tests.sdk.conftest import ClientFactory
from tests.sdk.faults import FaultProxy, Reply

UNKNOWN_MESSAGE = "msg_" + "0" * 26


@pytest.mark.parametrize(
    ("status", "text", "cls"),
    [
        (401, "authentication required", AuthenticationError),
        (403, "bot token is missing scope messages:write", PermissionDenied),
        (404, "route not found", NotFound),
        (400, NO_ROWS, NotFound),
        (400, "topic not found", NotFound),
        (400, "message body is required", InvalidRequest),
        (409, "direct conversation has no active recipient", Conflict),
        (413, "upload quota exceeded", PayloadTooLarge),
        (429, "waiting room post limit reached", RateLimited),
        (500, "internal server error", ServerUnavailable),
        (503, "session verification unavailable; retry later", ServerUnavailable),
        (415, "content-type must be application/json", ClickClackError),
    ],
)
def test_status_mapping(status: int, text: str, cls: type[ClickClackError]) -> None:
    error = error_for_status(status, text, correlation_id="corr_1")
    assert type(error) is cls
    assert (error.status, error.error, error.correlation_id) == (status, text, "corr_1")
    assert str(error) == f"{status}: {text}"


def test_error_text_reads_only_the_error_field() -> None:
    assert error_text(b'{"error": "nope"}\n') == "nope"
    assert error_text(b'{"error": 3}') == ""
    assert error_text(b"<html>") == ""
    assert error_text(b"\xff\xfe") == ""
    assert str(error_for_status(502, "")) == "502"


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-2") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = parse_retry_after(when)
    assert seconds is not None and 25 <= seconds <= 31
    error = error_for_status(429, "slow down", retry_after=2.0)
    assert isinstance(error, RateLimited) and error.retry_after == 2.0


@given(st.text())
def test_retry_after_never_raises(value: str) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or seconds >= 0


async def test_401_authentication_error(world: World, client_for: ClientFactory) -> None:
    async with client_for(None, token="sst_" + "0" * 26) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.me.get()
    assert caught.value.status == 401
    assert caught.value.error
    assert caught.value.correlation_id and caught.value.correlation_id.startswith("corr_")


async def test_403_permission_denied(world: World, client_for: ClientFactory) -> None:
    bot = await world.bot(["messages:read"])
    async with client_for(bot) as client:
        with pytest.raises(PermissionDenied) as caught:
            await client.me.get()
    assert caught.value.error == "bot token is missing scope profile:read"


async def test_404_not_found(owner: Client) -> None:
    with pytest.raises(NotFound) as caught:
        await owner.routes.resolve("T0000000000000000", "C0000000000000000")
    assert (caught.value.status, caught.value.error) == (404, "route not found")


async def test_400_missing_row_is_not_found(owner: Client) -> None:
    with pytest.raises(NotFound) as caught:
        await owner.messages.get(UNKNOWN_MESSAGE)
    assert (caught.value.status, caught.value.error) == (400, NO_ROWS)


async def test_400_invalid_request(world: World, owner: Client) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await owner.messages.send(world.channel_id, "   ")
    assert caught.value.status == 400
    assert caught.value.error == "message body is required"


async def test_409_conflict(world: World, owner: Client) -> None:
    other = await world.workspace()
    await owner.uploads.create(world.workspace_id, io.BytesIO(b"one"), nonce="shared-nonce")
    with pytest.raises(Conflict) as caught:
        await owner.uploads.create(other, io.BytesIO(b"two"), nonce="shared-nonce")
    assert caught.value.status == 409


async def test_413_payload_too_large(world: World, owner: Client) -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        await owner.messages.send(world.channel_id, "x" * (1 << 20))
    assert caught.value.status == 413


async def test_429_rate_limited(world: World, client_for: ClientFactory) -> None:
    guest = await world.user("Guest", role="guest")

    def make_guest_channel(tx: Any) -> str:
        channel_id: str = insert_channel(tx, workspace_id=world.workspace_id, name="guest")
        return channel_id

    guest_channel = await world.db.write(make_guest_channel)
    async with client_for(guest) as client:
        for index in range(3):
            await client.messages.send(guest_channel, f"hello {index}")
        with pytest.raises(RateLimited) as caught:
            await client.messages.send(guest_channel, "one too many")
    assert caught.value.error == "waiting room post limit reached"
    assert caught.value.retry_after is None


async def test_5xx_server_unavailable(
    world: World, nursery: trio.Nursery, client_for: ClientFactory
) -> None:
    proxy = FaultProxy(
        world.url, lambda seen: Reply(503, {"Retry-After": "7"}, b'{"error":"down"}\n')
    )
    url = await nursery.start(proxy.run)
    async with client_for(world.owner, base_url=url, retry=NO_RETRY) as client:
        with pytest.raises(ServerUnavailable) as caught:
            await client.me.get()
    assert (caught.value.status, caught.value.error, caught.value.retry_after) == (503, "down", 7.0)


async def test_network_error_when_nothing_listens(client_for: ClientFactory) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    await listeners[0].aclose()
    async with client_for(None, base_url=f"http://127.0.0.1:{port}") as client:
        with pytest.raises(NetworkError) as caught:
            await client.workspaces.list()
    assert caught.value.status is None
    assert isinstance(caught.value, ClickClackError)
    assert caught.value.__cause__ is not None
