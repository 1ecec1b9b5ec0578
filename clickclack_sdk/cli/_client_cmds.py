"""The client commands: talk to a running ClickClack server over HTTP (protocol 6.2).

Each command resolves its :class:`~clickclack_sdk.cli._config.Settings` (global flags,
environment, stored config), opens one SDK :class:`~clickclack_sdk.Client` under Trio and
prints in the selected output mode. The SDK, httpx and Trio are imported inside the command
bodies only, so ``clickclack --help`` never loads them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import attrs
import typer

from clickclack_sdk.cli._common import (
    EXIT_AUTH,
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CliError,
    fail,
)
from clickclack_sdk.cli._config import GlobalFlags, Settings, resolve
from clickclack_sdk.cli._output import emit, row

if TYPE_CHECKING:
    from clickclack_sdk._client import Client
    from clickclack_sdk._errors import ClickClackError
    from clickclack_sdk._models import Channel, Message, Workspace

HTTP_TIMEOUT = 10.0
MAX_LIMIT = 200

GLOBAL_HELP = (
    "Global flags (before or after the command): --server URL, --token TOKEN, --user USER_ID, "
    "--workspace REF, --channel REF, --json, --plain, --no-input. See: clickclack --help."
)


def client_app(help_text: str) -> typer.Typer:
    """A client command group with the plain help formatting of the root app."""
    return typer.Typer(
        help=help_text, add_completion=False, rich_markup_mode=None, epilog=GLOBAL_HELP
    )


workspaces_app = client_app("List the workspaces you belong to.")
channels_app = client_app("List the channels of a workspace.")
messages_app = client_app("Send, list and follow channel messages.")
threads_app = client_app("Open threads and reply in them.")
reactions_app = client_app("Add and remove emoji reactions.")
events_app = client_app("Follow the durable events of a workspace.")


# Running a command.


def flags_of(ctx: typer.Context) -> GlobalFlags:
    """The global flags ``main`` took off the command line (defaults when run otherwise)."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, GlobalFlags) else GlobalFlags()


def _cause_text(error: BaseException) -> str:
    cause = error.__cause__
    if cause is None:
        return error.__class__.__name__
    text = str(cause).strip()
    return text or cause.__class__.__name__


def exit_code_for(error: ClickClackError) -> int:
    """The documented exit code of an SDK error."""
    from clickclack_sdk._errors import (
        AuthenticationError,
        NetworkError,
        NotFound,
        PermissionDenied,
        RateLimited,
        ServerUnavailable,
    )

    if isinstance(error, AuthenticationError | PermissionDenied):
        return EXIT_AUTH
    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, NetworkError | ServerUnavailable | RateLimited):
        return EXIT_UNAVAILABLE
    return EXIT_FAILURE


@contextmanager
def reported_client_errors(settings: Settings | None = None) -> Iterator[None]:
    """Turn failures into the one-line ``clickclack: <message>`` error and its exit code.

    HTTP failures read ``<status>: <server error text>``; a server that cannot be reached
    names the URL and the cause.
    """
    from clickclack_sdk._errors import ClickClackError, NetworkError

    try:
        yield
    except typer.Exit:
        raise
    except CliError as exc:
        fail(exc.message, exc.code)
    except NetworkError as exc:
        where = settings.server if settings is not None else "the server"
        fail(f"cannot reach {where}: {_cause_text(exc)}", EXIT_UNAVAILABLE)
    except ClickClackError as exc:
        fail(exc.message, exit_code_for(exc))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


