"""``clickclack messages tail`` and ``clickclack events tail``: durable events as NDJSON.

One :class:`Tailer` drives both commands. It settles where to start (``--from``, the saved
cursor, or the current tail), catches up through the HTTP pull endpoint in pages (so a long
absence is no problem and ``--no-follow`` knows where "now" ends), then follows over the
WebSocket from the last cursor it handled. Each line is written and flushed before its cursor
counts as handled; the cursor file is written from that position only, at most every
:data:`SAVE_INTERVAL` seconds and once more on the way out.

A saved or given cursor whose event the server no longer keeps (pruned, or another
workspace's) cannot be resumed from: the tailer prints a ``resync`` line with the current tail,
warns on stderr and goes on from there. The WebSocket's close 4001 (replay refused) while
following goes back to catching up through pull when the position's event is still kept, and
is reported as a ``resync`` only when it is not.

This module is imported only inside the command bodies (it loads Trio and the SDK), so
``clickclack --help`` never pays for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import trio

from clickclack_sdk._errors import (
    ClickClackError,
    NotFound,
    PermissionDenied,
    RealtimeClosed,
    ResyncRequired,
)
from clickclack_sdk._models import Event, Message
from clickclack_sdk._realtime import TransportName, unwrap_group
from clickclack_sdk.cli._common import EXIT_AUTH, EXIT_FAILURE, EXIT_USAGE, CliError, usage
from clickclack_sdk.cli._config import normalise_server, state_dir, write_private
from clickclack_sdk.cli._output import json_line, one_line

if TYPE_CHECKING:
    from clickclack_sdk._client import Client
    from clickclack_sdk.cli._client_cmds import Session

T = TypeVar("T")

SAVE_INTERVAL = 0.2
"""Seconds between cursor file writes while events stream (one more is written on exit)."""
PULL_PAGE = 500
"""Events per pull request while catching up (the pull endpoint's maximum)."""
CONNECT_TIMEOUT = 10.0

CURSOR_PATTERN = re.compile(r"^cur_[0-9a-z]{26}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

MESSAGE_EVENT_TYPES: Mapping[str, str] = {
    "message.created": "message.created",
    "thread.reply_created": "message.created",
    "message.updated": "message.updated",
    "message.deleted": "message.deleted",
}
"""Durable event type -> the ``type`` of the ``messages tail`` line it becomes."""


# Checking the command line.


def check_from(value: str | None) -> str | None:
    """``now``, ``beginning`` or a ``cur_`` cursor (``None``: not given)."""
    if value is None:
        return None
    text = value.strip()
    if text.lower() in ("now", "beginning"):
        return text.lower()
    if CURSOR_PATTERN.match(text):
        return text
    raise usage(f"--from must be now, beginning or a cursor (cur_...): {value!r}")


def check_name(value: str | None) -> str | None:
    """A cursor name usable as a file name on every platform."""
    if value is None:
        return None
    if not NAME_PATTERN.match(value):
        raise usage(
            "--name must be 1-100 letters, digits, dots, dashes or underscores, "
            f"starting with a letter or digit: {value!r}"
        )
    return value


def check_types(values: list[str] | None) -> frozenset[str]:
    """The ``--type`` filter (empty: every type)."""
    types: set[str] = set()
    for value in values or []:
        text = value.strip()
        if not TYPE_PATTERN.match(text):
            raise usage(f"--type must be an event type such as message.created: {value!r}")
        types.add(text)
    return frozenset(types)


# The cursor file.


@attrs.frozen
class Selection:
    """What one tail command shows: the workspace, optionally one channel and event types."""

    command: str  # "messages tail" or "events tail"
    workspace_id: str
    channel_id: str | None = None
    channel_name: str | None = None
    types: frozenset[str] = frozenset()


def cursor_key(server: str, identity: str, selection: Selection) -> str:
    """The default cursor file stem: the command plus a digest of everything that makes two
    tails different streams (server, identity, workspace, channel, type filter)."""
    parts = [
        normalise_server(server),
        identity,
        selection.workspace_id,
        selection.command,
        selection.channel_id or "",
        ",".join(sorted(selection.types)),
    ]
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
    return f"{selection.command.replace(' ', '-')}-{digest}"


def cursor_path(stem: str) -> Path:
    """``<state dir>/cursors/<stem>.json``."""
    return state_dir() / "cursors" / f"{stem}.json"


@attrs.frozen
class Saved:
    """A cursor read from its file; ``foreign`` when it was saved for another workspace."""

    cursor: str
    foreign: bool = False


@attrs.define
class CursorFile:
    """One tail's saved position: a small JSON file, 0600, replaced atomically."""

    path: Path
    facts: dict[str, Any]

    def load(self) -> Saved | None:
        """The saved position, ``None`` when there is no file yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CliError(f"cannot read cursor file {self.path}: {exc.strerror or exc}") from exc
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        cursor = data.get("cursor") if isinstance(data, dict) else None
        if not isinstance(cursor, str) or (cursor and not CURSOR_PATTERN.match(cursor)):
            raise CliError(
                f"cursor file {self.path} is not valid; delete it or pass --from", EXIT_USAGE
            )
        assert isinstance(data, dict)
        workspace = data.get("workspace_id")
        foreign = isinstance(workspace, str) and workspace != self.facts.get("workspace_id")
        return Saved(cursor, foreign)

    def save(self, cursor: str) -> None:
        """Write ``cursor`` (and what it belongs to) atomically, readable by the owner only."""
        root = self.path.parent.parent
        try:
            if not root.exists():
                root.mkdir(mode=0o700, parents=True, exist_ok=True)
            body = {"cursor": cursor, **self.facts, "saved_at": _utc_now()}
            write_private(self.path, json.dumps(body, indent=2) + "\n")
        except OSError as exc:
            raise CliError(f"cannot write cursor file {self.path}: {exc.strerror or exc}") from exc


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# Output.


def write_line(data: Any) -> None:
    """One compact NDJSON line on stdout, flushed (raises BrokenPipeError when the reader is
    gone). DEL and C1 controls are ``\\u`` escapes, so the terminal never obeys them."""
    sys.stdout.write(json_line(data) + "\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    """A one-line notice on stderr (control characters written out)."""
    print(f"clickclack: {one_line(message)}", file=sys.stderr, flush=True)


def stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (``| head -1`` after its line): the
    next write would fail. Lets a quiet follow stop without waiting for that write."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)
        return any(mask & (select.POLLERR | select.POLLHUP) for _, mask in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() here, or no real stdout
        return False


# The tail itself.


@attrs.define
class Tailer:
    """Prints the events of one :class:`Selection` from a start position, keeps the cursor.

    ``position`` is the cursor of the last event handled (printed, or skipped by the filter);
    "" means "before every retained event". ``write`` prints one line and ``warn`` one notice;
    tests pass their own.
    """

    client: Client
    selection: Selection
    store: CursorFile | None = None
    write: Callable[[Any], None] = write_line
    warn: Callable[[str], None] = warn
    position: str = ""
    saved: str | None = None
    started: bool = False
    persistent: bool = False
    stdout_gone: bool = False
    _saved_at: float = 0.0

    # Positions.

    async def tail(self) -> str:
        """The newest cursor the caller may see now ("" when none)."""
        batch = await self.call(
            self.client.realtime.pull, self.selection.workspace_id, limit=1, include_tail=True
        )
        return batch.tail_cursor or ""

    async def retained(self, cursor: str) -> bool:
        """Whether the event of ``cursor`` is still in the workspace's log and visible.

        Pulls one event after the greatest string below ``cursor`` (cursors have one length,
        so nothing fits in between): it is ``cursor``'s own event exactly when that is kept.
        """
        below = cursor[:-1] + chr(ord(cursor[-1]) - 1)
        batch = await self.call(
            self.client.realtime.pull, self.selection.workspace_id, after_cursor=below, limit=1
        )
        return bool(batch.events) and batch.events[0].cursor == cursor

    async def begin(self, start: str | None, saved: Saved | None) -> str:
        """Settle :attr:`position` from ``--from`` (``start``) or the saved cursor; returns the
        current tail (where ``--no-follow`` stops). Also checks the credential and access."""
        tail = await self.tail()
        if start == "now" or (start is None and saved is None):
            self.position = tail
        elif start == "beginning":
            self.position = ""
        else:
            cursor = start if start is not None else saved.cursor if saved else ""
            foreign = start is None and saved is not None and saved.foreign
            if not cursor and not foreign:
                self.position = ""
            elif not foreign and await self.retained(cursor):
                self.position = cursor
            else:
                self.resynced(cursor, tail)
        self.started = True
        return tail

    def resynced(self, lost: str, tail: str) -> None:
        """Report that ``lost`` cannot be resumed from and go on from ``tail``."""
        self.write({"type": "resync", "cursor": tail})
        where = f"after {lost}" if lost else "from the saved cursor"
        self.warn(
            f"warning: cannot resume {where} (pruned, unknown or too far behind); "
            "events in between were missed; continuing from the current tail"
        )
        self.position = tail

    # Saving.

    def save(self, *, force: bool = False) -> None:
        """Write the position when it moved (and, unless ``force``, the last write is at
        least :data:`SAVE_INTERVAL` old)."""
        if self.store is None or not self.started or self.position == self.saved:
            return
        now = time.monotonic()
        if not force and now - self._saved_at < SAVE_INTERVAL:
            return
        self.store.save(self.position)
        self.saved = self.position
        self._saved_at = now

    async def keep_saving(self, stop: trio.CancelScope) -> None:
        """Background task: save every :data:`SAVE_INTERVAL`; stop everything when stdout's
        reader has gone."""
        while True:
            await trio.sleep(SAVE_INTERVAL)
            self.save()
            if self.write is write_line and stdout_closed():
                self.stdout_gone = True
                stop.cancel()
                return

    # Handling events.

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """``fn(...)``; once following, transient failures (network, 429, 503) are retried
        with the client's reconnect backoff instead of ending the tail."""
        attempt = 0
        while True:
            try:
                return await fn(*args, **kwargs)
            except ClickClackError as error:
                policy = self.client.reconnect
                attempt += 1
                if not self.persistent or not policy.is_retryable(error):
                    raise
                if not policy.allows(attempt):
                    raise
                await trio.sleep(policy.delay(attempt, error))

    async def render(self, event: Event) -> dict[str, Any] | None:
        """The line for ``event``, ``None`` when the selection does not show it."""
        selection = self.selection
        if selection.channel_id is not None and event.channel_id != selection.channel_id:
            return None
        if selection.command == "events tail":
            if selection.types and event.type not in selection.types:
                return None
            return {"type": event.type, "cursor": event.cursor, "event": event}
        kind = MESSAGE_EVENT_TYPES.get(event.type)
        message_id = (event.payload or {}).get("message_id")
        if kind is None or not isinstance(message_id, str) or not message_id:
            return None
        try:
            message: Message = await self.call(self.client.messages.get, message_id)
        except NotFound:
            self.warn(f"warning: skipped {event.type} {event.cursor}: {message_id} is gone")
            return None
        return {"type": kind, "cursor": event.cursor, "message": message}

    async def handle(self, event: Event) -> None:
        """Print ``event`` if selected, then count it as handled (ephemeral events and
        replays at or before the position are ignored)."""
        if not event.cursor or (self.position and event.cursor <= self.position):
            return
        line = await self.render(event)
        if line is not None:
            self.write(line)
        self.position = event.cursor

    async def catch_up(self, upto: str | None = None) -> None:
        """Handle everything after the position through the pull endpoint, page by page;
        stop after ``upto`` when given (``--no-follow``), else when a page comes back empty."""
        while upto is None or self.position < upto:
            batch = await self.call(
                self.client.realtime.pull,
                self.selection.workspace_id,
                after_cursor=self.position or None,
                limit=PULL_PAGE,
            )
            if not batch.events:
                return
            for event in batch.events:
                if upto is not None and event.cursor > upto:
                    return
                await self.handle(event)

    async def follow(self) -> None:
        """Stream new events until cancelled: over the WebSocket from the position, or (while
        nothing is visible yet, so there is no cursor to resume from) by polling the pull
        endpoint until the first event gives one."""
        self.persistent = True
        while True:
            transport: TransportName = "websocket" if self.position else "pull"
            try:
                async with self.client.realtime.connect(
                    self.selection.workspace_id,
                    after_cursor=self.position,
                    transport=transport,
                    connect_timeout=CONNECT_TIMEOUT,
                ) as stream:
                    async for event in stream:
                        await self.handle(event)
                        if transport == "pull" and self.position:
                            break  # a cursor at last: switch to the WebSocket
            except ResyncRequired:
                # The socket refuses replay past its limit: a burst, not a loss, while the
                # position's event is still kept. Read the rest through pull pages.
                if self.position and await self.retained(self.position):
                    await self.catch_up()
                else:
                    self.resynced(self.position, await self.tail())

    async def run(self, start: str | None, saved: Saved | None, *, follow: bool) -> None:
        """Begin, catch up, then follow (or stop at the tail seen at the start)."""
        tail = await self.begin(start, saved)
        if follow:
            await self.catch_up()
            await self.follow()
        else:
            await self.catch_up(upto=tail)


# Running a command.


async def _stop_on_signals(
    scope: trio.CancelScope, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Cancel ``scope`` on SIGINT or SIGTERM (the tail then saves and exits 0)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for _ in signals:
            scope.cancel()
            return


async def _identity(session: Session) -> str:
    """Who the cursor belongs to: the user id, or for a bot token without ``profile:read``
    a digest of the token."""
    try:
        return (await session.client.me.get()).id
    except PermissionDenied:
        token = session.client.token or ""
        return "token-" + hashlib.sha256(token.encode()).hexdigest()[:16]


async def _selection(session: Session, options: TailOptions) -> Selection:
    """Resolve the workspace (and channel) the way the other client commands do."""
    if options.command == "messages tail" or options.by_channel:
        channel = await session.channel()
        return Selection(
            options.command, channel.workspace_id, channel.id, channel.name, options.types
        )
    workspace = await session.workspace()
    return Selection(options.command, workspace.id, types=options.types)


@attrs.frozen
class TailOptions:
    """The command line of a tail command, checked."""

    command: str
    start: str | None
    name: str | None
    follow: bool
    save: bool
    types: frozenset[str] = frozenset()
    by_channel: bool = False
    """``events tail``: filter by the selected channel (``--channel`` was given)."""


async def tail_command(session: Session, options: TailOptions) -> None:
    """The body of ``messages tail`` / ``events tail`` under :func:`run_client`."""
    selection = await _selection(session, options)
    store: CursorFile | None = None
    saved: Saved | None = None
    if options.save:
        identity = await _identity(session)
        stem = options.name or cursor_key(session.settings.server, identity, selection)
        store = CursorFile(
            cursor_path(stem),
            {
                "command": selection.command,
                "server": normalise_server(session.settings.server),
                "user_id": identity,
                "workspace_id": selection.workspace_id,
                "channel_id": selection.channel_id or "",
                "types": sorted(selection.types),
            },
        )
        if options.start is None:
            saved = store.load()
    tailer = Tailer(session.client, selection, store)
    try:
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(_stop_on_signals, nursery.cancel_scope)
                nursery.start_soon(tailer.keep_saving, nursery.cancel_scope)
                try:
                    await tailer.run(options.start, saved, follow=options.follow)
                except BrokenPipeError:
                    tailer.stdout_gone = True
                nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise unwrap_group(group) from None
    except RealtimeClosed as closed:
        code = EXIT_AUTH if closed.code == 1008 else EXIT_FAILURE
        raise CliError(str(closed), code) from None
    finally:
        if tailer.stdout_gone:
            # Nothing more can reach the reader; keep the interpreter's last flush quiet.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        tailer.save(force=True)
