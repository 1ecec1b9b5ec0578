"""Uploads: streamed multipart intake, limits and quota, nonces, hardened downloads, visibility,
and attaching uploads to messages (protocol 3.11, 2.6, 3.7)."""

from __future__ import annotations

import io
import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import trio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from clickclack_server import ids, storage
from clickclack_server.api import uploads as api
from clickclack_server.auth import Actor
from clickclack_server.store import messages as message_store
from clickclack_server.store import uploads as upload_store
from tests.conftest import Caller, World

NO_ROWS = {"error": "sql: no rows in result set"}
QUOTA = {"error": "upload quota exceeded"}
TOO_LARGE = {"error": "http: request body too large"}
NONCE_HEADER = "x-clickclack-upload-nonce"
BOUNDARY = "cc-test-boundary-7f3a"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
KEY = re.compile(r"^upload-[0-9a-f]{32}$")


# Helpers.


async def upload(
    caller: Caller,
    workspace_id: str | None,
    content: bytes | io.BytesIO = b"hello",
    *,
    filename: str = "hello.txt",
    content_type: str | None = "text/plain",
    nonce: str | None = None,
    data: dict[str, str] | None = None,
    expect: int = 201,
) -> dict[str, Any]:
    """POST one file with httpx's multipart encoder; returns the JSON body."""
    params = {}
    if workspace_id is not None:
        params["workspace_id"] = workspace_id
    if nonce is not None:
        params["nonce"] = nonce
    file: tuple[Any, ...] = (
        (filename, content, content_type) if content_type is not None else (filename, content)
    )
    response = await caller.post("/api/uploads", params=params, files={"file": file}, data=data)
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


def part(
    name: str,
    value: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
) -> bytes:
    """One hand-built multipart part (for part orders httpx cannot produce)."""
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + value + b"\r\n"


def body_of(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def raw_upload(
    caller: Caller, content: bytes | AsyncIterator[bytes], params: dict[str, str] | None = None
) -> httpx.Response:
    return await caller.post(
        "/api/uploads", params=params or {}, content=content, headers={"Content-Type": MULTIPART}
    )


def stored_files(world: World) -> list[str]:
    """Everything in the uploads directory (published blobs and any leftovers)."""
    folder = world.data_dir / "uploads"
    return sorted(os.listdir(folder)) if folder.exists() else []


async def upload_rows(world: World) -> list[dict[str, Any]]:
    rows = await world.db.read(lambda tx: tx.all("SELECT * FROM uploads ORDER BY id"))
    return [dict(row) for row in rows]


async def post_message(caller: Caller, channel_id: str, **extra: Any) -> dict[str, Any]:
    response = await caller.post(
        f"/api/channels/{channel_id}/messages", json={"body": "look", **extra}
    )
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()["message"]
    return message


async def make_dm(world: World, *members: Caller) -> str:
    """A direct conversation inserted as rows (independent of the DM API)."""

    def create(tx: Any) -> str:
        conversation_id = ids.new_id("dm")
        tx.execute(
            "INSERT INTO direct_conversations (id, route_id, workspace_id, created_at) "
            "VALUES (?, ?, ?, ?)",
            (conversation_id, ids.new_route_id("D"), world.workspace_id, ids.now()),
        )
        for member in members:
            tx.execute(
                "INSERT INTO direct_conversation_members (conversation_id, user_id, created_at) "
                "VALUES (?, ?, ?)",
                (conversation_id, member.user_id, ids.now()),
            )
        return conversation_id

    conversation: str = await world.db.write(create)
    return conversation


async def post_dm(world: World, author: Caller, conversation_id: str, upload_id: str = "") -> str:
    """A DM root posted through the message store as ``author``; returns its id."""
    actor = Actor(user_id=author.user_id, kind="human", via="session")
    draft = message_store.Draft(body="in private", upload_id=upload_id)
    created = await world.db.write(
        message_store.create_root, actor, draft, conversation_id=conversation_id
    )
    message_id: str = created.message.id
    return message_id


async def restrict(world: World, user_id: str, column: str, value: str) -> None:
    def write(tx: Any) -> None:
        tx.execute(
            f"INSERT INTO workspace_member_moderation (workspace_id, user_id, {column}) "
            f"VALUES (?, ?, ?)",
            (world.workspace_id, user_id, value),
        )

    await world.db.write(write)


def parse_disposition(header: str) -> tuple[str, str]:
    """(type, filename) as RFC 6266 says a browser reads it: parameters split outside quoted
    strings, quoted values unescaped, and ``filename*`` (RFC 5987) preferred over ``filename``."""
    params: dict[str, str] = {}
    kind, _, rest = header.partition(";")
    for match in re.finditer(r'\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)\s*;?', rest):
        name, value = match.group(1).lower(), match.group(2).strip()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name] = value
    if "filename*" in params:
        charset, _, encoded = params["filename*"].partition("''")
        assert charset.upper() == "UTF-8", header
        return kind.strip(), unquote(encoded, errors="strict")
    assert "filename" in params, header
    return kind.strip(), params["filename"]


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Lower the store's limits for one test (read at call time by the server)."""

    def lower(**values: int) -> None:
        for name, value in values.items():
            monkeypatch.setattr(upload_store, name, value)

    return lower


# Intake.


