"""Errors raised by the store and the request layer, and their HTTP statuses.

The store knows nothing of HTTP: it raises :class:`StoreError` subclasses whose ``status`` follows
the reference server's ``writeStoreError`` mapping. Not-found is 400 there on most routes; the few
routes that answer 404 convert it explicitly.
"""

from __future__ import annotations

NO_ROWS = "sql: no rows in result set"


class ApiError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class StoreError(ApiError):
    """A store-level failure; the default category answers 400 (validation, non-member, ...)."""


class NotFound(StoreError):
    """A row that does not exist (or the caller may not see). 400 unless a route says 404."""

    def __init__(self, message: str = NO_ROWS) -> None:
        super().__init__(message)


class Invalid(StoreError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(StoreError):
    status = 403


class Conflict(StoreError):
    status = 409


class TooLarge(StoreError):
    status = 413


class RateLimited(StoreError):
    status = 429


class Unavailable(ApiError):
    status = 503