class Session:
    """One command's client plus lazy workspace/channel resolution."""

    def __init__(self, settings: Settings, client: Client) -> None:
        self.settings = settings
        self.client = client
        self._workspace: Workspace | None = None
        self._channel: Channel | None = None

    @property
    def output(self) -> str:
        return self.settings.output

    async def workspace(self) -> Workspace:
        """``--workspace`` (id, slug or name) or the first visible workspace."""
        if self._workspace is not None:
            return self._workspace
        ref = self.settings.workspace
        if ref is not None:
            self._workspace = await self.client.workspaces.find(ref)
        else:
            found = await self.client.workspaces.list()
            if not found:
                raise CliError("no workspace visible to this user", EXIT_NOT_FOUND)
            self._workspace = found[0]
        return self._workspace

    async def channel(self) -> Channel:
        """``--channel`` (id or name, ``#`` optional), else ``general``, else the first channel.

        A ``chn_`` id is looked for in every visible workspace unless ``--workspace`` (or
        ``CLICKCLACK_WORKSPACE``) narrows it.
        """
        if self._channel is not None:
            return self._channel
        ref = self.settings.channel
        if ref is not None and ref.startswith("chn_") and not self.settings.workspace_explicit:
            self._channel = await self.client.channels.find(ref)
            return self._channel
        workspace = await self.workspace()
        if ref is not None:
            self._channel = await self.client.channels.find(ref, workspace=workspace)
            return self._channel
        channels = await self.client.channels.list(workspace)
        if not channels:
            raise CliError(f"no channel in workspace {workspace.slug}", EXIT_NOT_FOUND)
        general = [c for c in channels if c.name == "general"]
        self._channel = (general or channels)[0]
        return self._channel


def run_client(ctx: typer.Context, body: Callable[[Session], Awaitable[None]]) -> None:
    """Resolve the settings, open the SDK client under Trio and run ``body``."""
    settings: Settings | None = None
    with reported_client_errors():
        settings = resolve(flags_of(ctx))
    assert settings is not None
    with reported_client_errors(settings):
        import trio

        from clickclack_sdk._client import Client
        from clickclack_sdk._retry import RetryPolicy

        async def main() -> None:
            async with Client(
                settings.server,
                token=settings.token,
                user_id=settings.user_id,
                timeout=HTTP_TIMEOUT,
                retry=RetryPolicy(max_attempts=2, max_delay=1.0),
            ) as client:
                await body(Session(settings, client))

        trio.run(main)


def author_name(message: Message) -> str:
    """The author's display name when the server hydrated it, else the author id."""
    if message.author is not None and message.author.display_name:
        return message.author.display_name
    return message.author_id


# Message bodies.


def read_body(
    words: list[str] | None,
    body: str | None,
    file: Path | None,
    stdin: bool,
    *,
    required: str = "message body is required",
) -> str:
    """The message body from exactly one of ``--body``, ``--file``, ``--stdin`` or the words;
    ``required`` starts the usage error for an empty one."""
    given = [
        name
        for name, present in (
            ("--body", body is not None),
            ("--file", file is not None),
            ("--stdin", stdin),
            ("a positional body", bool(words)),
        )
        if present
    ]
    if len(given) > 1:
        raise CliError(f"give the body once, not with {' and '.join(given)}", EXIT_USAGE)
    if body is not None:
        text = body
    elif file is not None:
        if str(file) == "-":
            text = sys.stdin.read()
        else:
            try:
                text = file.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise CliError(f"file not found: {file}", EXIT_NOT_FOUND) from None
            except (OSError, UnicodeDecodeError) as exc:
                raise CliError(f"cannot read {file}: {exc}") from None
    elif stdin:
        text = sys.stdin.read()
    else:
        text = " ".join(words or [])
    if not text.strip():
        raise CliError(f"{required} (words, --body, --file or --stdin)", EXIT_USAGE)
    return text


WordsArg = Annotated[
    list[str] | None, typer.Argument(help="Body words, joined with spaces.", show_default=False)
]
BodyOpt = Annotated[str | None, typer.Option("--body", help="Message body.")]
FileOpt = Annotated[
    Path | None, typer.Option("--file", help="Read the body from this file (- for stdin).")
]
StdinOpt = Annotated[bool, typer.Option("--stdin", help="Read the body from standard input.")]
ReplyToOpt = Annotated[
    str | None,
    typer.Option("--reply-to", help="Quote this msg_... (same channel or thread) inline."),
]
MessageArg = Annotated[str, typer.Argument(help="Message id (msg_...).", show_default=False)]


def check_message_id(ref: str) -> str:
    """A non-empty message id (the server answers malformed ones itself)."""
    value = ref.strip()
    if not value:
        raise CliError("a message id is required", EXIT_USAGE)
    return value