async def test_large_upload_streams_and_round_trips(world: World) -> None:
    payload = os.urandom(6 * 1024 * 1024 + 123)
    body = await upload(
        world.owner,
        world.workspace_id,
        io.BytesIO(payload),
        filename="clip.bin",
        content_type="application/x-custom",
    )
    created = body["upload"]
    assert set(created) == {
        "id",
        "workspace_id",
        "owner_id",
        "filename",
        "content_type",
        "byte_size",
        "width",
        "height",
        "duration_ms",
        "created_at",
    }
    assert created["id"].startswith("upl_") and len(created["id"]) == 30
    assert created["workspace_id"] == world.workspace_id
    assert created["owner_id"] == world.owner.user_id
    assert created["filename"] == "clip.bin"
    assert created["content_type"] == "application/x-custom"
    assert created["byte_size"] == len(payload)
    assert (created["width"], created["height"], created["duration_ms"]) == (0, 0, 0)
    assert created["created_at"].endswith("Z")
    [key] = stored_files(world)
    assert KEY.match(key)
    assert (world.data_dir / "uploads" / key).read_bytes() == payload
    [row] = await upload_rows(world)
    assert row["storage_path"] == key and row["client_nonce"] == ""

    url = f"/api/uploads/{created['id']}"
    download = await world.owner.get(url)
    assert download.status_code == 200
    assert download.content == payload
    assert download.headers["content-length"] == str(len(payload))
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"] == 'attachment; filename="clip.bin"'
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-security-policy"] == "sandbox"

    chunks: list[bytes] = []
    headers = {"Authorization": f"Bearer {world.owner.token}"}
    async with world.http.stream("GET", url, headers=headers) as streamed:
        assert streamed.status_code == 200
        async for chunk in streamed.aiter_bytes():
            chunks.append(chunk)
    assert len(chunks) > 1 and b"".join(chunks) == payload

    ranged = await world.owner.get(url, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206
    assert ranged.content == payload[100:200]
    head = await world.owner.request("HEAD", url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(payload))


async def test_empty_file_and_defaults(world: World) -> None:
    empty = (await upload(world.owner, world.workspace_id, b"", filename="empty.txt"))["upload"]
    assert empty["byte_size"] == 0
    assert (await world.owner.get(f"/api/uploads/{empty['id']}")).content == b""
    # No filename and no Content-Type on the part: a placeholder name and octet-stream.
    response = await raw_upload(
        world.owner, body_of(part("file", b"bytes")), {"workspace_id": world.workspace_id}
    )
    assert response.status_code == 201, response.text
    bare = response.json()["upload"]
    assert bare["filename"] == "upload"
    assert bare["content_type"] == "application/octet-stream"
    assert len(stored_files(world)) == 2


async def test_form_fields(world: World) -> None:
    media = (
        await upload(
            world.owner,
            None,
            b"\x89PNG",
            filename="shot.png",
            content_type="image/png",
            data={
                "workspace_id": world.workspace_id,
                "width": "640",
                "height": " 480 ",
                "duration_ms": "1500",
            },
        )
    )["upload"]
    assert media["workspace_id"] == world.workspace_id
    assert (media["width"], media["height"], media["duration_ms"]) == (640, 480, 1500)
    same = await upload(world.owner, world.workspace_id, data={"workspace_id": world.workspace_id})
    assert same["upload"]["workspace_id"] == world.workspace_id
    ignored = await upload(world.owner, world.workspace_id, data={"caption": "x" * 5000})
    assert ignored["upload"]["byte_size"] == 5
    kept = len(stored_files(world))
    assert kept == 3

    other = await world.workspace()
    mismatch = await upload(
        world.owner, world.workspace_id, data={"workspace_id": other}, expect=400
    )
    assert mismatch == {"error": "workspace_id does not match the query"}
    after_file = body_of(
        part("file", b"x", filename="a.txt"), part("workspace_id", world.workspace_id.encode())
    )
    late = await raw_upload(world.owner, after_file, {"workspace_id": world.workspace_id})
    assert late.status_code == 400
    assert late.json() == {"error": "workspace_id must come before file"}
    unplaced = await raw_upload(world.owner, after_file)
    assert unplaced.json() == {"error": "workspace_id is required"}
    nowhere = await upload(world.owner, None, expect=400)
    assert nowhere == {"error": "workspace_id is required"}
    for name, value in (
        ("width", "abc"),
        ("height", "-1"),
        ("duration_ms", "1.5"),
        ("width", "9" * 30),
        ("height", "0x10"),
        ("width", "1_000"),
        ("duration_ms", "\u0661\u0662"),
        ("height", "+5"),
    ):
        bad = await upload(world.owner, world.workspace_id, data={name: value}, expect=400)
        assert bad == {"error": f"invalid {name}"}, (name, value)
    too_long = await upload(world.owner, world.workspace_id, data={"width": "1" * 1025}, expect=400)
    assert too_long == {"error": "width is too long"}
    assert len(stored_files(world)) == kept
    assert len(await upload_rows(world)) == kept


async def test_part_rules_and_malformed_bodies(world: World) -> None:
    query = {"workspace_id": world.workspace_id}
    two = await raw_upload(
        world.owner,
        body_of(part("file", b"a", filename="a.txt"), part("file", b"b", filename="b.txt")),
        query,
    )
    assert two.status_code == 400
    assert two.json() == {"error": "only one file is supported"}
    for body in (body_of(part("width", b"3")), body_of()):
        none = await raw_upload(world.owner, body, query)
        assert none.status_code == 400
        assert none.json() == {"error": "file is required"}
    # A part named otherwise is not the file, even with a filename.
    stray = await raw_upload(world.owner, body_of(part("attachment", b"z", filename="z")), query)
    assert stray.json() == {"error": "file is required"}

    as_json = await world.owner.post("/api/uploads", params=query, json={"file": "x"})
    assert as_json.status_code == 400
    assert as_json.json() == {"error": "request Content-Type isn't multipart/form-data"}
    plain = await world.owner.post("/api/uploads", params=query, content=b"raw bytes")
    assert plain.json() == {"error": "request Content-Type isn't multipart/form-data"}
    no_boundary = await world.owner.post(
        "/api/uploads",
        params=query,
        content=body_of(part("file", b"x", filename="x")),
        headers={"Content-Type": "multipart/form-data"},
    )
    assert no_boundary.status_code == 400
    assert no_boundary.json() == {"error": "no multipart boundary param in Content-Type"}
    truncated = await raw_upload(world.owner, part("file", b"x" * 1000, filename="x"), query)
    assert truncated.status_code == 400
    assert truncated.json() == {"error": "multipart body ended before its closing boundary"}
    garbage = await raw_upload(world.owner, b"\x00\x01 not multipart at all", query)
    assert garbage.status_code == 400
    too_many_headers = await raw_upload(
        world.owner,
        f"--{BOUNDARY}\r\n".encode()
        + b"".join(f"X-H{i}: v\r\n".encode() for i in range(40))
        + b'Content-Disposition: form-data; name="file"; filename="f"\r\n\r\nx\r\n'
        + f"--{BOUNDARY}--\r\n".encode(),
        query,
    )
    assert too_many_headers.status_code == 400

    unknown = await upload(world.owner, "wsp_00000000000000000000000000", expect=400)
    assert unknown == NO_ROWS
    outsider = await world.user("Outsider", role="")
    foreign = await upload(outsider, world.workspace_id, expect=400)
    assert foreign == {"error": "not a member of this workspace"}
    anonymous = await upload(world.anon(), world.workspace_id, expect=401)
    assert anonymous == {"error": "authentication required"}
    assert stored_files(world) == []
    assert await upload_rows(world) == []


# Limits.


async def test_request_cap_by_declared_length(world: World) -> None:
    cap = 64 * 1024 * 1024
    chunk = b"\0" * (1024 * 1024)

    async def oversized() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield chunk
        yield b"\0"

    with trio.fail_after(60):
        response = await world.owner.post(
            "/api/uploads",
            params={"workspace_id": world.workspace_id},
            content=oversized(),
            headers={"Content-Type": MULTIPART, "Content-Length": str(cap + 1)},
        )
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert response.headers["connection"] == "close"
    assert stored_files(world) == []
    # The server is still healthy for the next request.
    assert (await upload(world.owner, world.workspace_id))["upload"]["byte_size"] == 5


async def test_request_cap_while_streaming(world: World, limits: Callable[..., None]) -> None:
    limits(MAX_REQUEST_BYTES=256 * 1024)
    query = {"workspace_id": world.workspace_id}

    async def chunked() -> AsyncIterator[bytes]:
        yield f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big"\r\n\r\n'.encode()
        for _ in range(16):
            yield b"x" * 64 * 1024
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    for _ in range(3):
        with trio.fail_after(30):
            response = await raw_upload(world.owner, chunked(), query)
        assert response.status_code == 413
        assert response.json() == TOO_LARGE
    declared = await upload(world.owner, world.workspace_id, b"x" * 300_000, expect=413)
    assert declared == TOO_LARGE
    assert stored_files(world) == []
    fits = await upload(world.owner, world.workspace_id, b"x" * 200_000)
    assert fits["upload"]["byte_size"] == 200_000
    assert len(stored_files(world)) == 1
    assert len(await upload_rows(world)) == 1


async def test_quota_per_user_per_workspace(world: World, limits: Callable[..., None]) -> None:
    limits(QUOTA_FILES=2, QUOTA_BYTES=10_000)
    await upload(world.owner, world.workspace_id, b"a" * 4000)
    await upload(world.owner, world.workspace_id, b"b" * 4000)
    third = await upload(world.owner, world.workspace_id, b"c", expect=413)
    assert third == QUOTA
    member = await world.user("Member")
    await upload(member, world.workspace_id, b"m" * 6000)
    over = await upload(member, world.workspace_id, b"n" * 5000, expect=413)
    assert over == QUOTA
    other = await world.workspace()
    await upload(world.owner, other, b"o")
    limits(QUOTA_FILES=64)
    # The byte quota is enforced while streaming, long before the body ends.
    big = await upload(member, world.workspace_id, io.BytesIO(b"z" * (2 << 20)), expect=413)
    assert big == QUOTA
    assert len(stored_files(world)) == 4
    assert len(await upload_rows(world)) == 4


# Nonces.


async def test_nonce_replay_conflict_and_lookup(world: World) -> None:
    first = (await upload(world.owner, world.workspace_id, b"one", nonce=" n-1 "))["upload"]
    assert first["nonce"] == "n-1"
    replay = await world.owner.post(
        "/api/uploads",
        params={"workspace_id": world.workspace_id, "nonce": "n-1"},
        files={"file": ("other.txt", b"different bytes", "text/plain")},
    )
    assert replay.status_code == 200
    assert replay.json() == {"upload": first}
    assert len(stored_files(world)) == 1

    lookup = "/api/uploads/by-nonce"
    found = await world.owner.get(
        lookup, params={"workspace_id": world.workspace_id, "nonce": "n-1"}
    )
    assert found.status_code == 200
    assert found.json() == {"upload": first}
    assert found.headers[NONCE_HEADER] == "supported"
    missing = await world.owner.get(
        lookup, params={"workspace_id": world.workspace_id, "nonce": "nope"}
    )
    assert missing.status_code == 404
    assert missing.json() == {"error": "upload not found"}
    assert missing.headers[NONCE_HEADER] == "supported"

    other = await world.workspace()
    conflict = await upload(world.owner, other, nonce="n-1", expect=409)
    assert conflict == {"error": "upload nonce was already used in another workspace"}
    crossed = await world.owner.get(lookup, params={"workspace_id": other, "nonce": "n-1"})
    assert crossed.status_code == 409
    assert crossed.headers[NONCE_HEADER] == "supported"
    # Nonces belong to their owner: someone else may use the same one.
    member = await world.user("Member")
    theirs = (await upload(member, world.workspace_id, nonce="n-1"))["upload"]
    assert theirs["id"] != first["id"] and theirs["owner_id"] == member.user_id

    detached = await upload(
        world.owner, None, nonce="n-2", data={"workspace_id": world.workspace_id}, expect=400
    )
    assert detached == {"error": "nonce requires workspace_id in the query"}
    long_nonce = await upload(world.owner, world.workspace_id, nonce="n" * 129, expect=400)
    assert "error" in long_nonce
    for params, error in (
        ({"nonce": "n-1"}, "workspace_id is required"),
        ({"workspace_id": world.workspace_id}, "nonce is required"),
    ):
        bad = await world.owner.get(lookup, params=params)
        assert bad.status_code == 400
        assert bad.json() == {"error": error}
        assert bad.headers[NONCE_HEADER] == "supported"
    anonymous = await world.anon().get(
        lookup, params={"workspace_id": world.workspace_id, "nonce": "n"}
    )
    assert anonymous.status_code == 401
    assert anonymous.headers[NONCE_HEADER] == "supported"
    outsider = await world.user("Outsider", role="")
    stranger = await outsider.get(
        lookup, params={"workspace_id": world.workspace_id, "nonce": "n-1"}
    )
    assert stranger.status_code == 400
    assert len(stored_files(world)) == 2


# Who may upload.


async def test_guests_and_restricted_members_cannot_upload(world: World) -> None:
    guest = await world.user("Guest", role="guest")
    assert await upload(guest, world.workspace_id, expect=403) == {
        "error": "guests cannot upload files"
    }
    timed_out = await world.user("Timed Out")
    await restrict(world, timed_out.user_id, "timeout_until", "2999-01-01T00:00:00.000000000Z")
    assert await upload(timed_out, world.workspace_id, expect=403) == {
        "error": "moderation restriction"
    }
    blocked = await world.user("Blocked")
    await restrict(world, blocked.user_id, "blocked_at", ids.now())
    assert await upload(blocked, world.workspace_id, expect=403) == {
        "error": "moderation restriction"
    }
    served = await world.user("Served")
    await restrict(world, served.user_id, "timeout_until", "2001-01-01T00:00:00.000000000Z")
    await upload(served, world.workspace_id)
    assert len(stored_files(world)) == 1


async def test_bot_scopes_for_uploading(world: World) -> None:
    writer = await world.bot(["bot:write"])
    made = (await upload(writer, world.workspace_id))["upload"]
    assert made["owner_id"] == writer.user_id
    reader = await world.bot(["bot:read"])
    missing = {"error": "bot token is missing scope uploads:write"}
    assert await upload(reader, world.workspace_id, expect=403) == missing
    lookup = await reader.get(
        "/api/uploads/by-nonce", params={"workspace_id": world.workspace_id, "nonce": "n"}
    )
    assert lookup.status_code == 403 and lookup.json() == missing
    assert lookup.headers[NONCE_HEADER] == "supported"

    other = await world.workspace()
    await world.db.write(
        lambda tx: tx.execute(
            "INSERT INTO workspace_members (workspace_id, user_id, role, created_at) "
            "VALUES (?, ?, 'bot', ?)",
            (other, writer.user_id, ids.now()),
        )
    )
    cross = {"error": "bot token cannot access this workspace"}
    assert await upload(writer, other, expect=403) == cross
    assert await upload(writer, None, data={"workspace_id": other}, expect=403) == cross
    by_nonce = await writer.get(
        "/api/uploads/by-nonce", params={"workspace_id": other, "nonce": "n"}
    )
    assert by_nonce.status_code == 403 and by_nonce.json() == cross
    foreign = await world.bot(["bot:write"], workspace_id=other)
    assert await upload(foreign, world.workspace_id, expect=403) == cross

    uploader_only = await world.bot(["uploads:write"])
    own = (await upload(uploader_only, world.workspace_id))["upload"]
    download = await uploader_only.get(f"/api/uploads/{own['id']}")
    assert download.status_code == 403
    assert download.json() == {"error": "bot token is missing scope messages:read"}
    assert (await writer.get(f"/api/uploads/{made['id']}")).status_code == 200
    assert len(stored_files(world)) == 2


# Downloads.


SERVED = [
    ("image/png", "image/png", "inline"),
    ("image/jpeg", "image/jpeg", "inline"),
    ("IMAGE/GIF", "image/gif", "inline"),
    ("image/webp", "image/webp", "inline"),
    ("video/mp4", "video/mp4", "inline"),
    ("video/webm", "video/webm", "inline"),
    ("audio/ogg; codecs=opus", "audio/ogg", "inline"),
    ("audio/mpeg", "audio/mpeg", "inline"),
    ("application/pdf", "application/pdf", "inline"),
    ("text/plain", "text/plain; charset=utf-8", "inline"),
    ("text/plain; charset=ISO-8859-1", "text/plain; charset=iso-8859-1", "inline"),
    ("text/html", "application/octet-stream", "attachment"),
    ("image/svg+xml", "application/octet-stream", "attachment"),
    ("application/javascript", "application/octet-stream", "attachment"),
    ("application/zip", "application/octet-stream", "attachment"),
    ("video/quicktime", "application/octet-stream", "attachment"),
    ("text/plain-ish", "application/octet-stream", "attachment"),
    ("not a type", "application/octet-stream", "attachment"),
]


async def test_download_headers_by_content_type(world: World) -> None:
    for sent, served, disposition in SERVED:
        made = (
            await upload(
                world.owner, world.workspace_id, b"data", filename="f.dat", content_type=sent
            )
        )["upload"]
        assert made["content_type"] == sent
        response = await world.owner.get(f"/api/uploads/{made['id']}")
        assert response.status_code == 200, sent
        assert response.headers["content-type"] == served, sent
        assert response.headers["content-disposition"] == f'{disposition}; filename="f.dat"', sent
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == "sandbox"
        assert response.content == b"data"


async def test_download_filename_encoding(world: World) -> None:
    cases = {
        "report.pdf": 'inline; filename="report.pdf"',
        "Résumé 2026.pdf": "inline; filename=\"R_sum_ 2026.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%202026.pdf",
        'say "hi".pdf': "inline; filename=\"say _hi_.pdf\"; filename*=UTF-8''say%20%22hi%22.pdf",
        "100%.pdf": "inline; filename=\"100_.pdf\"; filename*=UTF-8''100%25.pdf",
        "日本.pdf": "inline; filename=\"__.pdf\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.pdf",
    }
    for name, header in cases.items():
        # Quoted-string escapes on the wire (httpx would send the HTML5 %22 form instead).
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        response = await raw_upload(
            world.owner,
            body_of(part("file", b"%PDF", filename=quoted, content_type="application/pdf")),
            {"workspace_id": world.workspace_id},
        )
        assert response.status_code == 201, response.text
        made = response.json()["upload"]
        assert made["filename"] == name
        download = await world.owner.get(f"/api/uploads/{made['id']}")
        assert download.headers["content-disposition"] == header
        assert parse_disposition(header) == ("inline", name)


async def test_unknown_uploads_are_404(world: World) -> None:
    for upload_id in ("upl_00000000000000000000000000", "nope", "by-nonce-ish"):
        response = await world.owner.get(f"/api/uploads/{upload_id}")
        assert response.status_code == 404
        assert response.json() == {"error": "upload not found"}
    assert (
        await world.anon().get("/api/uploads/upl_00000000000000000000000000")
    ).status_code == 401


async def test_missing_blob_is_404(world: World) -> None:
    made = (await upload(world.owner, world.workspace_id))["upload"]
    [key] = stored_files(world)
    (world.data_dir / "uploads" / key).unlink()
    response = await world.owner.get(f"/api/uploads/{made['id']}")
    assert response.status_code == 404


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=60))
def test_content_disposition_round_trips(name: str) -> None:
    for kind in ("inline", "attachment"):
        header = api.content_disposition(kind, name)
        assert header.isascii() and "\r" not in header and "\n" not in header
        clean = re.sub(r"[\x00-\x1f\x7f]", "", name) or "upload"
        assert parse_disposition(header) == (kind, clean)


