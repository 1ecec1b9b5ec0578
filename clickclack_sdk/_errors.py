"""The SDK's one exception hierarchy, rooted at :class:`ClickClackError`.

The server's error bodies are ``{"error": "<text>"}`` without machine codes: the HTTP status is
the category and the text is the detail. Each class here is one category a caller can act on;
``status`` and ``error`` keep the raw facts for everything else.
"""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime
from time import time

import httpx

NO_ROWS = "sql: no rows in result set"
"""The reference server's text for a missing row, answered with 400 on most routes."""


class ClickClackError(Exception):
    """Any failure talking to a ClickClack server.

    ``status`` is the HTTP status (``None`` when no response arrived), ``error`` the server's
    error text ("" when there was none) and ``correlation_id`` the ``X-Correlation-ID`` the
    server answered with, for matching a failure with the server's logs.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str = "",
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error = error
        self.correlation_id = correlation_id


class NetworkError(ClickClackError):
    """No usable response: the connection failed, broke or timed out (see ``__cause__``)."""


class AuthenticationError(ClickClackError):
    """401: the credential is missing, unknown, expired or revoked."""


class PermissionDenied(ClickClackError):
    """403: authenticated, but not allowed (role, bot scope, other workspace, moderation)."""


class NotFound(ClickClackError):
    """404, or a 400 whose text says the row does not exist (the reference server's quirk)."""


class InvalidRequest(ClickClackError):
    """400: validation failures, conflicts the server reports as 400, non-member access."""


class Conflict(ClickClackError):
    """409: e.g. a nonce used elsewhere, or a DM without an active recipient."""


class PayloadTooLarge(ClickClackError):
    """413: a body over its limit or an exhausted upload quota."""


class RateLimited(ClickClackError):
    """429: slow down; ``retry_after`` is the server's hint in seconds, when it sent one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str = "",
        correlation_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, error=error, correlation_id=correlation_id)
        self.retry_after = retry_after


class ServerUnavailable(ClickClackError):
    """5xx: the server failed or is not ready; ``retry_after`` as for :class:`RateLimited`."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str = "",
        correlation_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, error=error, correlation_id=correlation_id)
        self.retry_after = retry_after


class RealtimeClosed(ClickClackError):
    """The server ended a realtime stream in a way reconnecting cannot fix.

    ``code`` and ``reason`` are the WebSocket close code and reason (1008 for revoked
    credentials or lost workspace access).
    """

    def __init__(self, message: str, *, code: int, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class ResyncRequired(RealtimeClosed):
    """Realtime close 4001: the server cannot replay from ``cursor``.

    Refetch state through REST, then start a fresh stream (``after_cursor=None``). ``cursor`` is
    the last cursor the stream delivered (or the one it was started from).
    """

    def __init__(self, message: str, *, cursor: str | None, reason: str = "") -> None:
        super().__init__(message, code=4001, reason=reason)
        self.cursor = cursor


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time()
    if seconds != seconds or seconds == float("inf"):  # NaN or infinity
        return None
    return max(0.0, seconds)


def error_text(body: bytes) -> str:
    """The ``error`` field of a JSON error body, or "" when the body is something else."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    return ""


def _looks_missing(text: str) -> bool:
    return text == NO_ROWS or text.endswith(" not found")


_BY_STATUS: dict[int, type[ClickClackError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    400: InvalidRequest,
    409: Conflict,
    413: PayloadTooLarge,
}


def error_for_status(
    status: int,
    text: str,
    *,
    retry_after: float | None = None,
    correlation_id: str | None = None,
) -> ClickClackError:
    """The exception for a non-2xx answer with error ``text`` (also used for WS rejections)."""
    message = f"{status}: {text}" if text else str(status)
    if status == 429:
        return RateLimited(
            message,
            status=status,
            error=text,
            correlation_id=correlation_id,
            retry_after=retry_after,
        )
    if status >= 500:
        return ServerUnavailable(
            message,
            status=status,
            error=text,
            correlation_id=correlation_id,
            retry_after=retry_after,
        )
    cls = _BY_STATUS.get(status, ClickClackError)
    if status == 400 and _looks_missing(text):
        cls = NotFound
    return cls(message, status=status, error=text, correlation_id=correlation_id)


def error_from_response(response: httpx.Response) -> ClickClackError:
    """The exception for a non-2xx ``response`` (its error text only if the body was read)."""
    try:
        body = response.content
    except httpx.ResponseNotRead:
        body = b""
    return error_for_status(
        response.status_code,
        error_text(body),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        correlation_id=response.headers.get("x-correlation-id"),
    )
