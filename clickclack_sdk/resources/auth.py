"""Sign-in with magic links and sign-out (protocol 2.3, 2.4)."""

from __future__ import annotations

from clickclack_sdk._envelopes import Login, MagicLinkIssued
from clickclack_sdk.resources._base import Resource


class AuthResource(Resource):
    """``client.auth``: obtain a session token from a magic-link token, and log out."""

    __slots__ = ()

    async def request_magic_link(self, email: str, display_name: str = "") -> MagicLinkIssued:
        """``POST /api/auth/magic/request``: only on a ``--dev-bootstrap`` server and from
        the same machine (501/403 otherwise); production links come from
        ``clickclack admin magic-link create``."""
        return await self._client.call(
            "POST",
            "/api/auth/magic/request",
            MagicLinkIssued,
            json={"email": email, "display_name": display_name},
        )

    async def consume_magic_link(self, token: str) -> Login:
        """Trade a single-use ``mgt_`` token for a session: ``Login.token`` is the ``sst_``
        bearer token to use in a new ``Client(token=...)``."""
        return await self._client.call(
            "POST", "/api/auth/magic/consume", Login, json={"token": token}
        )

    async def logout(self) -> None:
        """Revoke the current session (a bearer ``sst_`` token, else the cookie). Bot tokens
        are not revoked by this; idempotent."""
        await self._client.request("POST", "/api/auth/logout", json={}, retry=True)