@settings(max_examples=200, deadline=None)
@given(stored=st.text(max_size=40))
def test_served_content_type_is_always_safe(stored: str) -> None:
    served, inline = api.served_content_type(stored)
    assert served.isascii() and "\n" not in served and "\r" not in served
    mime = served.split(";")[0]
    safe = {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "video/mp4",
        "video/webm",
        "text/plain",
        "application/pdf",
    }
    assert mime in safe or mime.startswith("audio/") or served == "application/octet-stream"
    assert inline == (served != "application/octet-stream")


def _expected_stored_name(sent: str) -> str:
    """What the server must keep for a name httpx sent: httpx writes ``"`` as %22 and control
    characters as %XX (HTML5 form encoding); the server keeps the basename after ``/`` or ``\\``
    (python-multipart already cuts Windows paths at their last backslash),
    drops control characters and surrounding whitespace, and never keeps an empty name."""
    if not sent:
        return "upload"
    wire = "".join(
        "%22" if ch == '"' else f"%{ord(ch):02X}" if ord(ch) < 0x20 and ch != "\x1b" else ch
        for ch in sent
    )
    if wire[1:3] == ":\\" or wire[:2] == "\\\\":
        # python-multipart reads Windows paths (``C:\\...``, ``\\\\server\\...``) itself.
        wire = wire.split("\\")[-1]
    wire = re.sub(r"[\x00-\x1f\x7f]", "", wire)
    base = re.split(r"[/\\]", wire.rstrip("/\\"))[-1].strip()
    return "upload" if base in ("", ".", "..") else base


