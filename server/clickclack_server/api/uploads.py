"""Uploads: streamed multipart upload, nonce lookup, hardened download, attaching to messages
(protocol 3.11).

``POST /api/uploads`` never holds the file in memory: the multipart body is parsed as it arrives
and the ``file`` part is written straight to a temporary blob, which is published and recorded
only once the whole request was valid. Any failure after bytes reached the disk removes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import attrs
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from clickclack_sdk import Upload
from clickclack_server.errors import ApiError, Invalid, NotFound, TooLarge
from clickclack_server.http import EarlyAnswer, json_response, read_json
from clickclack_server.server import current
from clickclack_server.storage import BlobStore, BlobWriter
from clickclack_server.store import uploads as store
from clickclack_server.text import normalize_nonce

NONCE_HEADER = {"X-ClickClack-Upload-Nonce": "supported"}
BODY_TOO_LARGE = "http: request body too large"
NOT_MULTIPART = "request Content-Type isn't multipart/form-data"
MAX_FIELD_BYTES = 1024
MAX_FILENAME_CHARS = 255
MAX_CONTENT_TYPE_CHARS = 255
INT_FIELDS = ("width", "height", "duration_ms")
MAX_INT_FIELD = (1 << 53) - 1
DEFAULT_FILENAME = "upload"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
DRAIN_MARGIN = 16 << 20
"""Body bytes past ``MAX_REQUEST_BYTES`` an early answer still drains so the client can read it."""
DRAIN_SECONDS = 60.0
"""How long an early answer keeps draining before it closes the connection anyway."""

INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "video/mp4",
        "video/webm",
        "application/pdf",
    }
)
_TOKEN = re.compile(r"^[a-z0-9!#$&^_.+-]+$")
_DIGITS = re.compile(r"[0-9]{1,20}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RFC5987_SAFE = "!#$&+-.^_`|~"


# Filenames and content types.


def clean_filename(raw: str) -> str:
    """The basename of a client path (``/`` and ``\\`` both separate), without control
    characters, at most 255 characters (keeping the extension); never empty."""
    name = _CONTROL.sub("", raw).replace("\\", "/").rstrip("/")
    name = name.rsplit("/", 1)[-1].strip()
    if name in ("", ".", ".."):
        return DEFAULT_FILENAME
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= 16:
            name = stem[: MAX_FILENAME_CHARS - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_FILENAME_CHARS]
    return name


def clean_content_type(raw: str) -> str:
    """The part's ``Content-Type`` as sent (trimmed), or octet-stream when absent or unusable."""
    value = raw.strip()
    if not value or _CONTROL.search(value) or len(value) > MAX_CONTENT_TYPE_CHARS:
        return DEFAULT_CONTENT_TYPE
    return value


def served_content_type(stored: str) -> tuple[str, bool]:
    """The download ``Content-Type`` (a safe set; anything else is octet-stream) and whether the
    browser may show it inline."""
    mime, _, params = stored.partition(";")
    mime = mime.strip().lower()
    kind, _, subtype = mime.partition("/")
    if mime in INLINE_TYPES:
        return mime, True
    if kind == "audio" and _TOKEN.fullmatch(subtype):
        return mime, True
    if mime == "text/plain":
        charset = "utf-8"
        for param in params.split(";"):
            key, _, value = param.partition("=")
            value = value.strip().strip('"').lower()
            if key.strip().lower() == "charset" and _TOKEN.fullmatch(value):
                charset = value
        return f"text/plain; charset={charset}", True
    return DEFAULT_CONTENT_TYPE, False


def content_disposition(disposition: str, filename: str) -> str:
    """``inline``/``attachment`` with an ASCII ``filename`` fallback and, when the name needs it,
    an RFC 5987 ``filename*`` (RFC 6266) that browsers prefer."""
    name = _CONTROL.sub("", filename) or DEFAULT_FILENAME
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%' else "_" for ch in name)
    value = f'{disposition}; filename="{fallback}"'
    if fallback != name:
        value += "; filename*=UTF-8''" + quote(name, safe=_RFC5987_SAFE)
    return value


