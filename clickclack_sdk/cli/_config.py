"""Client settings: global flags, the stored config file and how they combine (protocol 6.2-6.3).

Global client flags may stand before or after the command (``clickclack --json whoami`` and
``clickclack whoami --json``). :func:`split_client_args` pulls them out of the command line
before typer parses it, so every client command accepts them without declaring them.

Only the standard library is imported at module level; ``platformdirs`` is loaded when a path
is needed, so ``clickclack --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs

from clickclack_sdk.cli._common import EXIT_USAGE, CliError

DEFAULT_SERVER = "http://localhost:8080"
APP_NAME = "clickclack"

CLIENT_COMMANDS = frozenset(
    {
        "login",
        "logout",
        "whoami",
        "status",
        "workspaces",
        "channels",
        "send",
        "messages",
        "threads",
        "thread",
        "reply",
        "reactions",
        "events",
        "slash",
    }
)
"""Top-level commands that talk to a server and take the global client flags."""

VALUE_FLAGS = {
    "--server": "server",
    "--token": "token",
    "--user": "user_id",
    "--user-id": "user_id",
    "--workspace": "workspace",
    "--channel": "channel",
}
SWITCH_FLAGS = {"--json": "json", "--plain": "plain", "--no-input": "no_input"}

COMMAND_VALUE_OPTIONS = frozenset(
    {
        "--body",
        "--file",
        "--reply-to",
        "--limit",
        "--after-seq",
        "--magic-token",
        "--from",
        "--name",
        "--type",
    }
)
"""Options of client commands that take a value: the token after them is never a global flag."""


@attrs.define
class GlobalFlags:
    """The global client flags as given on the command line (``None``: not given)."""

    server: str | None = None
    token: str | None = None
    user_id: str | None = None
    workspace: str | None = None
    channel: str | None = None
    json: bool = False
    plain: bool = False
    no_input: bool = False


def _take(flags: GlobalFlags, args: list[str], index: int) -> int | None:
    """Consume a global flag at ``args[index]`` into ``flags``; the next index, or ``None``
    when the token is not a global flag."""
    token = args[index]
    name, sep, value = token.partition("=")
    if name in SWITCH_FLAGS:
        if sep:
            raise CliError(f"Option '{name}' does not take a value", EXIT_USAGE)
        setattr(flags, SWITCH_FLAGS[name], True)
        return index + 1
    if name in VALUE_FLAGS:
        if not sep:
            if index + 1 >= len(args):
                raise CliError(f"Option '{name}' requires an argument", EXIT_USAGE)
            value = args[index + 1]
            index += 1
        setattr(flags, VALUE_FLAGS[name], value)
        return index + 1
    return None


def split_client_args(args: list[str]) -> tuple[GlobalFlags, list[str]] | None:
    """For a client command line, the global flags and the remaining arguments; ``None`` when
    the command is not a client command (server-side commands keep their own flags).

    Arguments after ``--`` are left alone, as are values of the commands' own options.
    """
    flags = GlobalFlags()
    index = 0
    while index < len(args):
        taken = _take(flags, args, index)
        if taken is None:
            break
        index = taken
    if index >= len(args) or args[index] not in CLIENT_COMMANDS:
        return None
    rest: list[str] = []
    while index < len(args):
        token = args[index]
        if token == "--":
            rest.extend(args[index:])
            break
        taken = _take(flags, args, index)
        if taken is not None:
            index = taken
            continue
        rest.append(token)
        if token in COMMAND_VALUE_OPTIONS and index + 1 < len(args):
            rest.append(args[index + 1])
            index += 1
        index += 1
    return flags, rest


# The stored config file.


def config_path() -> Path:
    """``<user config dir>/clickclack/config.json`` (honours ``XDG_CONFIG_HOME`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.json"


def state_dir() -> Path:
    """``<user state dir>/clickclack`` (honours ``XDG_STATE_HOME`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def load_config(path: Path | None = None) -> dict[str, str]:
    """The stored config (``{}`` when there is none); only string values are kept."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CliError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except ValueError:
        raise CliError(
            f"config file {path} is not valid JSON; fix it or run: clickclack logout", EXIT_USAGE
        ) from None
    if not isinstance(data, dict):
        raise CliError(f"config file {path} is not a JSON object", EXIT_USAGE)
    return {key: value for key, value in data.items() if isinstance(value, str) and value}


def write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically (temp file + rename) readable by the owner only.

    The directory is created 0700; a symlinked ``path`` keeps its link and the target is
    replaced.
    """
    target = Path(os.path.realpath(path))
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.parent == target.parent:
        os.chmod(target.parent, 0o700)
    fd, temp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def save_config(values: dict[str, str], path: Path | None = None) -> Path:
    """Store ``values`` (empty ones dropped) as the client config; returns the path."""
    path = path or config_path()
    clean = {key: value for key, value in values.items() if value}
    write_private(path, json.dumps(clean, indent=2) + "\n")
    return path


def remember(server: str, **values: str) -> Path:
    """Store default ``values`` (workspace, channel) for ``server`` in the config file,
    keeping the stored token. A config that belongs to another server is not overwritten:
    that would silently log the user out there."""
    stored = load_config()
    saved = stored.get("server")
    if saved and not same_server(saved, server):
        raise CliError(
            f"the stored config belongs to {saved}; log in to {server} first "
            "(clickclack login) or pass --workspace/--channel"
        )
    return save_config({**stored, "server": saved or server, **values})


def delete_config(path: Path | None = None) -> bool:
    """Remove the stored config; False when there was none."""
    path = path or config_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def normalise_server(url: str) -> str:
    """``url`` for comparison: scheme and host lower-cased, path without trailing slash."""
    text = url.strip()
    parts = urlsplit(text)
    if not parts.scheme or not parts.netloc:
        return text.rstrip("/").lower()
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def same_server(a: str, b: str) -> bool:
    """Whether two server URLs name the same server (see :func:`normalise_server`)."""
    return normalise_server(a) == normalise_server(b)


# Effective settings.


@attrs.frozen
class Settings:
    """What a client command uses: flags > environment > stored config > defaults."""

    server: str
    token: str | None
    user_id: str | None
    workspace: str | None
    channel: str | None
    workspace_explicit: bool
    output: str  # "human", "plain" or "json"
    config: dict[str, str] = attrs.field(factory=dict)


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _given(value: str | None) -> str | None:
    return value.strip() if value is not None and value.strip() else None


def resolve(flags: GlobalFlags, stored: dict[str, Any] | None = None) -> Settings:
    """Combine flags, ``CLICKCLACK_*`` variables and the stored config (protocol 6.3).

    The stored token, workspace and channel apply only when the effective server is the saved
    one; the stored token is also skipped when a user id or an explicit token is given.
    """
    if flags.json and flags.plain:
        raise CliError("--json and --plain cannot be combined", EXIT_USAGE)
    config = load_config() if stored is None else stored
    saved_server = config.get("server")
    server = _given(flags.server) or _env("CLICKCLACK_SERVER") or saved_server or DEFAULT_SERVER
    server = server.rstrip("/") or DEFAULT_SERVER
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError(f"--server must be an http(s) URL: {server}", EXIT_USAGE)
    matches = saved_server is not None and same_server(server, saved_server)
    token = _given(flags.token) or _env("CLICKCLACK_TOKEN")
    user_id = _given(flags.user_id) or _env("CLICKCLACK_USER_ID")
    if token is None and user_id is None and matches:
        token = config.get("token")
    explicit_workspace = _given(flags.workspace) or _env("CLICKCLACK_WORKSPACE")
    workspace = explicit_workspace or (config.get("workspace") if matches else None)
    channel = _given(flags.channel) or _env("CLICKCLACK_CHANNEL")
    channel = channel or (config.get("channel") if matches else None)
    output = "json" if flags.json else "plain" if flags.plain else "human"
    return Settings(
        server=server,
        token=token,
        user_id=user_id,
        workspace=workspace,
        channel=channel,
        workspace_explicit=explicit_workspace is not None,
        output=output,
        config=dict(config),
    )