async def test_filenames_over_http(world: World, limits: Callable[..., None]) -> None:
    """Any filename: the stored name is its basename, and the download header gives it back."""
    limits(QUOTA_FILES=100_000)
    assert world.owner.token is not None
    headers = {"Authorization": f"Bearer {world.owner.token}"}
    names = st.text(max_size=30) | st.lists(
        st.sampled_from(["a", "ü", "日", '"', "\\", "/", ".", " ", "%", ";", "\x01"]), max_size=12
    ).map("".join)

    def run_property() -> None:
        with httpx.Client(base_url=world.url, headers=headers, timeout=30) as http:

            @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
            @given(name=names)
            @example(name="\\\\0\\")
            @example(name="C:\\Users\\me\\notes.txt")
            @example(name="../a/b/c.txt")
            @example(name='say "hi"\n.txt')
            def check(name: str) -> None:
                response = http.post(
                    "/api/uploads",
                    params={"workspace_id": world.workspace_id},
                    files={"file": (name, b"n", "text/plain")},
                )
                assert response.status_code == 201, response.text
                made = response.json()["upload"]
                expected = _expected_stored_name(name)
                assert made["filename"] == expected
                download = http.get(f"/api/uploads/{made['id']}")
                assert download.status_code == 200
                assert parse_disposition(download.headers["content-disposition"]) == (
                    "inline",
                    expected,
                )

            check()

    with trio.fail_after(120):
        await trio.to_thread.run_sync(run_property)


