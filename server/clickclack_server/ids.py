"""Identifiers, secrets and timestamps in the shapes protocol section 1 fixes."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

from ulid import ULID, ULIDGenerator

ROUTE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

_last_ms = 0
_clock_lock = threading.Lock()


def _monotonic_ms() -> int:
    """Wall-clock milliseconds that never go backwards within this process."""
    global _last_ms
    with _clock_lock:
        _last_ms = max(_last_ms, time.time_ns() // 1_000_000)
        return _last_ms


_generator = ULIDGenerator(clock=_monotonic_ms)


def new_ulid() -> str:
    """A lower-case ULID, strictly increasing within this process."""
    return str(_generator.generate()).lower()


def new_id(prefix: str) -> str:
    """``<prefix>_<ulid>``, e.g. ``msg_01j...``. Never a secret: ids are guessable by design."""
    return f"{prefix}_{new_ulid()}"


SECRET_BYTES = 32
SECRET_BODY_CHARS = 52  # 256 bits in base32, the first character carrying the top 1 bit


def new_secret(prefix: str) -> str:
    """``<prefix>_<52 lower-case Crockford characters>``: 256 bits from ``secrets`` alone.

    Secrets look like ids (prefix, underscore, lower-case base32) but share nothing with the id
    generator, so no id, and no other secret, says anything about them (protocol 1.1).
    """
    number = int.from_bytes(secrets.token_bytes(SECRET_BYTES), "big")
    chars = []
    for _ in range(SECRET_BODY_CHARS):
        number, index = divmod(number, 32)
        chars.append(ROUTE_ALPHABET[index])
    return f"{prefix}_" + "".join(reversed(chars)).lower()


def ulid_at_ms(ms: int) -> str:
    """A ULID whose timestamp is ``ms`` with fresh randomness (used to bump cursors forward)."""
    return str(ULID.from_bytes(ms.to_bytes(6, "big") + secrets.token_bytes(10))).lower()


def ulid_ms(value: str) -> int:
    """The millisecond timestamp inside a (lower-case) ULID string."""
    return ULID.from_str(value.upper()).milliseconds


def new_route_id(prefix: str) -> str:
    """A public route id: one letter and 16 upper-case Crockford characters (80 random bits)."""
    number = int.from_bytes(secrets.token_bytes(10), "big")
    chars = []
    for _ in range(16):
        number, index = divmod(number, 32)
        chars.append(ROUTE_ALPHABET[index])
    return prefix + "".join(reversed(chars))


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a trimmed secret; the only form secrets are stored in."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def format_ns(ns: int) -> str:
    """Fixed-width RFC 3339 UTC with nanoseconds: the sortable storage form."""
    seconds, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}Z"


def now() -> str:
    """The current time in storage form."""
    return format_ns(time.time_ns())


def wire_time(stored: str) -> str:
    """Storage form -> Go's RFC3339Nano (trailing fractional zeros trimmed)."""
    if stored.endswith("Z") and "." in stored:
        head, _, frac = stored[:-1].partition(".")
        frac = frac.rstrip("0")
        return f"{head}.{frac}Z" if frac else f"{head}Z"
    return stored


def opt_wire_time(stored: str | None) -> str | None:
    return None if stored is None else wire_time(stored)


def parse_rfc3339_ns(text: str) -> int:
    """Parse an RFC 3339 timestamp (any offset, optional fraction) to UTC nanoseconds."""
    from datetime import datetime

    text = text.strip()
    main, frac_ns = text, 0
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        for ch in rest:
            if not ch.isdigit():
                break
            digits += ch
        frac_ns = int((digits + "000000000")[:9]) if digits else 0
        main = head + rest[len(digits) :]
    parsed = datetime.fromisoformat(main.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp needs a time zone")
    return int(parsed.timestamp()) * 1_000_000_000 + frac_ns
