"""The streamed multipart body: well-formed, exact length, replayable where possible."""

from __future__ import annotations

import io
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header

from clickclack_sdk._multipart import CHUNK_SIZE, MultipartFile


def _parse(body: bytes, boundary: str) -> list[tuple[dict[bytes, bytes], bytes]]:
    parts: list[tuple[dict[bytes, bytes], bytes]] = []
    state: dict[str, bytes] = {"field": b"", "value": b""}
    headers: dict[bytes, bytes] = {}
    data = bytearray()

    def on_header_field(raw: bytes, start: int, end: int) -> None:
        state["field"] += raw[start:end]

    def on_header_value(raw: bytes, start: int, end: int) -> None:
        state["value"] += raw[start:end]

    def on_header_end() -> None:
        headers[state["field"].lower()] = state["value"]
        state["field"] = state["value"] = b""

    def on_part_data(raw: bytes, start: int, end: int) -> None:
        data.extend(raw[start:end])

    def on_part_end() -> None:
        parts.append((dict(headers), bytes(data)))
        headers.clear()
        data.clear()

    parser = MultipartParser(
        boundary.encode(),
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    parser.write(body)
    parser.finalize()
    return parts


async def _collect(body: MultipartFile) -> bytes:
    chunks = [chunk async for chunk in body.stream()]
    assert all(len(chunk) <= max(CHUNK_SIZE, 512) for chunk in chunks)
    return b"".join(chunks)


async def test_path_body_is_well_formed_and_replayable(tmp_path: Path) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(bytes(range(256)) * 1000)
    body = MultipartFile(
        source, filename='we"ird\\name\r\n.bin', content_type="application/x", fields={"width": "5"}
    )
    assert body.replayable
    first = await _collect(body)
    assert len(first) == body.content_length
    assert await _collect(body) == first
    kind, params = parse_options_header(body.content_type.encode())
    assert kind == b"multipart/form-data" and params[b"boundary"].decode() == body.boundary
    [width, file] = _parse(first, body.boundary)
    assert width[1] == b"5"
    assert file[1] == source.read_bytes()
    _, disposition = parse_options_header(file[0][b"content-disposition"])
    assert disposition[b"filename"] == b'we"ird\\name  .bin'
    assert file[0][b"content-type"] == b"application/x"


async def test_seekable_object_starts_at_its_position_and_replays() -> None:
    buffer = io.BytesIO(b"header|payload")
    buffer.seek(7)
    body = MultipartFile(buffer, filename="p", content_type="text/plain")
    assert body.replayable and body.content_length is not None
    first = await _collect(body)
    assert _parse(first, body.boundary)[0][1] == b"payload"
    assert await _collect(body) == first
    assert not buffer.closed


async def test_unseekable_object_streams_once_without_length() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self._data = io.BytesIO(b"x" * 100_000)

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            return self._data.read(size)

    body = MultipartFile(Pipe(), filename="p", content_type="text/plain")
    assert not body.replayable and body.content_length is None
    assert _parse(await _collect(body), body.boundary)[0][1] == b"x" * 100_000