def test_clean_filename_rules() -> None:
    assert api.clean_filename("C:\\Users\\me\\plan.pdf") == "plan.pdf"
    assert api.clean_filename("../../etc/passwd") == "passwd"
    assert api.clean_filename("dir/sub/") == "sub"
    assert api.clean_filename(" ./.. ") == "upload"
    assert api.clean_filename("a\x00b\nc.txt") == "abc.txt"
    long = api.clean_filename("n" * 400 + ".tar.gz")
    assert len(long) == 255 and long.endswith("n.gz")
    assert len(api.clean_filename("x" * 400)) == 255


async def test_blob_store(tmp_path: Path) -> None:
    blobs = storage.BlobStore(tmp_path / "blobs")
    writer = await blobs.create()
    payload = os.urandom(storage.WRITE_BUFFER + 5)
    await writer.write(payload[:10])
    await writer.write(payload[10:])
    assert writer.size == len(payload)
    key = await writer.commit()
    assert os.listdir(tmp_path / "blobs") == [key] and storage.is_key(key)
    found = await blobs.locate(key)
    assert found is not None and found.stat.st_size == len(payload)
    assert found.path.read_bytes() == payload
    await writer.abort()  # after commit: nothing to drop, the blob stays
    assert os.listdir(tmp_path / "blobs") == [key]
    with pytest.raises(RuntimeError):
        await writer.write(b"late")
    dropped = await blobs.create()
    await dropped.write(b"partial")
    assert len(os.listdir(tmp_path / "blobs")) == 2
    await dropped.abort()
    assert os.listdir(tmp_path / "blobs") == [key]
    for bad in ("../" + key, "/etc/passwd", key + "/x", "upload-" + "0" * 32):
        assert await blobs.locate(bad) is None
    await blobs.delete("../../outside")
    await blobs.delete(key)
    await blobs.delete(key)
    assert os.listdir(tmp_path / "blobs") == []