def check_limit(limit: int, flag: str = "--limit") -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise CliError(f"{flag} must be between 1 and {MAX_LIMIT}", EXIT_USAGE)
    return limit


# Account commands.


def login(
    ctx: typer.Context,
    magic_token: Annotated[
        str,
        typer.Option(
            "--magic-token", help="Single-use mgt_... token from `admin magic-link create`."
        ),
    ],
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Print only; do not store the session token.")
    ] = False,
) -> None:
    """Sign in with a magic-link token and store the session.

    Prints `logged in as <name>`; --plain prints the sst_... session token and --json the
    whole answer {user, session, token}. The token is stored in the client config (0600,
    scoped to --server) unless --no-store is given.
    """
    token = magic_token.strip()
    if not token:
        fail("--magic-token must not be empty", EXIT_USAGE)

    async def body(session: Session) -> None:
        result = await session.client.auth.consume_magic_link(token)
        if not no_store:
            from clickclack_sdk.cli._config import save_config

            settings = session.settings
            flags = flags_of(ctx)
            save_config(
                {
                    "server": settings.server,
                    "token": result.token,
                    "workspace": flags.workspace or "",
                    "channel": flags.channel or "",
                }
            )
        emit(
            session.output,
            human=[f"logged in as {result.user.display_name}"],
            plain=[result.token],
            data=result,
        )

    run_client(ctx, body)


def logout(ctx: typer.Context) -> None:
    """Forget the stored session (removes the client config file).

    Prints `logged out` (--plain: logged_out; --json: {"logged_out": true}), also when
    nothing was stored. The session itself stays valid on the server until it expires.
    """
    with reported_client_errors():
        settings = resolve(flags_of(ctx), stored={})
        from clickclack_sdk.cli._config import delete_config

        delete_config()
    emit(settings.output, human=["logged out"], plain=["logged_out"], data={"logged_out": True})


def whoami(ctx: typer.Context) -> None:
    """Print the signed-in user.

    Prints `<id>\\t<display name>`; --plain prints the id and --json {user}.
    """

    async def body(session: Session) -> None:
        user = await session.client.me.get()
        emit(
            session.output,
            human=[row(user.id, user.display_name)],
            plain=[user.id],
            data={"user": user},
        )

    run_client(ctx, body)


def status(ctx: typer.Context) -> None:
    """Print the selected server, user, workspace and channel.

    One `<key>\\t<value>` line each (ids; empty when nothing is visible); --json prints
    {server, user, workspace, channel} with the full objects.
    """

    async def body(session: Session) -> None:
        user = await session.client.me.get()
        workspace: Workspace | None = None
        channel: Channel | None = None
        if session.settings.workspace is not None or await session.client.workspaces.list():
            workspace = await session.workspace()
            if session.settings.channel is not None or await session.client.channels.list(
                workspace
            ):
                channel = await session.channel()
        lines = [
            row("server", session.settings.server),
            row("user", user.id),
            row("workspace", workspace.id if workspace else ""),
            row("channel", channel.id if channel else ""),
        ]
        emit(
            session.output,
            human=lines,
            plain=lines,
            data={
                "server": session.settings.server,
                "user": user,
                "workspace": workspace,
                "channel": channel,
            },
        )

    run_client(ctx, body)


# Listing.


@workspaces_app.command("list")
def workspaces_list(ctx: typer.Context) -> None:
    """List the workspaces you belong to.

    Prints `<id>\\t<slug>\\t<name>` per workspace; --plain prints ids and --json
    {workspaces}.
    """

    async def body(session: Session) -> None:
        found = await session.client.workspaces.list()
        emit(
            session.output,
            human=[row(w.id, w.slug, w.name) for w in found],
            plain=[w.id for w in found],
            data={"workspaces": found},
        )

    run_client(ctx, body)


