"""Retries through a fault-injecting proxy in front of the real server, and the backoff policy."""

from __future__ import annotations

import json

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from clickclack_sdk import (
    NO_RETRY,
    Client,
    NetworkError,
    RateLimited,
    RetryPolicy,
    ServerUnavailable,
)
from clickclack_sdk._errors import InvalidRequest
from tests.conftest import World
from tests.sdk.conftest import FAST_RETRY, ClientFactory
from tests.sdk.faults import FORWARD, FORWARD_THEN_DROP, FaultProxy, Reply, Seen, fail_first

UNAVAILABLE = Reply(503, body=b'{"error":"try later"}\n')


async def _proxy(nursery: trio.Nursery, world: World, rule: object) -> FaultProxy:
    proxy = FaultProxy(world.url, rule)  # type: ignore[arg-type]
    await nursery.start(proxy.run)
    return proxy


async def _history(world: World, owner: Client) -> list[str]:
    return [message.body async for message in owner.messages.iter_forward(world.channel_id)]


async def test_get_retries_after_503_then_succeeds(
    world: World, nursery: trio.Nursery, client_for: ClientFactory
) -> None:
    proxy = await _proxy(nursery, world, fail_first(2, UNAVAILABLE, method="GET", path_prefix="/"))
    async with client_for(world.owner, base_url=proxy.url) as client:
        workspaces = await client.workspaces.list()
    assert [w.id for w in workspaces] == [world.workspace_id]
    assert proxy.count("GET", "/api/workspaces") == 3


async def test_retries_give_up_after_max_attempts(
    world: World, nursery: trio.Nursery, client_for: ClientFactory
) -> None:
    proxy = await _proxy(nursery, world, lambda seen: UNAVAILABLE)
    async with client_for(world.owner, base_url=proxy.url) as client:
        with pytest.raises(ServerUnavailable):
            await client.workspaces.list()
    assert proxy.count("GET", "/api/workspaces") == FAST_RETRY.max_attempts


async def test_retry_after_header_is_honoured(
    world: World, nursery: trio.Nursery, client_for: ClientFactory
) -> None:
    limited = Reply(429, {"Retry-After": "0"}, b'{"error":"slow down"}\n')
    proxy = await _proxy(nursery, world, fail_first(1, limited, method="GET", path_prefix="/api"))
    slow_backoff = RetryPolicy(max_attempts=3, base_delay=60, max_delay=60)
    async with client_for(world.owner, base_url=proxy.url, retry=slow_backoff) as client:
        with trio.fail_after(10):
            me = await client.me.get()
    assert me.id == world.owner.user_id
    assert proxy.count("GET", "/api/me") == 2


async def test_unsafe_write_without_nonce_is_not_retried(
    world: World, nursery: trio.Nursery, client_for: ClientFactory
) -> None:
    rule = fail_first(1, UNAVAILABLE, method="POST", path_prefix="/api/workspaces/")
    proxy = await _proxy(nursery, world, rule)
    async with client_for(world.owner, base_url=proxy.url) as client:
        with pytest.raises(ServerUnavailable):
            await client.channels.create(world.workspace_id, "once")
    assert proxy.count("POST", f"/api/workspaces/{world.workspace_id}/channels") == 1


async def test_send_retries_with_the_same_nonce_and_posts_once(
    world: World, nursery: trio.Nursery, client_for: ClientFactory, owner: Client
) -> None:
    rule = fail_first(2, UNAVAILABLE, method="POST", path_prefix="/api/channels/")
    proxy = await _proxy(nursery, world, rule)
    async with client_for(world.owner, base_url=proxy.url) as client:
        sent = await client.messages.send(world.channel_id, "hello once")
    posts = [s for s in proxy.seen if s.method == "POST"]
    assert len(posts) == 3
    assert len({json.loads(s.body)["nonce"] for s in posts}) == 1
    assert not sent.replayed
    assert await _history(world, owner) == ["hello once"]


async def test_lost_answer_is_retried_and_replayed_not_reposted(
    world: World, nursery: trio.Nursery, client_for: ClientFactory, owner: Client
) -> None:
    drops = [1]

    def rule(seen: Seen) -> Reply | str:
        if seen.method == "POST" and drops[0]:
            drops[0] -= 1
            return FORWARD_THEN_DROP
        return FORWARD

    proxy = await _proxy(nursery, world, rule)
    async with client_for(world.owner, base_url=proxy.url) as client:
        sent = await client.messages.send(world.channel_id, "applied, answer lost")
    assert sent.replayed
    assert sent.message.body == "applied, answer lost"
    assert await _history(world, owner) == ["applied, answer lost"]