# Visibility.


async def test_visibility_of_channel_attachments(world: World) -> None:
    member = await world.user("Reader")
    guest = await world.user("Guest", role="guest")
    outsider = await world.user("Outsider", role="")
    made = (await upload(world.owner, world.workspace_id, b"secret"))["upload"]
    url = f"/api/uploads/{made['id']}"
    assert (await world.owner.get(url)).status_code == 200
    for caller in (member, guest, outsider):
        assert (await caller.get(url)).status_code == 404

    message = await post_message(world.owner, world.channel_id, upload_id=made["id"])
    assert [a["id"] for a in message["attachments"]] == [made["id"]]
    fetched = await member.get(f"/api/messages/{message['id']}")
    assert fetched.json()["message"]["attachments"] == [made]
    got = await member.get(url)
    assert got.status_code == 200 and got.content == b"secret"
    assert (await guest.get(url)).status_code == 404
    assert (await outsider.get(url)).status_code == 404

    def guest_channel(tx: Any) -> str:
        from clickclack_server.store.users import insert_channel

        return insert_channel(tx, workspace_id=world.workspace_id, name="guest")

    lobby = await world.db.write(guest_channel)
    welcome = (await upload(world.owner, world.workspace_id, b"welcome"))["upload"]
    await post_message(world.owner, lobby, upload_id=welcome["id"])
    assert (await guest.get(f"/api/uploads/{welcome['id']}")).status_code == 200

    deleted = await world.owner.delete(f"/api/messages/{message['id']}")
    assert deleted.status_code == 200
    assert (await member.get(url)).status_code == 404
    assert (await world.owner.get(url)).status_code == 200
    # An uploader who leaves the workspace loses access too.
    await world.db.write(
        lambda tx: tx.execute(
            "DELETE FROM workspace_members WHERE workspace_id = ? AND user_id = ?",
            (world.workspace_id, world.owner.user_id),
        )
    )
    assert (await world.owner.get(url)).status_code == 404


async def test_visibility_of_direct_message_attachments(world: World) -> None:
    friend = await world.user("Friend")
    bystander = await world.user("Bystander")
    dm_reader = await world.bot(["bot:read"])
    narrow = await world.bot(["messages:read"])
    conversation = await make_dm(world, world.owner, friend, dm_reader, narrow)
    made = (await upload(world.owner, world.workspace_id, b"private"))["upload"]
    message_id = await post_dm(world, world.owner, conversation, made["id"])
    url = f"/api/uploads/{made['id']}"
    assert (await friend.get(url)).content == b"private"
    assert (await bystander.get(url)).status_code == 404
    assert (await dm_reader.get(url)).status_code == 200
    scoped = await narrow.get(url)
    assert scoped.status_code == 403
    assert scoped.json() == {"error": "bot token is missing scope dms:read"}
    outside_bot = await world.bot(["bot:read"])
    assert (await outside_bot.get(url)).status_code == 404
    fetched = await friend.get(f"/api/messages/{message_id}")
    assert fetched.json()["message"]["attachments"] == [made]


