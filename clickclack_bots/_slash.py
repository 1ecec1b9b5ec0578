"""The callback endpoint a bot serves for slash commands and event-subscription deliveries.

ClickClack calls registered slash commands and event subscriptions over HTTP (protocol 3.15,
3.16), signing every request with the registration's secret. :class:`CallbackServer` runs a
small Hypercorn server on Trio (start it in the bot's nursery) that

- verifies ``X-ClickClack-Timestamp``/``X-ClickClack-Signature`` with
  :func:`clickclack_sdk.signing.verify_request` (401 on a bad, missing or stale signature) and
  refuses a replayed trigger or event id (409);
- runs ``@bot.slash("/deploy")`` handlers, parsing the command text from the handler's type
  hints exactly like text commands, and answers ``{"response_type", "text"}`` from the first
  :meth:`SlashContext.respond` or the returned string. A handler still busy when ``budget``
  seconds (below the server's 3 s callback timeout) have passed gets an ephemeral
  acknowledgement answered for it; what it says afterwards is posted as the bot;
- runs ``@bot.on_delivery("message.created")`` handlers with the typed
  :class:`~clickclack_sdk.Event`, in the background after answering 200 (the server gives each
  delivery 3 s and never retries, so a slow handler must not make it fail).

A :class:`~clickclack_bots.BotRuntime` whose bot has slash or delivery handlers starts this
server itself, from the account's :class:`CallbackOptions` (``clickclack bot run
--callback-addr``). Hypercorn comes with the ``callbacks`` extra (``pip install
'clickclack[callbacks]'``; the ``server`` extra has it too).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Concatenate, Literal
from urllib.parse import urlsplit

import attrs
import trio

from clickclack_bots._commands import Param, UsageError, parse_arguments
from clickclack_bots._context import RecentSet, derive_nonce
from clickclack_sdk import ClickClackError, Client, Event, Message
from clickclack_sdk._convert import from_data
from clickclack_sdk.signing import InvalidSignature, verify_request

if TYPE_CHECKING:
    from clickclack_bots._bot import Bot
    from clickclack_bots._runtime import BotRuntime

log = logging.getLogger("clickclack_bots.slash")

DEFAULT_BUDGET = 2.5
"""Seconds a slash handler may take before the deferred acknowledgement is answered (the
server gives up on a callback after 3 s)."""
MAX_BODY = 1024 * 1024

ResponseType = Literal["in_channel", "ephemeral"]
SlashHandler = Callable[Concatenate["SlashContext", ...], Awaitable[object]]
DeliveryHandler = Callable[["DeliveryContext"], Awaitable[object]]


def normalize_slash(name: str) -> str:
    """``"Deploy"`` / ``"/deploy"`` -> ``"/deploy"`` (the server's own normalisation)."""
    return "/" + name.strip().lower().lstrip("/")


def _secret_tuple(secrets: Iterable[str]) -> tuple[str, ...]:
    return tuple(secret for secret in secrets if secret)


@attrs.frozen(kw_only=True)
class CallbackOptions:
    """Where a bot serves its slash-command and delivery callbacks, and the secrets it accepts.

    ``secrets`` are the signing secrets of the registrations pointing at this endpoint (one per
    slash command or event subscription). ``port=0`` picks a free port (tests).
    """

    host: str = "127.0.0.1"
    port: int = 0
    path: str = "/clickclack"
    secrets: tuple[str, ...] = attrs.field(default=(), converter=_secret_tuple)
    budget: float = DEFAULT_BUDGET

    @classmethod
    def from_addr(cls, addr: str, **options: Any) -> CallbackOptions:
        """``"127.0.0.1:8787"``, ``":8787"`` (all interfaces) or ``"[::1]:8787"``."""
        host, sep, port_text = addr.strip().rpartition(":")
        if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ValueError(f"callback address {addr!r} must look like HOST:PORT")
        host = host.strip("[]") or "0.0.0.0"
        return cls(host=host, port=int(port_text), **options)


@attrs.frozen(kw_only=True)
class SlashRoute:
    """A ``slash`` registration."""

    name: str
    handler: SlashHandler
    key: str
    params: tuple[Param, ...]
    description: str
    timeout: float | None


@attrs.frozen(kw_only=True)
class DeliveryRoute:
    """An ``on_delivery`` registration (``"*"`` in ``types`` matches every event)."""

    handler: DeliveryHandler
    key: str
    types: frozenset[str]

    def matches(self, event_type: str) -> bool:
        return "*" in self.types or event_type in self.types


@attrs.frozen(kw_only=True)
class SlashRequest:
    """What the server sent for one invocation (``trigger_id`` is the invocation id)."""

    command_id: str
    command: str
    text: str
    workspace_id: str
    channel_id: str
    user_id: str
    bot_user_id: str
    trigger_id: str

    @classmethod
    def parse(cls, data: dict[str, Any]) -> SlashRequest:
        """The request from a decoded body (``ValueError`` when a field is missing)."""
        values: dict[str, str] = {}
        for field in attrs.fields(cls):
            value = data.get(field.name, "")
            if not isinstance(value, str):
                raise ValueError(f"{field.name} must be a string")
            values[field.name] = value
        if not values["command"] or not values["trigger_id"] or not values["channel_id"]:
            raise ValueError("command, trigger_id and channel_id are required")
        return cls(**values)


@attrs.frozen
class SlashResponse:
    """The JSON answer of a slash callback."""

    response_type: ResponseType
    text: str

    def to_json(self) -> dict[str, str]:
        return {"response_type": self.response_type, "text": self.text}


class SlashContext:
    """What a slash handler receives: the invocation, the bot's client and ``respond``."""

    def __init__(
        self, request: SlashRequest, client: Client, handler_key: str, log: logging.Logger
    ) -> None:
        self.request = request
        self.client = client
        self.log = log
        self._key = handler_key
        self._posts = 0
        self._answer: SlashResponse | None = None
        self._answered = trio.Event()
        self._deferred = False

    @property
    def deferred(self) -> bool:
        """True once the callback was answered (by a ``respond`` or the acknowledgement):
        everything said from then on is posted as the bot."""
        return self._answered.is_set()

    @property
    def channel_id(self) -> str:
        return self.request.channel_id

    @property
    def user_id(self) -> str:
        """Who ran the command."""
        return self.request.user_id

    async def respond(self, text: str, *, ephemeral: bool = False) -> Message | None:
        """Answer the command. The first call before the callback is answered becomes its
        response (``ephemeral`` ones are shown to nobody else and posted nowhere); later calls
        post ``text`` as the bot: to the channel, or, when ``ephemeral``, in a direct
        message to the invoker. Returns the posted message, ``None`` when it was the answer."""
        kind: ResponseType = "ephemeral" if ephemeral else "in_channel"
        if not self._answered.is_set():
            self._answer = SlashResponse(kind, text)
            self._answered.set()
            return None
        if not text.strip():
            return None
        return await self._post(text, ephemeral=ephemeral)

    async def _post(self, text: str, *, ephemeral: bool) -> Message:
        nonce = derive_nonce(
            self.request.bot_user_id, self.request.trigger_id, self._key, self._posts
        )
        self._posts += 1
        if ephemeral:
            conversation = await self.client.dms.create(
                self.request.workspace_id, [self.request.user_id]
            )
            created = await self.client.dms.send(conversation, text, nonce=nonce)
        else:
            created = await self.client.messages.send(self.request.channel_id, text, nonce=nonce)
        return created.message

    def _acknowledge(self, response: SlashResponse) -> SlashResponse:
        """The answer to send now: the handler's, or ``response`` (then the handler is late)."""
        if not self._answered.is_set():
            self._answer = response
            self._answered.set()
        assert self._answer is not None
        return self._answer


class DeliveryContext:
    """What a delivery handler receives: the typed event, its subscription and the client."""

    def __init__(self, subscription_id: str, event: Event, client: Client) -> None:
        self.subscription_id = subscription_id
        self.event = event
        self.client = client

    @property
    def payload(self) -> dict[str, Any]:
        return dict(self.event.payload or {})


def _usage(route: SlashRoute) -> str:
    return " ".join([route.name, *(p.usage() for p in route.params)])


_Send = Callable[[dict[str, Any]], Awaitable[None]]
_Receive = Callable[[], Awaitable[dict[str, Any]]]


class CallbackServer:
    """An HTTP endpoint for one bot's slash commands and event deliveries.

    ``client`` (the bot's token) posts deferred slash results. ``secrets`` are the signing
    secrets of the registrations pointing here; :meth:`add_secret` adds one later (a secret
    is only known once the command is registered, which needs the URL). ``port=0`` picks a
    free port: :attr:`url` and :attr:`port` are known once :meth:`run` has started. ``budget`` is the slash
    answer deadline; ``ack_text`` the deferred acknowledgement (``{command}`` is replaced).
    """

    def __init__(
        self,
        bot: Bot,
        client: Client,
        *,
        secrets: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/clickclack",
        budget: float = DEFAULT_BUDGET,
        ack_text: str = "Working on {command}…",
    ) -> None:
        if not 0 < budget < 3:
            raise ValueError("budget must be between 0 and 3 seconds (the server's timeout)")
        self.bot = bot
        self.client = client
        self.secrets: list[str] = [s for s in secrets if s]
        self.host = host
        self.port = port
        self.path = "/" + path.strip("/")
        self.budget = budget
        self.ack_text = ack_text
        self.url = ""
        """The callback URL to register (set once :meth:`run` started)."""
        self._seen = RecentSet()
        self._nursery: trio.Nursery | None = None
        self._http_scope = trio.CancelScope()
        self._grace = 0.0

    @classmethod
    def from_options(cls, bot: Bot, client: Client, options: CallbackOptions) -> CallbackServer:
        return cls(
            bot,
            client,
            secrets=options.secrets,
            host=options.host,
            port=options.port,
            path=options.path,
            budget=options.budget,
        )

    def stop(self, grace: float = 0.0) -> None:
        """Stop taking requests; handlers still running get ``grace`` seconds to finish
        (a deferred slash answer still gets posted), then :meth:`run` returns."""
        self._grace = grace
        self._http_scope.cancel()

    def add_secret(self, secret: str) -> None:
        """Accept signatures made with ``secret`` too (e.g. after a rotation)."""
        if secret and secret not in self.secrets:
            self.secrets.append(secret)

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled or :meth:`stop`; reports the callback URL once listening."""
        try:
            from hypercorn.config import Config as HypercornConfig
            from hypercorn.trio import serve
        except ImportError as error:  # pragma: no cover - depends on the installation
            raise RuntimeError(
                "the callback server needs Hypercorn: pip install 'clickclack[callbacks]'"
            ) from error
        config = HypercornConfig()
        config.bind = [
            f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        ]
        config.accesslog = None
        config.errorlog = logging.getLogger("clickclack_bots.slash.http")
        config.graceful_timeout = 1

        async with trio.open_nursery() as handlers:
            self._nursery = handlers
            with self._http_scope:

                async def start_http(*, task_status: trio.TaskStatus[list[str]]) -> None:
                    app: Any = self._app  # a plain ASGI 3 callable
                    await serve(app, config, task_status=task_status)

                async with trio.open_nursery() as http:
                    binds: list[str] = await http.start(start_http)
                    self.url = binds[0] + self.path
                    self.port = urlsplit(binds[0]).port or self.port  # the free port picked
                    task_status.started(self.url)
            # Stopped: the handlers still running get the grace period, then are cancelled.
            handlers.cancel_scope.deadline = trio.current_time() + self._grace

    # The ASGI application.

    async def _app(self, scope: dict[str, Any], receive: _Receive, send: _Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        status, body = await self._handle(scope, receive)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": _dumps(body)})

    async def _handle(self, scope: dict[str, Any], receive: _Receive) -> tuple[int, Any]:
        if scope.get("path") != self.path:
            return 404, {"error": "not found"}
        if scope.get("method") != "POST":
            return 405, {"error": "method not allowed"}
        raw = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return 400, {"error": "client went away"}
            raw += message.get("body", b"")
            if len(raw) > MAX_BODY:
                return 413, {"error": "request body too large"}
            if not message.get("more_body", False):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            verify_request(self.secrets, headers, raw)
        except InvalidSignature as error:
            log.warning("rejected a callback: %s", error)
            return 401, {"error": f"invalid signature: {error}"}
        try:
            data = _loads(raw)
        except ValueError:
            return 400, {"error": "body must be a JSON object"}
        if "event" in data and "subscription_id" in data:
            return self._delivery(data)
        try:
            request = SlashRequest.parse(data)
        except ValueError as error:
            return 400, {"error": str(error)}
        if not self._first_time(f"slash:{request.trigger_id}"):
            return 409, {"error": "trigger already handled"}
        response = await self._slash(request)
        return 200, response.to_json()

    def _first_time(self, key: str) -> bool:
        """False for an id seen before (a replay of a validly signed request)."""
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    # Slash commands.

    async def _slash(self, request: SlashRequest) -> SlashResponse:
        routes: dict[str, SlashRoute] = self.bot.slash_routes
        route = routes.get(normalize_slash(request.command))
        if route is None:
            return SlashResponse("ephemeral", f"Unknown command {request.command}.")
        try:
            call = parse_arguments(route.params, request.text)
        except UsageError as error:
            return SlashResponse("ephemeral", f"{error}\nUsage: `{_usage(route)}`")
        ctx = SlashContext(request, self.client, route.key, log)
        assert self._nursery is not None
        self._nursery.start_soon(self._run_slash, route, ctx, call.args, call.kwargs)
        with trio.move_on_after(self.budget):
            await ctx._answered.wait()
        ack = SlashResponse("ephemeral", self.ack_text.format(command=route.name))
        return ctx._acknowledge(ack)

    async def _run_slash(
        self,
        route: SlashRoute,
        ctx: SlashContext,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        timeout = route.timeout if route.timeout is not None else self.bot.handler_timeout
        try:
            with trio.fail_after(timeout) if timeout is not None else trio.CancelScope():
                result = await route.handler(ctx, *args, **kwargs)
                if isinstance(result, str):
                    await ctx.respond(result)
                elif not ctx.deferred:
                    await ctx.respond("", ephemeral=True)
        except UsageError as error:  # the handler refused the arguments: tell the invoker
            await self._tell(ctx, route, f"{error}\nUsage: `{_usage(route)}`")
        except trio.TooSlowError:
            log.error("%s timed out after %ss", route.name, timeout)
            await self._failed(ctx, route)
        except Exception:
            log.exception("%s failed", route.name)
            await self._failed(ctx, route)

    @classmethod
    async def _failed(cls, ctx: SlashContext, route: SlashRoute) -> None:
        """Tell the invoker (privately) that the command failed."""
        await cls._tell(ctx, route, f"Sorry, {route.name} failed.")

    @staticmethod
    async def _tell(ctx: SlashContext, route: SlashRoute, text: str) -> None:
        """Answer the invoker privately; a failure to do so is only logged."""
        try:
            await ctx.respond(text, ephemeral=True)
        except ClickClackError as error:
            log.error("could not answer %s: %s", route.name, error)

    # Event deliveries.

    def _delivery(self, data: dict[str, Any]) -> tuple[int, Any]:
        subscription = data.get("subscription_id")
        try:
            event = from_data(data["event"], Event)
        except Exception:
            return 400, {"error": "event is malformed"}
        if not isinstance(subscription, str) or not event.id:
            return 400, {"error": "subscription_id and event.id are required"}
        if not self._first_time(f"event:{subscription}:{event.id}"):
            return 409, {"error": "event already delivered"}
        assert self._nursery is not None
        for route in self.bot.delivery_routes:
            if route.matches(event.type):
                ctx = DeliveryContext(subscription, event, self.client)
                self._nursery.start_soon(self._run_delivery, route, ctx)
        return 200, {}

    async def _run_delivery(self, route: DeliveryRoute, ctx: DeliveryContext) -> None:
        timeout = self.bot.handler_timeout
        try:
            with trio.fail_after(timeout) if timeout is not None else trio.CancelScope():
                await route.handler(ctx)
        except trio.TooSlowError:
            log.error("%s timed out on %s", route.key, ctx.event.id)
        except Exception:
            log.exception("%s failed on %s", route.key, ctx.event.id)


async def run_with_callbacks(
    runtime: BotRuntime,
    *,
    secrets: Iterable[str] = (),
    host: str = "127.0.0.1",
    port: int = 0,
    path: str = "/clickclack",
    budget: float = DEFAULT_BUDGET,
    task_status: trio.TaskStatus[CallbackServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``runtime`` with its :class:`CallbackServer` on these options (they replace the
    account's ``callbacks``); reports the callback server once the bot is connected.

    The same as setting ``Account.callbacks`` and running the runtime, for a runtime built
    elsewhere.
    """
    runtime.callbacks = CallbackOptions(
        host=host, port=port, path=path, secrets=_secret_tuple(secrets), budget=budget
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run)
        assert runtime.callback_server is not None
        task_status.started(runtime.callback_server)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _loads(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("not JSON") from error
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data
