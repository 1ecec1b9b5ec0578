"""Normalisation and validation of names, handles, nonces (protocol 1.3)."""

from __future__ import annotations

import re

from clickclack_server.errors import Invalid

_NON_SLUG = re.compile(r"[^a-z0-9]+")
_HANDLE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")
_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def slugify(text: str) -> str:
    """Lower-case; each run of non ``[a-z0-9]`` becomes ``-``; edge dashes trimmed."""
    return _NON_SLUG.sub("-", text.lower()).strip("-")


def normalize_handle(raw: str) -> str:
    """``@Name`` -> ``name``; empty stays empty; otherwise must match the handle pattern."""
    handle = raw.strip().removeprefix("@").lower()
    if handle and not _HANDLE.match(handle):
        raise Invalid(
            "handle must be 2-32 characters of a-z, 0-9, _ or - and start with a letter or digit"
        )
    return handle


def normalize_nonce(raw: str) -> str:
    """Trimmed; valid UTF-8, no NUL, at most 128 code points."""
    nonce = raw.strip()
    if "\x00" in nonce:
        raise Invalid("nonce must not contain NUL")
    if len(nonce) > 128:
        raise Invalid("nonce must be at most 128 characters")
    return nonce


def safe_correlation_id(raw: str | None) -> str | None:
    if raw is not None and _CORRELATION.match(raw):
        return raw
    return None