async def test_workspace_icon_is_visible_to_members(world: World) -> None:
    member = await world.user("Member")
    outsider = await world.user("Outsider", role="")
    icon = (
        await upload(
            world.owner, world.workspace_id, b"\x89PNG", filename="i.png", content_type="image/png"
        )
    )["upload"]
    url = f"/api/uploads/{icon['id']}"
    assert (await member.get(url)).status_code == 404
    patched = await world.owner.patch(
        f"/api/workspaces/{world.workspace_id}", json={"icon_url": url}
    )
    assert patched.status_code == 200, patched.text
    assert (await member.get(url)).status_code == 200
    assert (await outsider.get(url)).status_code == 404


# Attaching.


async def _message_updates(world: World, message_id: str) -> list[dict[str, Any]]:
    rows = await world.db.read(
        lambda tx: tx.all(
            "SELECT * FROM events WHERE type = 'message.updated' AND payload_json LIKE ? "
            "ORDER BY cursor",
            (f'%"{message_id}"%',),
        )
    )
    return [dict(row) for row in rows]


async def test_attach_to_own_message(world: World) -> None:
    message = await post_message(world.owner, world.channel_id)
    first = (await upload(world.owner, world.workspace_id, b"1"))["upload"]
    second = (await upload(world.owner, world.workspace_id, b"2"))["upload"]
    path = f"/api/messages/{message['id']}/attachments"
    attached = await world.owner.post(path, json={"upload_id": first["id"]})
    assert attached.status_code == 200
    assert attached.json() == {"ok": True}
    [event] = await _message_updates(world, message["id"])
    assert event["channel_id"] == world.channel_id and event["seq"] == message["channel_seq"]
    assert event["is_private"] == 0
    again = await world.owner.post(path, json={"upload_id": f"  {first['id']} "})
    assert again.status_code == 200 and again.json() == {"ok": True}
    assert len(await _message_updates(world, message["id"])) == 1
    await world.owner.post(path, json={"upload_id": second["id"]})
    assert len(await _message_updates(world, message["id"])) == 2
    fetched = (await world.owner.get(f"/api/messages/{message['id']}")).json()["message"]
    assert [a["id"] for a in fetched["attachments"]] == [first["id"], second["id"]]
    page = (await world.owner.get(f"/api/channels/{world.channel_id}/messages")).json()
    assert [a["id"] for a in page["messages"][-1]["attachments"]] == [first["id"], second["id"]]
    member = await world.user("Member")
    assert (await member.get(f"/api/uploads/{second['id']}")).content == b"2"


async def test_attach_rules(world: World) -> None:
    member = await world.user("Member")
    message = await post_message(world.owner, world.channel_id)
    path = f"/api/messages/{message['id']}/attachments"
    theirs = (await upload(member, world.workspace_id))["upload"]
    mine = (await upload(world.owner, world.workspace_id))["upload"]

    not_author = await member.post(path, json={"upload_id": theirs["id"]})
    assert not_author.status_code == 403
    assert not_author.json() == {
        "error": "message attachments can only be changed by the message author"
    }
    unreadable = await world.owner.post(path, json={"upload_id": theirs["id"]})
    assert unreadable.status_code == 400 and unreadable.json() == NO_ROWS
    other = await world.workspace()
    elsewhere = (await upload(world.owner, other))["upload"]
    foreign = await world.owner.post(path, json={"upload_id": elsewhere["id"]})
    assert foreign.status_code == 400
    assert foreign.json() == {"error": "upload is not in the message's workspace"}
    for body, error in (
        ({}, "upload_id is required"),
        ({"upload_id": "  "}, "upload_id is required"),
        ({"upload_id": "upl_00000000000000000000000000"}, NO_ROWS["error"]),
    ):
        response = await world.owner.post(path, json=body)
        assert response.status_code == 400
        assert response.json() == {"error": error}
    wrong_type = await world.owner.post(path, json={"upload_id": 5})
    assert wrong_type.status_code == 400
    not_json = await world.owner.post(path, content=b"{nope")
    assert not_json.status_code == 400
    unknown = await world.owner.post(
        "/api/messages/msg_00000000000000000000000000/attachments", json={"upload_id": mine["id"]}
    )
    assert unknown.status_code == 400 and unknown.json() == NO_ROWS
    outsider = await world.user("Outsider", role="")
    hidden = await outsider.post(path, json={"upload_id": mine["id"]})
    assert hidden.status_code == 400
    assert await _message_updates(world, message["id"]) == []

    await restrict(world, world.owner.user_id, "blocked_at", ids.now())
    blocked = await world.owner.post(path, json={"upload_id": mine["id"]})
    assert blocked.status_code == 403 and blocked.json() == {"error": "moderation restriction"}
    await world.db.write(lambda tx: tx.execute("DELETE FROM workspace_member_moderation"))

    assert (await world.owner.delete(f"/api/messages/{message['id']}")).status_code == 200
    gone = await world.owner.post(path, json={"upload_id": mine["id"]})
    assert gone.status_code == 400
    assert gone.json() == {"error": "message is deleted"}
    assert await _message_updates(world, message["id"]) == []