# Multipart intake.


def _limit(name: str) -> int:
    """A store limit, read at call time so it can be lowered while the server runs."""
    value: int = getattr(store, name)
    return value


def _boundary(content_type: str) -> bytes:
    """The multipart boundary of the request; anything but multipart/form-data is a 400."""
    kind, params = parse_options_header(content_type.encode("latin-1", "replace"))
    if kind != b"multipart/form-data":
        raise Invalid(NOT_MULTIPART)
    boundary = params.get(b"boundary", b"")
    if not boundary:
        raise Invalid("no multipart boundary param in Content-Type")
    if len(boundary) > 70:
        raise Invalid("multipart boundary is too long")
    return boundary


def _int_field(name: str, text: str) -> int:
    """A non-negative decimal integer (ASCII digits only), at most 2**53 - 1."""
    text = text.strip()
    if not _DIGITS.fullmatch(text) or int(text) > MAX_INT_FIELD:
        raise Invalid(f"invalid {name}")
    return int(text)


@attrs.define
class _Progress:
    """How many body bytes the handler read; an early answer drains what is left."""

    received: int = 0


@attrs.define
class _Part:
    """The part being parsed: what it is and what it collected so far."""

    role: str
    name: str = ""
    text: bytearray = attrs.field(factory=bytearray)


class _Intake:
    """Drives python-multipart over the request stream and acts on its events.

    The parser's callbacks only record events (they run synchronously inside ``write``); the
    events are then handled asynchronously, so blob writes and database checks can await.
    """

    def __init__(
        self,
        request: Request,
        blobs: BlobStore,
        progress: _Progress,
        *,
        query_workspace: str,
        admit: Callable[[str], Any],
    ) -> None:
        self.request = request
        self.blobs = blobs
        self.progress = progress
        self.query_workspace = query_workspace
        self.form_workspace = ""
        self.admit = admit
        self.events: list[tuple[str, Any]] = []
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: list[tuple[bytes, bytes]] = []
        self.part: _Part | None = None
        self.writer: BlobWriter | None = None
        self.bytes_left = 0
        self.filename = ""
        self.content_type = ""
        self.ints: dict[str, int] = {}
        self.finished = False

    # Parser callbacks: record only.

    def _on_part_begin(self) -> None:
        self.headers = []

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def _on_header_end(self) -> None:
        self.headers.append((bytes(self.header_field).strip().lower(), bytes(self.header_value)))
        self.header_field = bytearray()
        self.header_value = bytearray()

    def _on_headers_finished(self) -> None:
        self.events.append(("headers", self.headers))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.events.append(("data", data[start:end]))

    def _on_part_end(self) -> None:
        self.events.append(("end", None))

    def _on_end(self) -> None:
        self.events.append(("done", None))

    async def run(self, boundary: bytes) -> None:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
        )
        limit = _limit("MAX_REQUEST_BYTES")
        async for chunk in self.request.stream():
            self.progress.received += len(chunk)
            if self.progress.received > limit:
                raise TooLarge(BODY_TOO_LARGE)
            if self.finished:
                continue
            try:
                parser.write(chunk)
            except MultipartParseError:
                raise Invalid("malformed multipart body") from None
            await self._drain()
        if not self.finished:
            raise Invalid("multipart body ended before its closing boundary")

    async def _drain(self) -> None:
        events, self.events = self.events, []
        for kind, payload in events:
            if kind == "headers":
                await self._start_part(payload)
            elif kind == "data":
                await self._part_data(payload)
            elif kind == "end":
                self._end_part()
            else:
                self.finished = True

    async def _start_part(self, headers: list[tuple[bytes, bytes]]) -> None:
        disposition = b""
        part_type = b""
        for key, value in headers:
            if key == b"content-disposition":
                disposition = value
            elif key == b"content-type":
                part_type = value
        kind, params = parse_options_header(disposition)
        name = params.get(b"name", b"").decode("utf-8", "replace") if kind == b"form-data" else ""
        if name == "file":
            if self.writer is not None:
                raise Invalid("only one file is supported")
            workspace_id = self.query_workspace or self.form_workspace
            if not workspace_id:
                raise Invalid("workspace_id is required")
            if not self.query_workspace:
                admission = await self.admit(workspace_id)
                self.bytes_left = admission.bytes_left
            self.filename = clean_filename(params.get(b"filename", b"").decode("utf-8", "replace"))
            self.content_type = clean_content_type(part_type.decode("utf-8", "replace"))
            self.writer = await self.blobs.create()
            self.part = _Part("file", name)
        elif name == "workspace_id" or name in INT_FIELDS:
            if name == "workspace_id" and self.writer is not None:
                raise Invalid("workspace_id must come before file")
            self.part = _Part("text", name)
        else:
            self.part = _Part("ignored", name)

    async def _part_data(self, data: bytes) -> None:
        part = self.part
        if part is None:
            return
        if part.role == "file":
            assert self.writer is not None
            await self.writer.write(data)
            if self.writer.size > self.bytes_left:
                raise TooLarge(store.QUOTA_EXCEEDED)
        elif part.role == "text":
            part.text += data
            if len(part.text) > MAX_FIELD_BYTES:
                raise Invalid(f"{part.name} is too long")

    def _end_part(self) -> None:
        part, self.part = self.part, None
        if part is None or part.role != "text":
            return
        try:
            text = part.text.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise Invalid(f"invalid {part.name}") from None
        if part.name == "workspace_id":
            if not text:
                return
            if self.query_workspace and text != self.query_workspace:
                raise Invalid("workspace_id does not match the query")
            if self.form_workspace and text != self.form_workspace:
                raise Invalid("conflicting workspace_id values")
            self.form_workspace = text
        elif text:
            self.ints[part.name] = _int_field(part.name, text)