@workspaces_app.command("use")
def workspaces_use(
    ctx: typer.Context,
    workspace_ref: Annotated[
        str, typer.Argument(metavar="workspace", help="Id, slug or name.", show_default=False)
    ],
) -> None:
    """Make a workspace the default of later commands on this server.

    Stores its id in the config file (next to the stored token; the stored channel is
    forgotten, it belonged to the previous workspace) and prints `using workspace <id>
    <name>`; --plain prints the id and --json {workspace}. Refused when the stored config
    belongs to another server.
    """

    async def body(session: Session) -> None:
        from clickclack_sdk.cli._config import remember

        workspace = await session.client.workspaces.find(workspace_ref)
        remember(session.settings.server, workspace=workspace.id, channel="")
        emit(
            session.output,
            human=[f"using workspace {workspace.id} {workspace.name}"],
            plain=[workspace.id],
            data={"workspace": workspace},
        )

    run_client(ctx, body)


@channels_app.command("list")
def channels_list(ctx: typer.Context) -> None:
    """List the channels of --workspace (default: the first one).

    Prints `<id>\\t<name>\\t<kind>` per channel, archived ones included; --plain prints
    ids and --json {workspace, channels}.
    """

    async def body(session: Session) -> None:
        workspace = await session.workspace()
        found = await session.client.channels.list(workspace)
        emit(
            session.output,
            human=[row(c.id, c.name, c.kind) for c in found],
            plain=[c.id for c in found],
            data={"workspace": workspace, "channels": found},
        )

    run_client(ctx, body)


@channels_app.command("use")
def channels_use(
    ctx: typer.Context,
    channel_ref: Annotated[
        str, typer.Argument(metavar="channel", help="Id or name (# optional).", show_default=False)
    ],
) -> None:
    """Make a channel (and its workspace) the default of later commands on this server.

    Resolves the channel like --channel, stores its id and its workspace's id in the config file
    and prints `using #<name> <id>`; --plain prints the id and --json {channel}. Refused when
    the stored config belongs to another server.
    """

    async def body(session: Session) -> None:
        from clickclack_sdk.cli._config import remember

        session.settings = attrs.evolve(session.settings, channel=channel_ref)
        channel = await session.channel()
        remember(session.settings.server, workspace=channel.workspace_id, channel=channel.id)
        emit(
            session.output,
            human=[f"using #{channel.name} {channel.id}"],
            plain=[channel.id],
            data={"channel": channel},
        )

    run_client(ctx, body)


@channels_app.command("create")
def channels_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The new channel's name (slugified).")],
    title: Annotated[
        str | None, typer.Option("--title", help="Display title, if not the name.")
    ] = None,
) -> None:
    """Create a public channel in --workspace (default: the first one).

    Prints `created #<name> <id>`; --plain prints the id and --json {channel, event}.
    """

    async def body(session: Session) -> None:
        workspace = await session.workspace()
        created = await session.client.channels.create(workspace, name, display_title=title)
        emit(
            session.output,
            human=[f"created #{created.channel.name} {created.channel.id}"],
            plain=[created.channel.id],
            data=created,
        )

    run_client(ctx, body)


# Sending.


def _send(
    ctx: typer.Context,
    words: list[str] | None,
    body_text: str | None,
    file: Path | None,
    stdin: bool,
    reply_to: str | None,
) -> None:
    with reported_client_errors():
        text = read_body(words, body_text, file, stdin)
    quote = check_message_id(reply_to) if reply_to is not None else None

    async def body(session: Session) -> None:
        channel = await session.channel()
        sent = await session.client.messages.send(channel, text, quote=quote)
        emit(
            session.output,
            human=[f"sent {sent.message.id} to #{channel.name}"],
            plain=[sent.message.id],
            data=sent,
        )

    run_client(ctx, body)


def send(
    ctx: typer.Context,
    words: WordsArg = None,
    body: BodyOpt = None,
    file: FileOpt = None,
    stdin: StdinOpt = False,
    reply_to: ReplyToOpt = None,
) -> None:
    """Post a message to --channel (default #general).

    Prints `sent <id> to #<channel>`; --plain prints the message id and --json the API
    answer {message, event}. Each send carries a nonce, so a retried request never posts
    twice.
    """
    _send(ctx, words, body, file, stdin, reply_to)


@messages_app.command("send")
def messages_send(
    ctx: typer.Context,
    words: WordsArg = None,
    body: BodyOpt = None,
    file: FileOpt = None,
    stdin: StdinOpt = False,
    reply_to: ReplyToOpt = None,
) -> None:
    """Post a message to --channel (same as `clickclack send`)."""
    _send(ctx, words, body, file, stdin, reply_to)


