"""What every resource group shares: the owning client."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clickclack_sdk._client import Client


class Resource:
    """A group of related endpoints hanging off a :class:`~clickclack_sdk.Client`."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client