def _early_answer(request: Request, data: Any, status: int, progress: _Progress) -> EarlyAnswer:
    """An answer given before the body was (necessarily) read to the end: the rest is drained,
    up to the request limit plus :data:`DRAIN_MARGIN` in all, before the connection closes."""
    return EarlyAnswer(
        request,
        data,
        status,
        drain_limit=_limit("MAX_REQUEST_BYTES") + DRAIN_MARGIN,
        consumed=progress.received,
        drain_seconds=DRAIN_SECONDS,
    )


async def create_upload(request: Request) -> Response:
    """``POST /api/uploads``: 201 when stored, 200 on a nonce replay. Refusals and replays may
    come before the body was read; they close the connection (see :class:`EarlyAnswer`)."""
    progress = _Progress()
    try:
        upload, status = await _receive_upload(request, progress)
    except ApiError as exc:
        return _early_answer(request, {"error": exc.message}, exc.status, progress)
    except ClientDisconnect:
        # The client went away mid-upload; its partial bytes are already gone.
        return Response(status_code=400)
    if status == 201:
        return json_response({"upload": upload}, 201)
    return _early_answer(request, {"upload": upload}, status, progress)


async def _receive_upload(request: Request, progress: _Progress) -> tuple[Upload, int]:
    server, actor = await current(request)
    actor.require_scope("uploads:write")
    length = request.headers.get("content-length", "").strip()
    if length.isdigit() and int(length) > _limit("MAX_REQUEST_BYTES"):
        raise TooLarge(BODY_TOO_LARGE)
    boundary = _boundary(request.headers.get("content-type", ""))
    query_workspace = request.query_params.get("workspace_id", "").strip()
    nonce = normalize_nonce(request.query_params.get("nonce", ""))
    if nonce and not query_workspace:
        raise Invalid("nonce requires workspace_id in the query")

    async def admit(workspace_id: str) -> store.Admission:
        actor.require_workspace(workspace_id)
        admission: store.Admission = await server.db.read(
            store.admit, actor.user_id, workspace_id, nonce
        )
        return admission

    blobs = BlobStore(server.uploads_dir)
    intake = _Intake(request, blobs, progress, query_workspace=query_workspace, admit=admit)
    if query_workspace:
        admission = await admit(query_workspace)
        if admission.replay is not None:
            return admission.replay, 200
        intake.bytes_left = admission.bytes_left
    try:
        await intake.run(boundary)
        if intake.writer is None:
            raise Invalid("file is required")
        size = intake.writer.size
        key = await intake.writer.commit()
    except BaseException:
        if intake.writer is not None:
            await intake.writer.abort()
        raise
    new = store.NewUpload(
        workspace_id=query_workspace or intake.form_workspace,
        nonce=nonce,
        filename=intake.filename,
        content_type=intake.content_type,
        byte_size=size,
        storage_key=key,
        width=intake.ints.get("width", 0),
        height=intake.ints.get("height", 0),
        duration_ms=intake.ints.get("duration_ms", 0),
    )
    try:
        upload, created = await server.db.write(store.record, actor.user_id, new)
    except BaseException:
        await blobs.delete(key)
        raise
    if not created:
        await blobs.delete(key)
        return upload, 200
    return upload, 201