@messages_app.command("list")
def messages_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="Messages to show (1-200).")] = 20,
    after_seq: Annotated[
        int | None,
        typer.Option("--after-seq", help="Only messages after this channel seq, oldest first."),
    ] = None,
) -> None:
    """List root messages of --channel, oldest first.

    Prints `<seq>\\t<id>\\t<author>\\t<body>` per message (tabs and newlines in the
    body as \\t and \\n). Without --after-seq, the latest --limit messages. --plain prints
    ids and --json {channel, messages}.
    """
    with reported_client_errors():
        check_limit(limit)
        if after_seq is not None and after_seq < 0:
            raise CliError("--after-seq must not be negative", EXIT_USAGE)

    async def body(session: Session) -> None:
        channel = await session.channel()
        page = await session.client.messages.page(channel, limit=limit, after_seq=after_seq)
        emit(
            session.output,
            human=[row(m.channel_seq, m.id, author_name(m), m.body) for m in page.messages],
            plain=[m.id for m in page.messages],
            data={"channel": channel, "messages": page.messages},
        )

    run_client(ctx, body)


# Following: messages tail, events tail (the work is in _tail, loaded only when they run).


FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from",
        help="Start at now, beginning or a cur_... cursor (overrides the saved cursor).",
    ),
]
NameOpt = Annotated[
    str | None,
    typer.Option("--name", help="Name of the cursor file (default: derived from the selection)."),
]
NoFollowOpt = Annotated[
    bool,
    typer.Option("--no-follow", help="Print what is there up to the current tail, then exit."),
]
NoSaveOpt = Annotated[
    bool, typer.Option("--no-save", help="Neither read nor write the cursor file.")
]


def _tail(
    ctx: typer.Context,
    command: str,
    start: str | None,
    name: str | None,
    no_follow: bool,
    no_save: bool,
    types: list[str] | None = None,
) -> None:
    """Check a tail command line, then run it (output is always NDJSON)."""
    flags = flags_of(ctx)
    with reported_client_errors():
        from clickclack_sdk.cli._tail import (
            TailOptions,
            check_from,
            check_name,
            check_types,
            tail_command,
        )

        if flags.plain:
            raise CliError(
                "--plain is not supported here: tail output is always NDJSON (--json is accepted)",
                EXIT_USAGE,
            )
        if no_save and name is not None:
            raise CliError("--name and --no-save cannot be combined", EXIT_USAGE)
        options = TailOptions(
            command=command,
            start=check_from(start),
            name=check_name(name),
            follow=not no_follow,
            save=not no_save,
            types=check_types(types),
            by_channel=bool((flags.channel or os.environ.get("CLICKCLACK_CHANNEL", "")).strip()),
        )

    async def body(session: Session) -> None:
        await tail_command(session, options)

    run_client(ctx, body)


@messages_app.command("tail")
def messages_tail(
    ctx: typer.Context,
    start: FromOpt = None,
    name: NameOpt = None,
    no_follow: NoFollowOpt = False,
    no_save: NoSaveOpt = False,
) -> None:
    """Stream the messages of --channel as NDJSON, thread replies included.

    One line per change, flushed: {"type": "message.created" | "message.updated" |
    "message.deleted", "cursor": "cur_...", "message": {...}}. Resumes after the cursor
    saved in the state dir (first run: only new messages); a cursor that cannot be resumed
    prints {"type": "resync", "cursor": ...} and goes on from the current tail. Follows
    until Ctrl-C or SIGTERM (exit 0); --no-follow stops at the current tail. Output is
    always NDJSON (--json is accepted, --plain refused).
    """
    _tail(ctx, "messages tail", start, name, no_follow, no_save)


messages_app.command(
    "watch", help="The same as `messages tail` (same options, same saved cursor)."
)(messages_tail)


