"""Request parsing and JSON responses shared by every handler."""

from __future__ import annotations

import builtins
import re
from typing import Any, NoReturn

import attrs
import orjson
import trio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from clickclack_sdk import to_data
from clickclack_server.errors import ApiError, Invalid, TooLarge

MAX_JSON_BODY = 1 << 20
DRAIN_LIMIT = 16 << 20
DRAIN_SECONDS = 60.0

_GO_TYPES = {
    str: "string",
    bool: "bool",
    int: "int",
    float: "float64",
    list: "array",
    dict: "object",
    type(None): "null",
}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise ``data`` (wire objects are unstructured first); body ends with a newline."""
    if attrs.has(type(data)):
        data = to_data(data)
    body = orjson.dumps(data, default=to_data) + b"\n"
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(message: str, status: int) -> Response:
    return json_response({"error": message}, status)


class EarlyAnswer(Response):
    """A JSON answer to a request whose body may not have been read to the end.

    Hypercorn closes the connection as soon as a response is complete while the request body is
    still unfinished, and a socket closed with unread bytes makes the kernel reset the connection.
    A client that writes the whole body before it reads (httpx does) then fails its write, and
    an asyncio client throws away the answer it had not yet read: it sees a reset, not the answer.

    This response sends its headers (with ``Connection: close``) and body at once, then holds back
    the end of the response while it reads and discards the rest of the request body, so the
    client can finish writing and read the answer from a connection that closes cleanly. The
    drain is bounded: ``drain_limit`` is the most body bytes the request may have read in total
    (``consumed`` were read already), ``drain_seconds`` how long the drain may take. A declared
    ``Content-Length`` over ``drain_limit`` is not drained at all; past either bound the
    connection is simply closed.
    """

    def __init__(
        self,
        request: Request,
        data: Any,
        status: int,
        *,
        drain_limit: int = DRAIN_LIMIT,
        consumed: int = 0,
        drain_seconds: float = DRAIN_SECONDS,
    ) -> None:
        super().__init__(
            orjson.dumps(data, default=to_data) + b"\n",
            status_code=status,
            media_type="application/json",
            headers={"Connection": "close"},
        )
        self.request = request
        self.drain_limit = drain_limit
        self.consumed = consumed
        self.drain_seconds = drain_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            await send({"type": "http.response.body", "body": self.body, "more_body": True})
            length = self.request.headers.get("content-length", "").strip()
            if not (length.isdigit() and int(length) > self.drain_limit):
                with trio.move_on_after(self.drain_seconds):
                    await discard_body(self.request, self.drain_limit - self.consumed)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except trio.BusyResourceError:
            # When the client hangs up, Hypercorn's trio worker half-closes the socket outside
            # its send lock, and a send racing that raises this. Nobody is left to answer.
            return


async def discard_body(request: Request, limit: int) -> bool:
    """Read and drop what is left of the request body; True when it ended within ``limit``
    more bytes (a body already read to the end counts), False past it or on a disconnect."""
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                return False
    except RuntimeError as exc:
        if str(exc) != "Stream consumed":
            raise
        return True  # Starlette's word for a body already read to the end.
    except ClientDisconnect:
        return False
    return True


async def read_body(request: Request, limit: int = MAX_JSON_BODY) -> bytes:
    """The raw body; over ``limit`` bytes -> 413 without keeping the excess.

    The excess is read and discarded (up to ``DRAIN_LIMIT``) before answering, so that clients
    that write the whole body before reading the response still see the 413 instead of a reset.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            if size > DRAIN_LIMIT:
                break
            continue
        chunks.append(chunk)
    if size > limit:
        raise TooLarge("http: request body too large")
    return b"".join(chunks)


def _unmarshal_error(value: Any, field: str, want: str) -> NoReturn:
    got = _GO_TYPES.get(type(value), "value")
    if got in ("int", "float64"):
        got = "number"
    raise Invalid(f"json: cannot unmarshal {got} into Go struct field .{field} of type {want}")


class Body:
    """A decoded JSON object with typed accessors; ``null`` reads as the field's zero value."""

    __slots__ = ("data",)

    def __init__(self, data: dict[builtins.str, Any]) -> None:
        self.data = data

    def has(self, key: builtins.str) -> bool:
        return key in self.data and self.data[key] is not None

    def str(self, key: builtins.str, default: builtins.str = "") -> str:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, builtins.str):
            _unmarshal_error(value, key, "string")
        return value

    def opt_str(self, key: builtins.str) -> builtins.str | None:
        return self.str(key) if self.has(key) else None

    def bool(self, key: builtins.str, default: builtins.bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, builtins.bool):
            _unmarshal_error(value, key, "bool")
        return value

    def opt_bool(self, key: builtins.str) -> builtins.bool | None:
        return self.bool(key) if self.has(key) else None

    def int(self, key: builtins.str, default: builtins.int = 0) -> int:
        value = self.data.get(key)
        if value is None:
            return default
        if isinstance(value, builtins.bool) or not isinstance(value, builtins.int | float):
            _unmarshal_error(value, key, "int64")
        if isinstance(value, float):
            if not value.is_integer():
                raise Invalid(
                    f"json: cannot unmarshal number {value} into Go struct field .{key} of type int64"
                )
            value = builtins.int(value)
        return value

    def opt_int(self, key: builtins.str) -> builtins.int | None:
        return self.int(key) if self.has(key) else None

    def str_list(self, key: builtins.str) -> list[builtins.str]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, builtins.list):
            _unmarshal_error(value, key, "[]string")
        for item in value:
            if not isinstance(item, builtins.str):
                _unmarshal_error(item, key, "string")
        return builtins.list(value)

    def obj(self, key: builtins.str) -> Body | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            _unmarshal_error(value, key, "struct")
        return Body(value)

    def list(self, key: builtins.str) -> list[Any] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, builtins.list):
            _unmarshal_error(value, key, "array")
        return value


def decode_json_object(raw: bytes) -> Body:
    """Decode exactly one JSON object the way the reference server's decoder reports errors."""
    if not raw.strip():
        raise Invalid("EOF")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if exc.msg == "unexpected content after document":
            raise Invalid("json request body must contain a single JSON value") from None
        raise Invalid(f"invalid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        got = _GO_TYPES.get(type(value), "value")
        if got in ("int", "float64"):
            got = "number"
        raise Invalid(f"json: cannot unmarshal {got} into Go value of type request")
    return Body(value)


async def read_json(request: Request, limit: int = MAX_JSON_BODY) -> Body:
    """Read and decode a JSON object body (1 MiB max, single value, unknown fields ignored)."""
    return decode_json_object(await read_body(request, limit))


def require_json_content_type(request: Request) -> None:
    """For endpoints that insist on JSON (magic consume, logout): 415 otherwise."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise ApiError("content-type must be application/json", 415)


_INTEGER = re.compile(r"-?[0-9]+")


def parse_int(raw: str, name: str) -> builtins.int:
    """A plain ASCII decimal integer (no ``_``, no other digits, no spaces); else 400."""
    text = raw.strip()
    if not _INTEGER.fullmatch(text):
        raise Invalid(f"{name} must be an integer")
    return builtins.int(text)


def query_int(request: Request, name: str) -> builtins.int | None:
    """An optional integer query parameter; present but not an integer -> 400."""
    raw = request.query_params.get(name)
    return None if raw is None else parse_int(raw, name)