async def upload_by_nonce(request: Request) -> Response:
    """``GET /api/uploads/by-nonce``: every answer carries the nonce-support header."""
    try:
        server, actor = await current(request)
        actor.require_scope("uploads:write")
        workspace_id = request.query_params.get("workspace_id", "").strip()
        nonce = request.query_params.get("nonce", "").strip()
        if not workspace_id:
            raise Invalid("workspace_id is required")
        if not nonce:
            raise Invalid("nonce is required")
        actor.require_workspace(workspace_id)
        upload = await server.db.read(store.by_nonce, actor.user_id, workspace_id, nonce)
    except NotFound:
        return json_response({"error": "upload not found"}, 404, headers=NONCE_HEADER)
    except ApiError as exc:
        return json_response({"error": exc.message}, exc.status, headers=NONCE_HEADER)
    return json_response({"upload": upload}, headers=NONCE_HEADER)


async def download_upload(request: Request) -> Response:
    """``GET /api/uploads/{id}``: stream the bytes under a safe type; invisible -> 404."""
    server, actor = await current(request)
    actor.require_scope("messages:read")
    try:
        found = await server.db.read(
            store.readable, request.path_params["upload_id"], actor.user_id
        )
    except NotFound:
        return json_response({"error": "upload not found"}, 404)
    if found.in_direct_message:
        actor.require_scope("dms:read")
    actor.require_workspace(found.upload.workspace_id)
    blob = await BlobStore(server.uploads_dir).locate(found.storage_key)
    if blob is None:
        return json_response({"error": "upload not found"}, 404)
    media_type, inline = served_content_type(found.upload.content_type)
    headers = {
        "Content-Disposition": content_disposition(
            "inline" if inline else "attachment", found.upload.filename
        ),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, no-cache",
    }
    return FileResponse(blob.path, media_type=media_type, headers=headers, stat_result=blob.stat)


async def attach_upload(request: Request) -> Response:
    """``POST /api/messages/{id}/attachments``: the author attaches a readable upload."""
    server, actor = await current(request)
    actor.require_scope("uploads:write", "messages:write")
    body = await read_json(request)
    await server.db.write(
        store.attach, actor, request.path_params["message_id"], body.str("upload_id")
    )
    return json_response({"ok": True})


routes: list[BaseRoute] = [
    Route("/api/uploads", create_upload, methods=["POST"]),
    Route("/api/uploads/by-nonce", upload_by_nonce, methods=["GET"]),
    Route("/api/uploads/{upload_id}", download_upload, methods=["GET"]),
    Route("/api/messages/{message_id}/attachments", attach_upload, methods=["POST"]),
]