@events_app.command("tail")
def events_tail(
    ctx: typer.Context,
    start: FromOpt = None,
    name: NameOpt = None,
    no_follow: NoFollowOpt = False,
    no_save: NoSaveOpt = False,
    types: Annotated[
        list[str] | None,
        typer.Option("--type", metavar="<str>", help="Only events of this type (repeatable)."),
    ] = None,
) -> None:
    """Stream the durable events of --workspace visible to you as NDJSON.

    One line per event, flushed: {"type": "...", "cursor": "cur_...", "event": {...}}.
    --type keeps only those types; --channel keeps only that channel's events. Cursor,
    resync, --from, --no-follow and --no-save work as for `messages tail`.
    """
    _tail(ctx, "events tail", start, name, no_follow, no_save, types)


# Threads.


@threads_app.command("open")
def threads_open(
    ctx: typer.Context,
    message: MessageArg,
    limit: Annotated[int, typer.Option("--limit", help="Replies to show (1-200).")] = 100,
) -> None:
    """Show a thread: the root and its earliest --limit replies.

    Prints the root as `<id>\\t<body>`, then `<id>\\t<author>\\t<body>` per reply.
    --plain prints the root id and the reply ids; --json {root, replies, thread_state}.
    """
    with reported_client_errors():
        check_limit(limit)
    root_id = check_message_id(message)

    async def body(session: Session) -> None:
        page = await session.client.threads.open(root_id, limit=limit)
        emit(
            session.output,
            human=[row(page.root.id, page.root.body)]
            + [row(r.id, author_name(r), r.body) for r in page.replies],
            plain=[page.root.id] + [r.id for r in page.replies],
            data={"root": page.root, "replies": page.replies, "thread_state": page.thread_state},
        )

    run_client(ctx, body)


def _reply(
    ctx: typer.Context,
    message: str,
    words: list[str] | None,
    body_text: str | None,
    file: Path | None,
    stdin: bool,
    reply_to: str | None,
) -> None:
    with reported_client_errors():
        root_id = check_message_id(message)
        text = read_body(words, body_text, file, stdin)
        quote = check_message_id(reply_to) if reply_to is not None else None

    async def body(session: Session) -> None:
        created = await session.client.threads.reply(root_id, text, quote=quote)
        data: dict[str, Any] = {
            "message": created.message,
            "thread_state": created.thread_state,
            "events": created.events,
        }
        emit(
            session.output,
            human=[f"replied {created.message.id} to {root_id}"],
            plain=[created.message.id],
            data=data,
        )

    run_client(ctx, body)


@threads_app.command("reply")
def threads_reply(
    ctx: typer.Context,
    message: MessageArg,
    words: WordsArg = None,
    body: BodyOpt = None,
    file: FileOpt = None,
    stdin: StdinOpt = False,
    reply_to: ReplyToOpt = None,
) -> None:
    """Reply in the thread of a root message.

    Prints `replied <id> to <msg>`; --plain prints the reply id and --json the API answer
    {message, thread_state, events}.
    """
    _reply(ctx, message, words, body, file, stdin, reply_to)


def reply(
    ctx: typer.Context,
    message: MessageArg,
    words: WordsArg = None,
    body: BodyOpt = None,
    file: FileOpt = None,
    stdin: StdinOpt = False,
    reply_to: ReplyToOpt = None,
) -> None:
    """Reply in a thread (same as `clickclack threads reply`)."""
    _reply(ctx, message, words, body, file, stdin, reply_to)


# Reactions.


EmojiArg = Annotated[str, typer.Argument(help="The emoji, e.g. 👍 or :tada:.", show_default=False)]


def _react(ctx: typer.Context, message: str, emoji: str, *, add: bool) -> None:
    with reported_client_errors():
        message_id = check_message_id(message)
        if not emoji.strip():
            raise CliError("an emoji is required", EXIT_USAGE)

    async def body(session: Session) -> None:
        reactions = session.client.reactions
        if add:
            result = await reactions.add(message_id, emoji)
            verb = "added" if result.changed else "already reacted"
            line = f"{verb} {emoji} {'to' if result.changed else 'on'} {message_id}"
        else:
            result = await reactions.remove(message_id, emoji)
            verb = "removed" if result.changed else "no reaction"
            line = f"{verb} {emoji} {'from' if result.changed else 'on'} {message_id}"
        emit(session.output, human=[line], plain=[message_id], data=result)

    run_client(ctx, body)


