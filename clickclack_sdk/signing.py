"""Signatures on ClickClack's outbound callbacks (slash commands, event subscriptions).

ClickClack signs every callback request it sends with the registration's ``signing_secret``::

    X-ClickClack-Timestamp: <unix seconds>
    X-ClickClack-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

The server uses :func:`signature_headers` to produce them; a callback receiver (a bot, a script)
uses :func:`verify_signature` on the *raw* request body, before decoding it, to check that the
request came from ClickClack and was not altered or replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

__all__ = [
    "DEFAULT_TOLERANCE",
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_PREFIX",
    "TIMESTAMP_HEADER",
    "InvalidSignature",
    "is_valid_signature",
    "sign",
    "signature_headers",
    "verify_request",
    "verify_signature",
]

TIMESTAMP_HEADER = "X-ClickClack-Timestamp"
SIGNATURE_HEADER = "X-ClickClack-Signature"
EVENT_ID_HEADER = "X-ClickClack-Event-ID"
SIGNATURE_PREFIX = "sha256="

DEFAULT_TOLERANCE = 300
"""Seconds a signed timestamp may differ from the receiver's clock (replay window)."""


class InvalidSignature(ValueError):
    """A callback request whose signature headers are missing, stale or do not match."""


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """``sha256=<hex>`` for ``body`` sent at ``timestamp`` (unix seconds) under ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signature_headers(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The timestamp and signature headers for one request (``timestamp`` defaults to now)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(secret, stamp, body)}


def verify_signature(
    secret: str | Iterable[str],
    body: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raise :class:`InvalidSignature` unless ``signature`` signs ``body`` at ``timestamp``.

    ``secret`` may be several secrets (for example the old and the new one while a rotation is
    rolled out); any of them may match. ``tolerance`` bounds the clock difference in seconds
    (``None`` disables the check, which also disables replay protection).
    """
    if not timestamp or not signature:
        raise InvalidSignature("missing signature headers")
    stamp = timestamp.strip()
    if not stamp.isascii() or not stamp.isdigit():
        raise InvalidSignature("malformed signature timestamp")
    if tolerance is not None:
        current = time.time() if now is None else now
        if abs(current - int(stamp)) > tolerance:
            raise InvalidSignature("signature timestamp is outside the tolerance window")
    offered = signature.strip()
    if not offered.startswith(SIGNATURE_PREFIX):
        raise InvalidSignature("unsupported signature scheme")
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise InvalidSignature("no signing secret to verify with")
    for candidate in secrets:
        if hmac.compare_digest(sign(candidate, stamp, body), offered):
            return
    raise InvalidSignature("signature does not match")


def verify_request(
    secret: str | Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """:func:`verify_signature` reading the two headers from ``headers`` (any mapping; names
    are matched case-insensitively, so plain dicts work as well as httpx/Starlette headers)."""
    verify_signature(
        secret,
        body,
        timestamp=_header(headers, TIMESTAMP_HEADER),
        signature=_header(headers, SIGNATURE_HEADER),
        tolerance=tolerance,
        now=now,
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, found in headers.items():
        if key.lower() == wanted:
            return found
    return None


def is_valid_signature(
    secret: str | Iterable[str],
    body: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """:func:`verify_signature` as a boolean."""
    try:
        verify_signature(
            secret, body, timestamp=timestamp, signature=signature, tolerance=tolerance, now=now
        )
    except InvalidSignature:
        return False
    return True
