"""``client.uploads`` against the real server: streamed upload, nonce lookup, download."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from clickclack_sdk import Client, NotFound, PermissionDenied
from tests.conftest import World
from tests.sdk.conftest import ClientFactory


class OneWayReader(io.RawIOBase):
    """A non-seekable binary source (like a pipe) that counts the largest read asked for."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.largest = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.largest = max(self.largest, size)
        return self._data.read(size)


async def test_upload_path_and_download(world: World, owner: Client, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    source = tmp_path / "photo.png"
    source.write_bytes(data)
    upload = await owner.uploads.create(world.workspace_id, source, width=10, height=20)
    assert (upload.filename, upload.content_type, upload.byte_size) == (
        "photo.png",
        "image/png",
        len(data),
    )
    assert (upload.width, upload.height, upload.duration_ms) == (10, 20, 0)
    assert upload.nonce and upload.nonce.startswith("sdk-")
    target = tmp_path / "out" / "copy.png"
    target.parent.mkdir()
    done = await owner.uploads.download(upload, target)
    assert target.read_bytes() == data
    assert not (tmp_path / "out" / "copy.png.part").exists()
    assert (done.filename, done.content_type, done.byte_size) == (
        "photo.png",
        "image/png",
        len(data),
    )
    sink = io.BytesIO()
    assert (await owner.uploads.download(upload.id, sink)).byte_size == len(data)
    assert sink.getvalue() == data
    assert owner.uploads.url(upload).endswith(f"/api/uploads/{upload.id}")


async def test_upload_file_objects_stream_in_chunks(world: World, owner: Client) -> None:
    data = os.urandom(200_000)
    reader = OneWayReader(data)
    upload = await owner.uploads.create(
        world.workspace_id, reader, filename='notes/ünïcode "q".txt', content_type="text/plain"
    )
    assert upload.byte_size == len(data)
    assert upload.filename == 'ünïcode "q".txt'
    assert 0 < reader.largest <= 64 * 1024
    buffer = io.BytesIO(b"skip:" + data)
    buffer.seek(5)
    seekable = await owner.uploads.create(world.workspace_id, buffer)
    assert seekable.byte_size == len(data) and seekable.filename == "upload"
    assert seekable.content_type == "application/octet-stream"
    served = io.BytesIO()
    download = await owner.uploads.download(upload, served)
    assert served.getvalue() == data
    assert download.filename == 'ünïcode "q".txt'
    assert download.content_type.startswith("text/plain")


async def test_nonce_replay_lookup_and_attach(world: World, owner: Client) -> None:
    first = await owner.uploads.create(world.workspace_id, io.BytesIO(b"abc"), nonce="file-1")
    again = await owner.uploads.create(world.workspace_id, io.BytesIO(b"abc"), nonce="file-1")
    assert again.id == first.id
    assert await owner.uploads.by_nonce(world.workspace_id, "file-1") == first
    assert await owner.uploads.by_nonce(world.workspace_id, "missing") is None
    sent = await owner.messages.send(world.channel_id, "with file", upload=first)
    assert [a.id for a in sent.message.attachments or []] == [first.id]
    second = await owner.uploads.create(world.workspace_id, io.BytesIO(b"def"))
    plain = (await owner.messages.send(world.channel_id, "attach later")).message
    await owner.messages.attach(plain, second)
    await owner.messages.attach(plain, second)
    assert [a.id for a in (await owner.messages.get(plain)).attachments or []] == [second.id]


async def test_upload_errors(
    world: World, owner: Client, client_for: ClientFactory, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        await owner.uploads.create(world.workspace_id, tmp_path / "absent.bin")
    with pytest.raises(NotFound):
        await owner.uploads.download("upl_" + "0" * 26, tmp_path / "never")
    assert not (tmp_path / "never").exists() and not (tmp_path / "never.part").exists()
    reader = await world.bot(["bot:read"])
    async with client_for(reader) as client:
        with pytest.raises(PermissionDenied) as caught:
            await client.uploads.create(world.workspace_id, io.BytesIO(b"x"))
    assert caught.value.error == "bot token is missing scope uploads:write"
