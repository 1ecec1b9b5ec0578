"""Post to a channel through the Mattermost-shaped incoming webhook (protocol 3.14).

For scripts and CI jobs that only need to drop a line into a channel, without a bot runtime::

    from clickclack_bots import webhook

    webhook.post_sync(url, "build #42 passed", token=os.environ["CLICKCLACK_TOKEN"])

``url`` is either the full hook URL (``https://chat.example.com/api/hooks/mattermost/<channel>``)
or a server URL plus ``channel=...``. Failures raise the SDK's
:class:`~clickclack_sdk.ClickClackError` hierarchy: :class:`~clickclack_sdk.NetworkError` when no
answer arrived, :class:`~clickclack_sdk.AuthenticationError` for a bad token,
:class:`~clickclack_sdk.PermissionDenied` for a missing ``messages:write`` scope, and so on.
"""

from __future__ import annotations

from typing import Any

import httpx

from clickclack_sdk import ClickClackError, MessageCreated, NetworkError
from clickclack_sdk._convert import from_data
from clickclack_sdk._errors import error_from_response

__all__ = ["HOOK_PATH", "hook_url", "post", "post_sync"]

HOOK_PATH = "/api/hooks/mattermost/"
DEFAULT_TIMEOUT = 10.0


def hook_url(url: str, channel: str | None = None) -> str:
    """The hook URL for ``url``: unchanged when it already names a hook, else the server's hook
    for ``channel`` (a ``ValueError`` when neither gives a channel)."""
    url = url.strip()
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"webhook URL must start with http:// or https://, got {url!r}")
    if HOOK_PATH in url:
        if channel:
            raise ValueError("give the channel either in the URL or as channel=, not both")
        return url
    if not channel:
        raise ValueError("a channel id is required when the URL is not a hook URL")
    return url.rstrip("/") + HOOK_PATH + channel


def _request(url: str, text: str, token: str, channel: str | None) -> tuple[str, dict[str, Any]]:
    if not text:
        raise ValueError("webhook text must not be empty")
    if not token:
        raise ValueError("a token is required (the hook authenticates like any API call)")
    return hook_url(url, channel), {
        "json": {"text": text},
        "headers": {"Authorization": f"Bearer {token}"},
    }


def _result(response: httpx.Response) -> MessageCreated:
    if not response.is_success:
        raise error_from_response(response)
    try:
        return from_data(response.json(), MessageCreated)
    except Exception as error:  # a 2xx that is not a message: not a ClickClack hook
        raise ClickClackError(
            f"unexpected webhook answer: {response.text[:200]!r}", status=response.status_code
        ) from error


async def post(
    url: str,
    text: str,
    *,
    token: str,
    channel: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (a per-request HTTP timeout)
) -> MessageCreated:
    """Post ``text`` to the hook at ``url`` as the token's user; returns the created message."""
    target, options = _request(url, text, token, channel)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(target, **options)
    except httpx.TransportError as error:
        raise NetworkError(f"webhook request failed: {error}") from error
    return _result(response)


def post_sync(
    url: str,
    text: str,
    *,
    token: str,
    channel: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> MessageCreated:
    """Blocking :func:`post` for scripts without an event loop."""
    target, options = _request(url, text, token, channel)
    try:
        with httpx.Client(timeout=timeout) as client:
            response = client.post(target, **options)
    except httpx.TransportError as error:
        raise NetworkError(f"webhook request failed: {error}") from error
    return _result(response)