async def test_ambiguous_failure_recovers_through_by_nonce(
    world: World, nursery: trio.Nursery, client_for: ClientFactory, owner: Client
) -> None:
    proxy = await _proxy(
        nursery, world, lambda seen: FORWARD_THEN_DROP if seen.method == "POST" else FORWARD
    )
    async with client_for(world.owner, base_url=proxy.url) as client:
        sent = await client.messages.send(world.channel_id, "recovered")
        reply = await client.threads.reply(sent.message.id, "reply recovered")
        conversation = await owner.dms.create(
            world.workspace_id, [(await world.user("Pal")).user_id]
        )
        dm = await client.dms.send(conversation.id, "dm recovered")
    assert sent.message.body == "recovered" and sent.replayed
    assert reply.message.body == "reply recovered" and reply.replayed
    assert reply.thread_state.reply_count == 1
    assert dm.message.direct_conversation_id == conversation.id
    assert proxy.count("GET", "/api/messages/by-nonce") == 3
    assert await _history(world, owner) == ["recovered"]


async def test_not_applied_failure_is_raised_after_by_nonce_finds_nothing(
    world: World, nursery: trio.Nursery, client_for: ClientFactory, owner: Client
) -> None:
    proxy = await _proxy(
        nursery, world, lambda seen: UNAVAILABLE if seen.method == "POST" else FORWARD
    )
    async with client_for(world.owner, base_url=proxy.url) as client:
        with pytest.raises(ServerUnavailable):
            await client.messages.send(world.channel_id, "never stored")
    assert proxy.count("GET", "/api/messages/by-nonce") == 1
    assert await _history(world, owner) == []


async def test_refused_request_is_not_looked_up(
    world: World, nursery: trio.Nursery, client_for: ClientFactory
) -> None:
    proxy = await _proxy(nursery, world, lambda seen: FORWARD)
    async with client_for(world.owner, base_url=proxy.url) as client:
        with pytest.raises(InvalidRequest):
            await client.messages.send(world.channel_id, " ")
    assert proxy.count("GET", "/api/messages/by-nonce") == 0


async def test_connection_refused_is_retried_then_raised(client_for: ClientFactory) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    await listeners[0].aclose()
    async with client_for(None, base_url=f"http://127.0.0.1:{port}") as client:
        with pytest.raises(NetworkError):
            await client.messages.send("chn_x", "nobody home")


async def test_caller_cancel_scope_bounds_retries(
    world: World, nursery: trio.Nursery, client_for: ClientFactory
) -> None:
    proxy = await _proxy(nursery, world, lambda seen: UNAVAILABLE)
    patient = RetryPolicy(max_attempts=None, base_delay=30, max_delay=30)
    async with client_for(world.owner, base_url=proxy.url, retry=patient) as client:
        with trio.move_on_after(0.5) as scope:
            await client.workspaces.list()
    assert scope.cancelled_caught


async def test_no_retry_policy_raises_at_once(
    world: World, nursery: trio.Nursery, client_for: ClientFactory
) -> None:
    limited = Reply(429, {}, b'{"error":"slow"}\n')
    proxy = await _proxy(nursery, world, lambda seen: limited)
    async with client_for(world.owner, base_url=proxy.url, retry=NO_RETRY) as client:
        with pytest.raises(RateLimited):
            await client.me.get()
    assert proxy.count("GET", "/api/me") == 1


def test_policy_decisions() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.allows(1) and policy.allows(2) and not policy.allows(3)
    assert RetryPolicy(max_attempts=None).allows(10_000)
    assert policy.is_retryable(NetworkError("x"))
    assert policy.is_retryable(ServerUnavailable("x", status=503))
    assert not policy.is_retryable(ServerUnavailable("x", status=500))
    assert policy.is_retryable(RateLimited("x", status=429))
    assert not policy.is_retryable(InvalidRequest("x", status=400))
    hinted = RateLimited("x", status=429, retry_after=1000.0)
    assert policy.delay(1, hinted) == policy.max_retry_after


@given(
    attempt=st.integers(min_value=1, max_value=200),
    base=st.floats(min_value=0.001, max_value=5),
    cap=st.floats(min_value=0.001, max_value=60),
)
def test_backoff_is_jittered_within_the_exponential_ceiling(
    attempt: int, base: float, cap: float
) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=cap)
    delay = policy.delay(attempt)
    assert 0 <= delay <= min(cap, base * 2 ** (attempt - 1)) + 1e-9