async def test_attach_on_create(world: World) -> None:
    made = (await upload(world.owner, world.workspace_id, b"inline"))["upload"]
    message = await post_message(world.owner, world.channel_id, upload_id=made["id"])
    assert message["attachments"] == [made]
    fetched = await world.owner.get(f"/api/messages/{message['id']}")
    assert fetched.json()["message"]["attachments"] == [made]
    member = await world.user("Member")
    assert (await member.get(f"/api/uploads/{made['id']}")).content == b"inline"
    other = await world.workspace()
    elsewhere = (await upload(world.owner, other))["upload"]
    refused = await world.owner.post(
        f"/api/channels/{world.channel_id}/messages",
        json={"body": "cross", "upload_id": elsewhere["id"]},
    )
    assert refused.status_code == 400


async def test_attach_bot_scopes(world: World) -> None:
    writer = await world.bot(["bot:write"])
    message = await post_message(writer, world.channel_id)
    made = (await upload(writer, world.workspace_id))["upload"]
    path = f"/api/messages/{message['id']}/attachments"
    assert (await writer.post(path, json={"upload_id": made["id"]})).json() == {"ok": True}

    no_uploads = await world.bot(["messages:read", "messages:write"])
    own_message = await post_message(no_uploads, world.channel_id)
    denied = await no_uploads.post(
        f"/api/messages/{own_message['id']}/attachments", json={"upload_id": made["id"]}
    )
    assert denied.status_code == 403
    assert denied.json() == {"error": "bot token is missing scope uploads:write"}
    no_messages = await world.bot(["uploads:write"])
    denied = await no_messages.post(path, json={"upload_id": made["id"]})
    assert denied.status_code == 403
    assert denied.json() == {"error": "bot token is missing scope messages:write"}

    channel_only = await world.bot(["uploads:write", "messages:write", "messages:read"])
    full = await world.bot(["bot:write"])
    conversation = await make_dm(world, world.owner, channel_only, full)
    for bot in (channel_only, full):
        dm_message = await post_dm(world, bot, conversation)
        dm_upload = (await upload(bot, world.workspace_id))["upload"]
        response = await bot.post(
            f"/api/messages/{dm_message}/attachments", json={"upload_id": dm_upload["id"]}
        )
        if bot is channel_only:
            assert response.status_code == 403
            assert response.json() == {"error": "bot token is missing scope dms:write"}
            assert await _message_updates(world, dm_message) == []
        else:
            assert response.json() == {"ok": True}
            [event] = await _message_updates(world, dm_message)
            assert event["is_private"] == 1
            rows = await world.db.read(
                lambda tx, event_id=event["id"]: tx.all(
                    "SELECT user_id FROM event_recipients WHERE event_id = ?", (event_id,)
                )
            )
            recipients = sorted(row[0] for row in rows)
            assert recipients == sorted([world.owner.user_id, channel_only.user_id, full.user_id])
            # A DM member reads it; the bot without dms:read cannot.
            assert (await world.owner.get(f"/api/uploads/{dm_upload['id']}")).status_code == 200


# Nothing is lost or left half-written.


async def test_failures_after_bytes_hit_disk_remove_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = await world.user("Member")
    original = upload_store.record

    def blocked_meanwhile(tx: Any, user_id: str, new: upload_store.NewUpload) -> Any:
        tx.execute(
            "INSERT INTO workspace_member_moderation (workspace_id, user_id, blocked_at) "
            "VALUES (?, ?, ?)",
            (new.workspace_id, user_id, ids.now()),
        )
        return original(tx, user_id, new)

    monkeypatch.setattr(upload_store, "record", blocked_meanwhile)
    refused = await upload(member, world.workspace_id, io.BytesIO(b"q" * (3 << 20)), expect=403)
    assert refused == {"error": "moderation restriction"}
    assert stored_files(world) == []

    competitor: dict[str, Any] = {}

    def raced(tx: Any, user_id: str, new: upload_store.NewUpload) -> Any:
        if not competitor:
            rival = upload_store.NewUpload(
                workspace_id=new.workspace_id,
                nonce=new.nonce,
                filename="rival.txt",
                content_type="text/plain",
                byte_size=1,
                storage_key="upload-" + "0" * 32,
            )
            competitor["upload"], _ = original(tx, user_id, rival)
        return original(tx, user_id, new)

    monkeypatch.setattr(upload_store, "record", raced)
    response = await member.post(
        "/api/uploads",
        params={"workspace_id": world.workspace_id, "nonce": "race"},
        files={"file": ("mine.txt", b"mine", "text/plain")},
    )
    assert response.status_code == 200
    assert response.json()["upload"]["id"] == competitor["upload"].id
    assert stored_files(world) == []


async def test_client_abort_mid_upload_leaves_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = trio.Event()
    aborted = trio.Event()
    create, abort = storage.BlobStore.create, storage.BlobWriter.abort

    async def tracked_create(self: storage.BlobStore) -> storage.BlobWriter:
        writer = await create(self)
        started.set()
        return writer

    async def tracked_abort(self: storage.BlobWriter) -> None:
        await abort(self)
        aborted.set()

    monkeypatch.setattr(storage.BlobStore, "create", tracked_create)
    monkeypatch.setattr(storage.BlobWriter, "abort", tracked_abort)

    class GaveUp(Exception):
        pass

    async def abandoned() -> AsyncIterator[bytes]:
        yield f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'.encode()
        yield b"x" * 200_000
        await started.wait()
        raise GaveUp

    with trio.fail_after(30):
        with pytest.raises(GaveUp):
            await raw_upload(world.owner, abandoned(), {"workspace_id": world.workspace_id})
        await aborted.wait()
    assert stored_files(world) == []
    assert await upload_rows(world) == []
