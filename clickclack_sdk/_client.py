"""The :class:`Client`: one ``httpx.AsyncClient``, credentials, retries and the resource groups.

Every request goes through :meth:`Client.request`, which adds the credential headers, turns
non-2xx answers into :mod:`clickclack_sdk._errors` exceptions and retries transient failures of
calls that are safe to repeat. It sleeps with ``trio.sleep``, so the caller's cancel scope (or
``trio.fail_after``) bounds a call including its retries.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar

import cattrs
import httpx
import trio

from clickclack_sdk._convert import from_data
from clickclack_sdk._errors import ClickClackError, NetworkError, error_from_response
from clickclack_sdk._retry import NO_RETRY, RetryPolicy
from clickclack_sdk.resources.auth import AuthResource
from clickclack_sdk.resources.bots import BotsResource
from clickclack_sdk.resources.channels import ChannelsResource
from clickclack_sdk.resources.dms import DmsResource
from clickclack_sdk.resources.hooks import HooksResource
from clickclack_sdk.resources.me import MeResource
from clickclack_sdk.resources.messages import MessagesResource
from clickclack_sdk.resources.reactions import ReactionsResource
from clickclack_sdk.resources.realtime import RealtimeResource
from clickclack_sdk.resources.routes import RoutesResource
from clickclack_sdk.resources.search import SearchResource
from clickclack_sdk.resources.threads import ThreadsResource
from clickclack_sdk.resources.uploads import UploadsResource
from clickclack_sdk.resources.workspaces import WorkspacesResource

T = TypeVar("T")

DEFAULT_SERVER = "http://localhost:8080"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
DEFAULT_RECONNECT = RetryPolicy(max_attempts=None, base_delay=0.5, max_delay=30.0)
USER_AGENT = "clickclack-python"

Body = bytes | Callable[[], AsyncIterable[bytes]]
"""A request body: bytes, or a factory producing a fresh byte stream for every attempt."""

_NO_RESPONSE = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def is_ambiguous(error: ClickClackError) -> bool:
    """Whether a failed write may nevertheless have been applied by the server.

    True when the request may have reached the server but no clear answer came back (a broken
    or timed-out exchange after connecting, or a 5xx); False when it never left (connection
    refused) or was refused outright (4xx).
    """
    if isinstance(error, NetworkError):
        return not isinstance(error.__cause__, _NOT_SENT)
    return error.status is not None and error.status >= 500


class Client:
    """A ClickClack API client for one server and one credential.

    ``token`` is a session (``sst_``) or bot (``ccb_``) token sent as ``Authorization: Bearer``;
    ``user_id`` sends ``X-ClickClack-User`` (dev auth on a ``--dev-bootstrap`` server). Without
    either, the server sees whatever its cookies or dev auth decide.

    ``transport`` replaces httpx's network transport (for tests, proxies, ASGI apps);
    ``timeout`` is the per-request default; ``retry`` governs REST retries and ``reconnect``
    realtime reconnects.

    Use it as an async context manager (or call :meth:`aclose`) so connections are released::

        async with Client("http://localhost:8080", token=token) as client:
            me = await client.me.get()
    """

    def __init__(
        self,
        base_url: str = DEFAULT_SERVER,
        *,
        token: str | None = None,
        user_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        reconnect: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token.strip() if token and token.strip() else None
        self.user_id = user_id.strip() if user_id and user_id.strip() else None
        self.retry = retry if retry is not None else RetryPolicy()
        self.reconnect = reconnect if reconnect is not None else DEFAULT_RECONNECT
        self._channel_workspaces: dict[str, str] = {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
        )
        self.auth = AuthResource(self)
        self.me = MeResource(self)
        self.workspaces = WorkspacesResource(self)
        self.channels = ChannelsResource(self)
        self.messages = MessagesResource(self)
        self.threads = ThreadsResource(self)
        self.reactions = ReactionsResource(self)
        self.dms = DmsResource(self)
        self.search = SearchResource(self)
        self.uploads = UploadsResource(self)
        self.bots = BotsResource(self)
        self.routes = RoutesResource(self)
        self.hooks = HooksResource(self)
        self.realtime = RealtimeResource(self)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Client:
        """A client configured like the CLI: ``CLICKCLACK_SERVER``, ``CLICKCLACK_TOKEN`` and
        ``CLICKCLACK_USER_ID``; keyword arguments win over the environment."""
        kwargs.setdefault("base_url", os.environ.get("CLICKCLACK_SERVER") or DEFAULT_SERVER)
        kwargs.setdefault("token", os.environ.get("CLICKCLACK_TOKEN") or None)
        kwargs.setdefault("user_id", os.environ.get("CLICKCLACK_USER_ID") or None)
        return cls(**kwargs)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections; the client cannot be used afterwards."""
        await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        """True once :meth:`aclose` ran (or the ``async with`` block ended)."""
        return self._http.is_closed

    def auth_headers(self, method: str = "GET") -> dict[str, str]:
        """Credential headers for one request (also used for the WebSocket handshake).

        ``X-ClickClack-CSRF: 1`` goes with unsafe methods only when there is no bearer token:
        the server checks it for cookie-authenticated writes only (protocol 2.5).
        """
        headers: dict[str, str] = {}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        elif method.upper() not in SAFE_METHODS:
            headers["X-ClickClack-CSRF"] = "1"
        if self.user_id is not None:
            headers["X-ClickClack-User"] = self.user_id
        return headers

    def _policy(self, method: str, retry: bool | None) -> RetryPolicy:
        if retry is None:
            retry = method.upper() in IDEMPOTENT_METHODS
        return self.retry if retry else NO_RETRY

    def _build(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        content: Body | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Request:
        body: Any = content() if callable(content) else content
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        return self._http.build_request(
            method,
            path,
            params=clean or None,
            json=json,
            content=body,
            headers={**self.auth_headers(method), **(headers or {})},
        )

    async def _attempts(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: Body | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        stream: bool = False,
        ok: Callable[[httpx.Response], bool] | None = None,
    ) -> httpx.Response:
        """Send until a response is acceptable or the policy gives up.

        ``ok`` decides which responses are returned rather than raised (default: 2xx). With
        ``stream`` the returned response's body is unread (the caller must close it).
        """
        policy = self._policy(method, retry)
        accept = ok or (lambda response: response.is_success)
        attempt = 0
        while True:
            attempt += 1
            request = self._build(
                method, path, params=params, json=json, content=content, headers=headers
            )
            cause: Exception | None = None
            try:
                response = await self._http.send(request, stream=stream)
            except _NO_RESPONSE as exc:
                cause = exc
                error: ClickClackError = NetworkError(f"{method} {path}: {exc!r}")
            except httpx.TransportError as exc:
                raise ClickClackError(f"{method} {path}: {exc!r}") from exc
            else:
                if accept(response):
                    return response
                if stream:
                    try:
                        await response.aread()
                    except httpx.TransportError:
                        pass  # the status decides; a lost error text is no reason to fail
                    finally:
                        await response.aclose()
                error = error_from_response(response)
            if not policy.is_retryable(error) or not policy.allows(attempt):
                raise error from cause
            await trio.sleep(policy.delay(attempt, error))

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: Body | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        ok: Callable[[httpx.Response], bool] | None = None,
    ) -> httpx.Response:
        """Send one API request and return its (fully read) 2xx response.

        ``retry`` defaults to True for idempotent methods (GET, HEAD, PUT, DELETE); writes pass
        True only when repeating them is harmless (a nonce, or an idempotent server action).
        ``None`` query parameters are dropped. Non-2xx answers raise the matching
        :class:`~clickclack_sdk.ClickClackError`.
        """
        return await self._attempts(
            method,
            path,
            params=params,
            json=json,
            content=content,
            headers=headers,
            retry=retry,
            ok=ok,
        )

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        retry: bool | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Like :meth:`request`, but the 2xx response body is left unread for streaming."""
        response = await self._attempts(method, path, params=params, retry=retry, stream=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def call(
        self,
        method: str,
        path: str,
        cls: type[T],
        key: str | None = None,
        **kwargs: Any,
    ) -> T:
        """:meth:`request`, then structure the JSON body (or its ``key`` member) as ``cls``."""
        response = await self.request(method, path, **kwargs)
        return self.decode(response, cls, key)

    def decode(self, response: httpx.Response, cls: type[T], key: str | None = None) -> T:
        """The JSON body (or its ``key`` member) of ``response`` as ``cls``.

        A body that is not JSON or does not have the expected shape raises
        :class:`~clickclack_sdk.ClickClackError` (e.g. a proxy's HTML page, or an unmatched path
        answered by the reference server's web app).
        """
        try:
            data = response.json()
        except ValueError:
            raise ClickClackError(
                f"{response.status_code}: response is not JSON", status=response.status_code
            ) from None
        try:
            if key is not None:
                data = data[key]
            return from_data(data, cls)
        except (KeyError, TypeError, ValueError, cattrs.BaseValidationError) as exc:
            raise ClickClackError(
                f"{response.status_code}: unexpected response shape ({exc!r})",
                status=response.status_code,
            ) from exc

    def _note_channel(self, channel_id: str, workspace_id: str) -> None:
        """Note which workspace a channel belongs to (needed to recover an ambiguous send)."""
        self._channel_workspaces[channel_id] = workspace_id

    def _workspace_of_channel(self, channel_id: str) -> str | None:
        return self._channel_workspaces.get(channel_id)

    async def health(self) -> bool:
        """``GET /healthz``: True when the server process answers."""
        response = await self.request("GET", "/healthz", ok=lambda _: True)
        return response.status_code == 200

    async def ready(self) -> bool:
        """``GET /readyz``: True when the server can serve requests (its database answers)."""
        response = await self.request("GET", "/readyz", ok=lambda _: True, retry=False)
        return response.status_code == 200
