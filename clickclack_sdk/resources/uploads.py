"""Uploads: streamed multipart upload, nonce lookup, streamed download (protocol 3.11)."""

from __future__ import annotations

import mimetypes
import os
import re
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

import httpx
import trio

from clickclack_sdk._envelopes import Download
from clickclack_sdk._errors import NetworkError
from clickclack_sdk._models import Upload
from clickclack_sdk._multipart import MultipartFile, Source
from clickclack_sdk._refs import Ref, ident, new_nonce, seg
from clickclack_sdk.resources._base import Resource
from clickclack_sdk.resources._sending import send_once

NONCE_SUPPORT_HEADER = "x-clickclack-upload-nonce"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_FILENAME_STAR = re.compile(r"filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)")
_FILENAME = re.compile(r'filename\s*=\s*"((?:[^"\\]|\\.)*)"')

Destination = str | os.PathLike[str] | IO[bytes]
"""Where a download goes: a path (written atomically), or a binary file object."""


def served_filename(disposition: str) -> str:
    """The file name from a ``Content-Disposition`` header (the RFC 5987 form preferred)."""
    star = _FILENAME_STAR.search(disposition)
    if star:
        return unquote(star.group(1).strip())
    plain = _FILENAME.search(disposition)
    if plain:
        return re.sub(r"\\(.)", r"\1", plain.group(1))
    return ""


class UploadsResource(Resource):
    """``client.uploads``: send files (streamed from disk), find them by nonce, download."""

    __slots__ = ()

    async def create(
        self,
        workspace: Ref,
        source: Source,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        nonce: str | None = None,
        width: int | None = None,
        height: int | None = None,
        duration_ms: int | None = None,
    ) -> Upload:
        """Upload a file without reading it into memory.

        The name defaults to the path's (or file object's) base name and the type is guessed
        from it. A nonce is generated unless given, so retries (for a path or a seekable file
        object) never store the file twice; an ambiguous final failure is resolved through
        ``GET /api/uploads/by-nonce``. Attach the result with ``messages.send(..., upload=)``.
        """
        workspace_id = ident(workspace)
        name = filename or _default_name(source)
        kind = content_type or mimetypes.guess_type(name)[0] or DEFAULT_CONTENT_TYPE
        fields = {
            key: str(value)
            for key, value in (("width", width), ("height", height), ("duration_ms", duration_ms))
            if value is not None
        }
        body = MultipartFile(source, filename=name, content_type=kind, fields=fields)
        nonce = nonce or new_nonce()
        headers = {"Content-Type": body.content_type}
        if body.content_length is not None:
            headers["Content-Length"] = str(body.content_length)

        async def post() -> Upload:
            return await self._client.call(
                "POST",
                "/api/uploads",
                Upload,
                "upload",
                params={"workspace_id": workspace_id, "nonce": nonce},
                content=body.stream,
                headers=headers,
                retry=body.replayable,
            )

        async def recover() -> Upload | None:
            return await self.by_nonce(workspace_id, nonce)

        return await send_once(post, recover)

    async def by_nonce(self, workspace: Ref, nonce: str) -> Upload | None:
        """The caller's upload sent with ``nonce`` in the workspace, ``None`` when none."""
        response = await self._client.request(
            "GET",
            "/api/uploads/by-nonce",
            params={"workspace_id": ident(workspace), "nonce": nonce},
            ok=lambda r: (
                r.is_success
                or (r.status_code == 404 and r.headers.get(NONCE_SUPPORT_HEADER) == "supported")
            ),
        )
        if response.status_code == 404:
            return None
        return self._client.decode(response, Upload, "upload")

    def url(self, upload: Ref) -> str:
        """The download URL (also the form a workspace ``icon_url`` takes, relative)."""
        return f"{self._client.base_url}/api/uploads/{seg(upload)}"

    async def download(self, upload: Ref, destination: Destination) -> Download:
        """Stream the file's bytes into ``destination``.

        A path is written to ``<name>.part`` and renamed when complete, so a failed download
        never leaves a truncated file under the final name. A file object is written from its
        current position and left open.
        """
        async with self._client.stream("GET", f"/api/uploads/{seg(upload)}") as response:
            filename = served_filename(response.headers.get("content-disposition", ""))
            content_type = response.headers.get("content-type", DEFAULT_CONTENT_TYPE)
            if not isinstance(destination, str | os.PathLike):
                size = await _copy(response.aiter_bytes(), trio.wrap_file(destination))
            else:
                final = trio.Path(os.fspath(destination))
                partial = final.with_name(final.name + ".part")
                try:
                    async with await partial.open("wb") as file:
                        size = await _copy(response.aiter_bytes(), file)
                    await partial.replace(final)
                except BaseException:
                    with trio.CancelScope(shield=True):
                        await partial.unlink(missing_ok=True)
                    raise
        return Download(filename=filename, content_type=content_type, byte_size=size)


async def _copy(chunks: Any, file: Any) -> int:
    """Write every chunk to ``file``; a connection failing mid-body is a NetworkError."""
    size = 0
    try:
        async for chunk in chunks:
            await file.write(chunk)
            size += len(chunk)
    except httpx.TransportError as exc:
        raise NetworkError(f"download interrupted after {size} bytes: {exc!r}") from exc
    return size


def _default_name(source: Source) -> str:
    raw: Any = (
        os.fspath(source)
        if isinstance(source, str | os.PathLike)
        else getattr(source, "name", None)
    )
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str) or not raw.strip():
        return "upload"
    return Path(raw).name or "upload"