@reactions_app.command("add")
def reactions_add(ctx: typer.Context, message: MessageArg, emoji: EmojiArg) -> None:
    """React to a message (idempotent).

    Prints `added <emoji> to <msg>` (or `already reacted <emoji> on <msg>`); --plain prints
    the message id and --json the API answer {event, reactions}.
    """
    _react(ctx, message, emoji, add=True)


@reactions_app.command("remove")
def reactions_remove(ctx: typer.Context, message: MessageArg, emoji: EmojiArg) -> None:
    """Take your reaction back (idempotent).

    Prints `removed <emoji> from <msg>` (or `no reaction <emoji> on <msg>`); --plain prints
    the message id and --json the API answer {event, reactions}.
    """
    _react(ctx, message, emoji, add=False)


# Slash commands.


def split_slash(text: str) -> tuple[str, str]:
    """``"/deploy staging now"`` -> ``("/deploy", "staging now")``: the first word is the
    command (a missing leading ``/`` is added), the trimmed rest its text."""
    parts = text.strip().split(maxsplit=1)
    command = parts[0] if parts else ""
    command = command if command.startswith("/") else "/" + command
    if command == "/":
        raise CliError("a slash command name is required, e.g. /deploy", EXIT_USAGE)
    return command, parts[1].strip() if len(parts) > 1 else ""


def slash(
    ctx: typer.Context,
    words: Annotated[
        list[str] | None,
        typer.Argument(help="The command and its text, e.g. /deploy staging.", show_default=False),
    ] = None,
    body: Annotated[str | None, typer.Option("--body", help="The command and its text.")] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Read the command and its text from this file (- for stdin)."),
    ] = None,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the command and its text from standard input.")
    ] = False,
) -> None:
    """Run a slash command (/deploy staging) in --channel.

    The first word is the command, the rest its text. Prints the answer's text, then
    `posted <id> to #<channel>` when a message was posted; --plain prints the text only
    and --json the whole answer {response_type, text, message, event, invocation}.
    """
    with reported_client_errors():
        text = read_body(words, body, file, stdin, required="a slash command is required")
        command, rest = split_slash(text)

    async def run(session: Session) -> None:
        channel = await session.channel()
        result = await session.client.hooks.slash(channel, command, rest)
        posted = result.message is not None and bool(result.message.id)
        lines = [result.text] if result.text else []
        human = list(lines)
        if posted and result.message is not None:
            human.append(f"posted {result.message.id} to #{channel.name}")
        emit(session.output, human=human, plain=lines, data=result)

    run_client(ctx, run)


ROOT_EPILOG = """\b
Client commands take these global flags, before or after the command:
  --server URL       Server (CLICKCLACK_SERVER; default http://localhost:8080)
  --token TOKEN      Bearer token (CLICKCLACK_TOKEN; default: stored by login)
  --user, --user-id  Dev-auth user id (CLICKCLACK_USER_ID)
  --workspace REF    Workspace id, slug or name (CLICKCLACK_WORKSPACE)
  --channel REF      Channel id or name (CLICKCLACK_CHANNEL; default general)
  --json             Pretty JSON output
  --plain            One stable field per line (usually an id)
  --no-input         Never prompt (no command prompts yet)"""


def register(app: typer.Typer) -> None:
    """Add the client commands to the root ``clickclack`` app."""
    app.info.epilog = ROOT_EPILOG
    for function, name in (
        (login, "login"),
        (logout, "logout"),
        (whoami, "whoami"),
        (status, "status"),
        (send, "send"),
        (reply, "reply"),
        (slash, "slash"),
    ):
        app.command(name, epilog=GLOBAL_HELP)(function)
    app.add_typer(workspaces_app, name="workspaces")
    app.add_typer(channels_app, name="channels")
    app.add_typer(messages_app, name="messages")
    app.add_typer(threads_app, name="threads")
    app.add_typer(
        threads_app, name="thread", help="Alias of `threads`: open threads and reply in them."
    )
    app.add_typer(reactions_app, name="reactions")
    app.add_typer(events_app, name="events")
