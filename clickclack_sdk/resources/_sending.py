"""Posting messages exactly once: nonces, retries and recovery after an ambiguous failure.

Every send carries a client nonce (generated when the caller gives none). The server
deduplicates on (author, nonce), so retrying the POST after a timeout or a 503 answers the
message the first attempt created instead of posting it twice. When the retries run out on a
failure that may nevertheless have been applied, the message is looked up by its nonce
(``GET /api/messages/by-nonce``) before the error is raised.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from clickclack_sdk._errors import ClickClackError
from clickclack_sdk._models import Message

if TYPE_CHECKING:
    from clickclack_sdk._client import Client

T = TypeVar("T")

NONCE_SUPPORT_HEADER = "x-clickclack-message-nonce"


def draft(
    body: str,
    *,
    nonce: str,
    quoted_message_id: str | None = None,
    **optional: str | None,
) -> dict[str, Any]:
    """The JSON body of a message or reply create (``None`` fields left out)."""
    data: dict[str, Any] = {"body": body, "nonce": nonce}
    if quoted_message_id is not None:
        data["quoted_message_id"] = quoted_message_id
    data.update({key: value for key, value in optional.items() if value is not None})
    return data


async def message_by_nonce(client: Client, workspace_id: str, nonce: str) -> Message | None:
    """The caller's message with ``nonce`` in the workspace, ``None`` when there is none.

    A 404 without the ``X-ClickClack-Message-Nonce: supported`` header means the server does
    not know the endpoint at all; that is raised rather than read as "no such message".
    """
    response = await client.request(
        "GET",
        "/api/messages/by-nonce",
        params={"workspace_id": workspace_id, "nonce": nonce},
        ok=lambda r: (
            r.is_success
            or (r.status_code == 404 and r.headers.get(NONCE_SUPPORT_HEADER) == "supported")
        ),
    )
    if response.status_code == 404:
        return None
    return client.decode(response, Message, "message")


async def send_once(
    post: Callable[[], Awaitable[T]],
    recover: Callable[[], Awaitable[T | None]],
) -> T:
    """``post`` (which retries on its own); after an ambiguous final failure, ``recover``
    finds what the server stored under the nonce, and the original error is raised only when
    it finds nothing."""
    from clickclack_sdk._client import is_ambiguous

    try:
        return await post()
    except ClickClackError as error:
        if not is_ambiguous(error):
            raise
        try:
            found = await recover()
        except ClickClackError:
            raise error from None
        if found is None:
            raise
        return found
