"""A streamed ``multipart/form-data`` body for uploads.

The file is read in chunks as the request is written (through Trio's thread-backed file
wrappers, so the event loop never blocks on disk), never held in memory. The body can be
produced again for a retry when the source can be reopened (a path) or rewound (a seekable
file object).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import trio

CHUNK_SIZE = 64 * 1024


class BinaryReader(Protocol):
    """A blocking binary file object opened for reading (``open(..., "rb")``, ``BytesIO``,
    a raw pipe...). Seekable ones can be re-read for a retry."""

    def read(self, size: int = ..., /) -> bytes | None:
        """Up to ``size`` bytes; ``b""`` (or ``None``) at the end."""


Source = str | os.PathLike[str] | BinaryReader
"""What to upload: a path, or a binary file object."""


def _quoted(value: str) -> str:
    """A ``Content-Disposition`` quoted-string value: backslash escapes for ``"`` and ``\\``
    (what Go's and python-multipart's parsers undo), line breaks replaced by spaces."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


class MultipartFile:
    """One ``file`` part (plus leading text fields) as a re-playable async byte stream.

    ``source`` is a path or a binary file object opened for reading. ``content_length`` is
    known when the file's size is (a path, or a seekable file object), else ``None`` and the
    body goes out chunked.
    """

    def __init__(
        self,
        source: Source,
        *,
        filename: str,
        content_type: str,
        fields: dict[str, str] | None = None,
    ) -> None:
        self.boundary = "clickclack-" + secrets.token_hex(16)
        self._source = source
        self._start: int | None = None
        head = b""
        for name, value in (fields or {}).items():
            head += (
                f"--{self.boundary}\r\n"
                f'Content-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
                f"{value}\r\n"
            ).encode()
        head += (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{_quoted(filename)}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self._head = head
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        size = self._size()
        self.content_length = None if size is None else len(head) + size + len(self._tail)

    @property
    def content_type(self) -> str:
        """The request's ``Content-Type`` header value, boundary included."""
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def replayable(self) -> bool:
        """Whether :meth:`stream` can be called again after a failed attempt."""
        return isinstance(self._source, str | os.PathLike) or self._start is not None

    def _size(self) -> int | None:
        source = self._source
        if isinstance(source, str | os.PathLike):
            return os.stat(source).st_size
        file: Any = source
        try:
            if not file.seekable():
                return None
            self._start = file.tell()
            end = file.seek(0, os.SEEK_END)
            file.seek(self._start)
        except (AttributeError, OSError, ValueError):
            self._start = None
            return None
        return int(end - self._start)

    def stream(self) -> AsyncIterator[bytes]:
        """The whole body, reading the file chunk by chunk as it is consumed."""
        return _BodyStream(self._head, self._source, self._start, self._tail)


class _BodyStream:
    """Head, file chunks, tail. A plain async iterator rather than an async generator, so an
    abandoned upload leaves no generator to finalise; a file it opened itself is closed at the
    end (or with the object), a caller's file object is never closed."""

    def __init__(
        self,
        head: bytes,
        source: Source,
        start: int | None,
        tail: bytes,
    ) -> None:
        self._parts: list[bytes] = [head]
        self._source = source
        self._start = start
        self._tail = tail
        self._file: Any = None
        self._owned = False
        self._state = "head"

    def __aiter__(self) -> _BodyStream:
        return self

    async def __anext__(self) -> bytes:
        if self._state == "head":
            self._state = "open"
            return self._parts.pop()
        if self._state == "open":
            await self._open()
            self._state = "file"
        if self._state == "file":
            chunk = await self._file.read(CHUNK_SIZE)
            if chunk:
                return bytes(chunk)
            if self._owned:
                await self._file.aclose()
            self._state = "tail"
        if self._state == "tail":
            self._state = "done"
            return self._tail
        raise StopAsyncIteration

    async def _open(self) -> None:
        source = self._source
        if isinstance(source, str | os.PathLike):
            self._file = await trio.open_file(Path(source), "rb")
            self._owned = True
        else:
            file: Any = source
            if self._start is not None:
                await trio.to_thread.run_sync(file.seek, self._start)
            self._file = trio.wrap_file(file)
