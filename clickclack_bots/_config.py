"""Accounts: which bot runs as whom, where; loaded from arguments or a config file.

A config file (TOML, or JSON when it ends in ``.json``) runs several accounts in one process::

    server = "http://localhost:8080"     # default for every account
    state_dir = "/var/lib/mybots"        # where the cursor files go
    grace = 10                           # seconds to drain on shutdown

    [[accounts]]
    name = "echo"                        # also the cursor file's name
    bot = "mybots.echo:bot"              # module:attribute (a Bot, or a function returning one)
    token_env = "ECHO_BOT_TOKEN"         # token source: token, token_env or token_file
    start = "now"                        # first start only: "now" or "beginning"

Token sources: ``token`` (the literal ``ccb_`` token; avoid in shared files), ``token_env``
(an environment variable's name) or ``token_file`` (a file holding the token; relative paths
are relative to the config file).

A bot with slash-command or delivery handlers also serves callbacks::

    callback_addr = "0.0.0.0:8787"       # where the bot listens (HOST:PORT)
    callback_path = "/clickclack"        # the path registered in the callback URL
    callback_secret_env = "DEPLOY_SECRETS"  # or callback_secret / callback_secret_file

The secret source holds the signing secrets of the registrations pointing at the endpoint,
separated by commas or whitespace (one per slash command or subscription). Without a source,
``CLICKCLACK_CALLBACK_SECRET`` is read.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs
import platformdirs

from clickclack_bots._cursor import CursorStore, FileCursorStore
from clickclack_bots._slash import CallbackOptions

if TYPE_CHECKING:
    from clickclack_bots._bot import Bot

StartFrom = Literal["now", "beginning"]
DEFAULT_SERVER = "http://localhost:8080"
SECRET_ENV = "CLICKCLACK_CALLBACK_SECRET"


class ConfigError(ValueError):
    """A bot configuration that cannot be used; the message says what to fix."""


def default_state_dir() -> Path:
    """``CLICKCLACK_BOTS_STATE_DIR``, else the user's state directory (``.../clickclack/bots``)."""
    override = os.environ.get("CLICKCLACK_BOTS_STATE_DIR")
    if override:
        return Path(override)
    return platformdirs.user_state_path("clickclack") / "bots"


