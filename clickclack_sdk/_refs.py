"""Accepting either an id or a wire object wherever a call needs an id."""

from __future__ import annotations

import secrets
from typing import Protocol
from urllib.parse import quote


class HasId(Protocol):
    """Any wire object with an ``id`` (Workspace, Channel, Message, DirectConversation...)."""

    @property
    def id(self) -> str:
        """The object's internal id (``wsp_…``, ``chn_…``, ``msg_…``...)."""


Ref = str | HasId
"""An id string or an object carrying it."""


def ident(ref: Ref) -> str:
    """The id of ``ref`` (a string is taken as the id itself)."""
    value = ref if isinstance(ref, str) else ref.id
    if not value or not value.strip():
        raise ValueError("an id is required")
    return value.strip()


def seg(ref: Ref) -> str:
    """``ref``'s id escaped as one URL path segment."""
    return quote(ident(ref), safe="")


def new_nonce() -> str:
    """A fresh client nonce: random, URL-safe, well under the 128-character limit."""
    return "sdk-" + secrets.token_urlsafe(18)
