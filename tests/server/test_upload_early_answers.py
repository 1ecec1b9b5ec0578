"""Uploads answered before their body was read (protocol 3.11, 3.1).

A nonce replay, a quota refusal, an authentication or membership failure and a too-large body are
all answered before the server has read the request body. httpx writes the whole body before it
reads the answer, so the server must take in (and discard) the rest of a bounded body before it
closes the connection: closing with unread bytes makes the kernel send a reset, and an asyncio
client, whose transport drops everything it had not yet read once a write fails, then sees
``ReadError`` instead of the answer. The clients here are httpx ``AsyncClient`` on asyncio (in a
worker thread, against the real server on a real socket), plus raw sockets where the exact bytes
matter. A body far above every limit must still not be read without bound.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import trio

from clickclack_server.api import uploads as api
from clickclack_server.store import uploads as upload_store
from tests.conftest import Caller, World

ROUNDS = 20
"""Concurrent requests per case; without draining, nearly all of them are reset."""
BIG = 4 << 20
QUOTA = {"error": "upload quota exceeded"}
TOO_LARGE = {"error": "http: request body too large"}
BOUNDARY = "cc-early-boundary-41d2"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"

Outcome = httpx.Response | httpx.TransportError
Request = Callable[[], dict[str, Any]]


def file_upload(
    caller: Caller, workspace_id: str, content: bytes, *, nonce: str | None = None
) -> Request:
    """The arguments of one ``POST /api/uploads`` of ``content`` (httpx's multipart encoder)."""
    params = {"workspace_id": workspace_id}
    if nonce is not None:
        params["nonce"] = nonce
    headers = {} if caller.token is None else {"Authorization": f"Bearer {caller.token}"}
    return lambda: {
        "params": params,
        "headers": headers,
        "files": {"file": ("big.bin", content, "application/zip")},
    }


async def from_asyncio(world: World, request: Request, rounds: int = ROUNDS) -> list[Outcome]:
    """``rounds`` concurrent uploads from one httpx ``AsyncClient`` running on asyncio in a worker
    thread; transport failures (resets) are collected, not raised."""

    async def client() -> list[Outcome]:
        async with (
            asyncio.timeout(60),
            httpx.AsyncClient(base_url=world.url, timeout=30) as http,
        ):

            async def one() -> Outcome:
                try:
                    return await http.post("/api/uploads", **request())
                except httpx.TransportError as exc:
                    return exc

            return list(await asyncio.gather(*(one() for _ in range(rounds))))

    return await trio.to_thread.run_sync(lambda: asyncio.run(client()))


def answered(outcomes: list[Outcome]) -> list[httpx.Response]:
    """Every outcome must be an HTTP answer; the message counts the ones that were not."""
    failures = [repr(o) for o in outcomes if not isinstance(o, httpx.Response)]
    assert not failures, f"{len(failures)} of {len(outcomes)} got no answer: {failures[:3]}"
    return [o for o in outcomes if isinstance(o, httpx.Response)]


def stored_files(world: World) -> list[str]:
    return sorted(p.name for p in (world.data_dir / "uploads").iterdir())


async def upload_now(
    caller: Caller, workspace_id: str, content: bytes, *, nonce: str | None = None
) -> dict[str, Any]:
    """One ordinary upload (setup for the cases below); it must be stored."""
    response = await caller.post(
        "/api/uploads", **file_upload(caller, workspace_id, content, nonce=nonce)()
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def raw_exchange(world: World, head: str, body: bytes) -> tuple[int, bytes]:
    """Send ``head`` and ``body`` over a plain socket, then read until the server closes.
    Returns how many body bytes the server accepted before the send failed, and the answer."""
    host, _, port = world.url.removeprefix("http://").rpartition(":")
    sent = 0
    received = bytearray()
    with trio.fail_after(30):
        stream = await trio.open_tcp_stream(host, int(port))
        async with stream:
            await stream.send_all(head.encode())
            try:
                for start in range(0, len(body), 64 << 10):
                    piece = body[start : start + (64 << 10)]
                    await stream.send_all(piece)
                    sent += len(piece)
            except trio.BrokenResourceError:
                pass
            try:
                while chunk := await stream.receive_some(1 << 16):
                    received += chunk
            except trio.BrokenResourceError:
                pass
    return sent, bytes(received)


def raw_head(world: World, query: str, length: int) -> str:
    return (
        f"POST /api/uploads?{query} HTTP/1.1\r\nHost: test\r\n"
        f"Authorization: Bearer {world.owner.token}\r\n"
        f"Content-Type: {MULTIPART}\r\nContent-Length: {length}\r\n\r\n"
    )


def multipart_file(content: bytes) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="b"\r\n\r\n'.encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Lower limits for one test: store limits by name, ``api_NAME`` for the handler's."""

    def lower(**values: Any) -> None:
        for name, value in values.items():
            if name.startswith("api_"):
                monkeypatch.setattr(api, name.removeprefix("api_"), value)
            else:
                monkeypatch.setattr(upload_store, name, value)

    return lower


async def test_nonce_replays_of_a_large_file_get_the_stored_upload(world: World) -> None:
    content = b"r" * BIG
    stored = await upload_now(world.owner, world.workspace_id, content, nonce="big-replay")
    replay = file_upload(world.owner, world.workspace_id, content, nonce="big-replay")
    replies = answered(await from_asyncio(world, replay))
    assert [r.status_code for r in replies] == [200] * ROUNDS
    assert all(r.json() == stored for r in replies)
    assert {r.json()["upload"]["id"] for r in replies} == {stored["upload"]["id"]}
    assert all(r.headers["connection"] == "close" for r in replies)
    assert len(stored_files(world)) == 1


async def test_replay_body_is_read_to_the_end_before_closing(world: World) -> None:
    """The exact property behind the answers above: every byte of a bounded body is accepted
    (no broken pipe part-way), and the answer is complete."""
    stored = await upload_now(world.owner, world.workspace_id, b"one", nonce="raw-replay")
    body = multipart_file(b"w" * BIG)
    query = f"workspace_id={world.workspace_id}&nonce=raw-replay"
    sent, answer = await raw_exchange(world, raw_head(world, query, len(body)), body)
    assert sent == len(body)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"connection: close" in head.lower().split(b"\r\n")
    assert json.loads(payload) == stored


async def test_quota_refusals_get_their_json_error(
    world: World, limits: Callable[..., None]
) -> None:
    await upload_now(world.owner, world.workspace_id, b"kept")
    limits(QUOTA_FILES=1)
    refused = file_upload(world.owner, world.workspace_id, b"q" * BIG)
    replies = answered(await from_asyncio(world, refused))
    assert [r.status_code for r in replies] == [413] * ROUNDS
    assert all(r.json() == QUOTA for r in replies)
    assert all(r.headers["content-type"] == "application/json" for r in replies)
    # The byte quota is found while streaming: refused part-way through the file.
    limits(QUOTA_FILES=64, QUOTA_BYTES=1 << 20)
    replies = answered(await from_asyncio(world, refused, rounds=ROUNDS // 2))
    assert [r.status_code for r in replies] == [413] * (ROUNDS // 2)
    assert all(r.json() == QUOTA for r in replies)
    assert len(stored_files(world)) == 1


async def test_other_refusals_before_the_body_get_their_json_error(world: World) -> None:
    """Authentication, membership, role and nonce-conflict failures are all answered early."""
    content = b"x" * BIG
    guest = await world.user("Guest", role="guest")
    outsider = await world.user("Outsider", role="")
    other = await world.workspace()
    await upload_now(world.owner, other, b"there", nonce="elsewhere")
    cases = [
        (file_upload(world.anon(), world.workspace_id, content), 401),
        (file_upload(outsider, world.workspace_id, content), 400),
        (file_upload(guest, world.workspace_id, content), 403),
        (file_upload(world.owner, world.workspace_id, content, nonce="elsewhere"), 409),
        (file_upload(world.owner, "wsp_unknown", content), 400),
    ]
    for request, status in cases:
        replies = answered(await from_asyncio(world, request, rounds=ROUNDS // 4))
        assert [r.status_code for r in replies] == [status] * (ROUNDS // 4)
        assert all(set(r.json()) == {"error"} for r in replies)
    assert len(stored_files(world)) == 1


async def test_too_large_by_declared_length_gets_413(
    world: World, limits: Callable[..., None]
) -> None:
    limits(MAX_REQUEST_BYTES=1 << 20)
    oversized = file_upload(world.owner, world.workspace_id, b"l" * BIG)
    replies = answered(await from_asyncio(world, oversized))
    assert [r.status_code for r in replies] == [413] * ROUNDS
    assert all(r.json() == TOO_LARGE for r in replies)
    assert all(r.headers["connection"] == "close" for r in replies)
    assert stored_files(world) == []


async def test_too_large_while_streaming_gets_413(
    world: World, limits: Callable[..., None]
) -> None:
    """Without a Content-Length the limit is found mid-stream, after the file part began."""
    limits(MAX_REQUEST_BYTES=64 << 10)

    async def chunked() -> AsyncIterator[bytes]:
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="s"\r\n\r\n'
        ).encode()
        for _ in range(BIG // (64 << 10)):
            yield b"s" * (64 << 10)
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    def streamed() -> dict[str, Any]:
        return {
            "params": {"workspace_id": world.workspace_id},
            "headers": {"Authorization": f"Bearer {world.owner.token}", "Content-Type": MULTIPART},
            "content": chunked(),
        }

    replies = answered(await from_asyncio(world, streamed))
    assert [r.status_code for r in replies] == [413] * ROUNDS
    assert all(r.json() == TOO_LARGE for r in replies)
    assert stored_files(world) == []


@pytest.mark.parametrize("declare_length", [True, False])
async def test_far_oversized_body_is_not_read_without_bound(
    world: World, limits: Callable[..., None], declare_length: bool
) -> None:
    """Past the request limit plus the drain margin the server stops reading and closes; a
    declared length that far over is not drained at all."""
    limits(MAX_REQUEST_BYTES=256 << 10, api_DRAIN_MARGIN=1 << 20)
    declared = 1 << 30
    chunk = b"f" * (256 << 10)
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while sent < declared:
            sent += len(chunk)
            yield chunk

    def huge() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {world.owner.token}", "Content-Type": MULTIPART}
        if declare_length:
            headers["Content-Length"] = str(declared)
        return {
            "params": {"workspace_id": world.workspace_id},
            "headers": headers,
            "content": endless(),
        }

    [outcome] = await from_asyncio(world, huge, rounds=1)
    if isinstance(outcome, httpx.Response):
        assert outcome.status_code == 413
        assert outcome.json() == TOO_LARGE
    # The limit and margin are 1.25 MiB; allow for what socket buffers absorb on the way.
    assert sent < 64 << 20, sent
    assert stored_files(world) == []
    await upload_now(world.owner, world.workspace_id, b"fine")


async def test_stalled_body_is_dropped_after_the_drain_deadline(
    world: World, limits: Callable[..., None]
) -> None:
    """A client that stops sending mid-body does not hold the connection past the deadline."""
    limits(QUOTA_FILES=0, api_DRAIN_SECONDS=0.5)
    with trio.fail_after(30):
        host, _, port = world.url.removeprefix("http://").rpartition(":")
        stream = await trio.open_tcp_stream(host, int(port))
        async with stream:
            query = f"workspace_id={world.workspace_id}"
            await stream.send_all(raw_head(world, query, BIG).encode() + b"-" * 1024)
            received = bytearray()
            while chunk := await stream.receive_some(1 << 16):
                received += chunk
    status_line, _, rest = bytes(received).partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert rest.endswith(b'{"error":"upload quota exceeded"}\n')