@attrs.frozen(kw_only=True)
class Account:
    """One bot account to run: the bot, the server, the token and where to resume."""

    bot: Bot
    server: str
    token: str = attrs.field(repr=False)
    name: str | None = None
    """The account's name: its cursor file and its log prefix (default: derived from ids)."""
    workspace: str | None = None
    """Workspace id, slug or name (default: the token's only workspace)."""
    start: StartFrom | None = None
    """Where the very first run starts; ignored once a cursor was saved."""
    state_dir: str | None = None
    store: CursorStore | None = None
    """A cursor store instead of the default file store in ``state_dir``."""
    callbacks: CallbackOptions | None = None
    """Where slash-command and delivery callbacks are served (bots with such handlers)."""

    @property
    def label(self) -> str:
        return self.name or self.bot.name

    def cursor_store(self) -> CursorStore:
        if self.store is not None:
            return self.store
        return FileCursorStore(self.state_dir or default_state_dir())

    @classmethod
    def from_values(
        cls,
        bot: Bot,
        *,
        server: str | None = None,
        token: str | None = None,
        start: StartFrom | None = None,
        workspace: str | None = None,
        state_dir: str | None = None,
        name: str | None = None,
        callbacks: CallbackOptions | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Account:
        """An account from explicit values, with ``CLICKCLACK_SERVER``/``CLICKCLACK_TOKEN``
        as defaults."""
        env = os.environ if env is None else env
        token = token or env.get("CLICKCLACK_TOKEN")
        if not token:
            raise ConfigError("no bot token: pass token= or set CLICKCLACK_TOKEN")
        return cls(
            bot=bot,
            server=server or env.get("CLICKCLACK_SERVER") or DEFAULT_SERVER,
            token=token.strip(),
            start=_start(start),
            workspace=workspace,
            state_dir=state_dir,
            name=name,
            callbacks=callbacks,
        )


def _start(value: Any) -> StartFrom | None:
    if value is None:
        return None
    if value == "now":
        return "now"
    if value == "beginning":
        return "beginning"
    raise ConfigError(f'start must be "now" or "beginning", not {value!r}')


def resolve_token(
    spec: Mapping[str, Any], *, base: Path | None = None, env: Mapping[str, str] | None = None
) -> str:
    """The token of one account entry: exactly one of ``token``, ``token_env``, ``token_file``."""
    env = os.environ if env is None else env
    given = [key for key in ("token", "token_env", "token_file") if spec.get(key)]
    if len(given) != 1:
        raise ConfigError("each account needs exactly one of token, token_env or token_file")
    key = given[0]
    token = _read_secret(key, spec[key], base=base, env=env, kind=key.removeprefix("token_"))
    if not token:
        raise ConfigError(f"the token from {key} is empty")
    return token


def _read_secret(
    name: str, value: Any, *, base: Path | None, env: Mapping[str, str], kind: str
) -> str:
    """A secret given literally (``kind`` "token"/"secret"), by environment variable ("env")
    or by file ("file"), stripped; ``name`` is the setting's name for messages."""
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string")
    if kind == "env":
        found = env.get(value, "")
        if not found.strip():
            raise ConfigError(f"environment variable {value} ({name}) is not set")
        return found.strip()
    if kind == "file":
        path = Path(value).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {name} {path}: {exc.strerror}") from exc
    return value.strip()


def callback_options(
    spec: Mapping[str, Any], *, base: Path | None = None, env: Mapping[str, str] | None = None
) -> CallbackOptions | None:
    """The callback settings of one account (``callback_addr``, ``callback_path``, one secret
    source), or ``None`` without ``callback_addr``. The address needs at least one secret:
    ClickClack signs every callback, so an endpoint without one would refuse them all."""
    env = os.environ if env is None else env
    addr = spec.get("callback_addr")
    if not addr:
        if any(spec.get(f"callback_{key}") for key in ("secret", "secret_env", "secret_file")):
            raise ConfigError("a callback secret was given without callback_addr")
        return None
    if not isinstance(addr, str):
        raise ConfigError("callback_addr must be a HOST:PORT string")
    sources = {
        key: spec.get(f"callback_{key}")
        for key in ("secret", "secret_env", "secret_file")
        if spec.get(f"callback_{key}")
    }
    if len(sources) > 1:
        raise ConfigError("give at most one of callback_secret, _secret_env and _secret_file")
    if sources:
        ((key, value),) = sources.items()
        raw = _read_secret(
            f"callback_{key}", value, base=base, env=env, kind=key.removeprefix("secret_")
        )
    else:
        raw = env.get(SECRET_ENV, "")
    secrets = tuple(part for part in raw.replace(",", " ").split() if part)
    if not secrets:
        raise ConfigError(
            f"callback_addr needs the signing secret(s) of the registrations: set {SECRET_ENV} "
            "or give callback_secret_env/callback_secret_file"
        )
    path = spec.get("callback_path") or "/clickclack"
    if not isinstance(path, str):
        raise ConfigError("callback_path must be a string")
    try:
        return CallbackOptions.from_addr(addr, path=path, secrets=secrets)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def load_target(target: str) -> Bot:
    """The :class:`Bot` named by ``module:attribute`` (a Bot, or a callable returning one).

    The current directory is importable, as with ``python -m``.
    """
    from clickclack_bots._bot import Bot

    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"bot target {target!r} must look like module:attribute")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r}: {exc}") from exc
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigError(f"{module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(found, Bot) and callable(found):
        found = found()
    if not isinstance(found, Bot):
        raise ConfigError(f"{target!r} is not a clickclack_bots.Bot")
    return found


@attrs.frozen(kw_only=True)
class BotsConfig:
    """A loaded config file: the accounts and the shutdown grace period."""

    accounts: list[Account]
    grace: float = 10.0


def load_config(
    path: str | os.PathLike[str],
    *,
    default_bot: Bot | None = None,
    env: Mapping[str, str] | None = None,
) -> BotsConfig:
    """Read a config file (see the module docstring). Accounts without ``bot`` run
    ``default_bot`` (the CLI's ``module:bot`` argument)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if file.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {file} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {file} must hold a table/object")
    env = os.environ if env is None else env
    entries = data.get("accounts")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"config file {file} has no [[accounts]]")
    server_default = data.get("server") or env.get("CLICKCLACK_SERVER") or DEFAULT_SERVER
    state_dir = data.get("state_dir")
    if state_dir is not None:
        state_dir = str((file.parent / str(state_dir)).expanduser())
    accounts: list[Account] = []
    names: set[str] = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(f"accounts[{index}] must be a table/object")
        try:
            target = entry.get("bot")
            if target is not None and not isinstance(target, str):
                raise ConfigError("bot must be a module:attribute string")
            bot = load_target(target) if target else default_bot
            if bot is None:
                raise ConfigError('no bot: give bot = "module:attribute"')
            name = entry.get("name") or None
            if name is not None and (not isinstance(name, str) or name in names):
                raise ConfigError(f"name {name!r} must be a unique string")
            if name:
                names.add(name)
            accounts.append(
                Account(
                    bot=bot,
                    server=str(entry.get("server") or server_default),
                    token=resolve_token(entry, base=file.parent, env=env),
                    name=name,
                    workspace=entry.get("workspace") or None,
                    start=_start(entry.get("start")),
                    state_dir=state_dir,
                    callbacks=callback_options(entry, base=file.parent, env=env),
                )
            )
        except ConfigError as exc:
            raise ConfigError(f"{file}: accounts[{index}]: {exc}") from None
    grace = data.get("grace", 10.0)
    if not isinstance(grace, int | float) or grace < 0:
        raise ConfigError(f"{file}: grace must be a non-negative number")
    return BotsConfig(accounts=accounts, grace=float(grace))
