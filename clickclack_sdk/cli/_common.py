"""Pieces every server-side command shares: exit codes, errors, flags, the database, progress.

Only the standard library and typer are imported at module level; the server is imported inside
the functions that need it, so ``clickclack --help`` never pays for it.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO

import typer

from clickclack_sdk.cli._output import one_line

if TYPE_CHECKING:
    from clickclack_server.config import Config
    from clickclack_server.db import Database

EXIT_FAILURE = 1
"""Anything that is neither a usage error nor a missing object (refused, conflict, I/O)."""
EXIT_USAGE = 2
"""The command line is wrong: unknown or missing flags, or a malformed flag value."""
EXIT_AUTH = 3
"""The server refused the credential (401) or the action (403)."""
EXIT_NOT_FOUND = 4
"""Something the command line names does not exist (workspace, user, database file)."""
EXIT_UNAVAILABLE = 5
"""The server could not be reached, timed out, was rate limiting or failing (5xx): retry later."""

MAX_DISPLAY_NAME_BYTES = 80
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CliError(Exception):
    """A failure reported as one ``clickclack: <message>`` line and exit ``code``."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """One line on stderr and a non-zero exit; control characters in ``message`` (server
    texts, names) are written out, never sent to the terminal."""
    typer.echo(f"clickclack: {one_line(message)}", err=True)
    raise typer.Exit(code)


def usage(message: str) -> CliError:
    return CliError(message, EXIT_USAGE)


def not_found(message: str) -> CliError:
    return CliError(message, EXIT_NOT_FOUND)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn what a command body raises into the one-line error and its exit code.

    Store errors keep their text; a store "no rows" becomes exit 4. Database and file-system
    errors are failures (exit 1) with their text, never a traceback.
    """
    import sqlite3

    require_server()
    try:
        yield
    except typer.Exit:
        raise
    except CliError as exc:
        fail(exc.message, exc.code)
    except sqlite3.Error as exc:
        fail(f"database error: {exc}")
    except OSError as exc:
        detail = exc.strerror or str(exc)
        fail(f"{detail}: {exc.filename}" if exc.filename else detail)
    except Exception as exc:
        from clickclack_server.config import ConfigError
        from clickclack_server.errors import NO_ROWS, ApiError, NotFound

        if isinstance(exc, ConfigError):
            fail(str(exc), EXIT_USAGE)
        if isinstance(exc, NotFound):
            fail("not found" if exc.message == NO_ROWS else exc.message, EXIT_NOT_FOUND)
        if isinstance(exc, ApiError):
            fail(exc.message)
        raise


# Flags shared by the server-side commands.

DataOpt = Annotated[
    str | None,
    typer.Option("--data", help="Data directory (env CLICKCLACK_DATA; default ./data)."),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL, sqlite://PATH (default sqlite://<data>/clickclack.db)."
    ),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="JSON config file layered over the environment.")
]


SERVER_MODULES = ("starlette", "hypercorn", "python_multipart", "ulid", "orjson")
"""The top-level modules of the ``server`` extra (a test compares them with pyproject)."""


def server_missing_hint(module: str) -> str:
    return f"the server is not installed ({module}); run: pip install 'clickclack[server]'"


def require_server() -> None:
    """Stop with the install hint (exit 1) when the ``server`` extra is not installed.

    Every server-side command (serve, migrate, admin ..., backup, export) passes here before
    it imports or opens anything: through :func:`load_server_config` or
    :func:`reported_errors`. Only finds the modules, it does not import them (``--help``
    stays fast).
    """
    from importlib.util import find_spec

    for name in SERVER_MODULES:
        try:
            found = find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            fail(server_missing_hint(name))


def _server_config_module() -> Any:
    require_server()
    try:
        import clickclack_server.config as config_module
    except ImportError as exc:  # a broken install
        fail(server_missing_hint(str(exc.name).partition(".")[0]))
    return config_module


def load_server_config(**flags: Any) -> Config:
    """The server configuration: defaults < environment < ``--config`` file < explicit flags."""
    config_module = _server_config_module()
    config_file = flags.pop("config", None)
    try:
        config: Config = config_module.load_config(config_file=config_file, flags=flags)
        _ = config.db_path  # validates --db early (postgres:// and unknown schemes)
    except config_module.ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    return config


@contextmanager
def opening_database(path: Path) -> Iterator[None]:
    """Opening ``path`` and migrating it: a file that is not SQLite (or cannot be opened)
    is one ``cannot open database PATH: <reason>`` line, exit 1."""
    import sqlite3

    try:
        yield
    except sqlite3.Error as exc:
        fail(f"cannot open database {path}: {exc}")


@contextmanager
def open_admin_database(
    data: str | None, db: str | None, config: Path | None
) -> Iterator[Database]:
    """The configured database with every migration applied (created when missing)."""
    cfg = load_server_config(data=data, db=db, config=config)
    from clickclack_server.db import Database

    path = cfg.db_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with opening_database(path):
        database = Database(path, readers=1)
        try:
            database.migrate()
        except BaseException:
            database.close()
            raise
    try:
        yield database
    finally:
        database.close()


def existing_database_path(data: str | None, db: str | None, config: Path | None) -> Path:
    """The configured SQLite file, which must already exist (backup and export never create)."""
    path = load_server_config(data=data, db=db, config=config).db_path
    if not path.is_file():
        raise not_found(f"database not found: {path}")
    return path


# Flag values checked before anything is opened.


def check_email(raw: str, flag: str = "--email") -> str:
    """Trimmed and lower-cased; must look like ``name@domain.tld``."""
    email = raw.strip().lower()
    if not email:
        raise usage(f"{flag} must not be empty")
    if len(email) > 254 or not _EMAIL.match(email):
        raise usage(f"{flag} is not a valid email address: {raw.strip()!r}")
    return email


def check_display_name(raw: str, *, default: str, flag: str = "--name") -> str:
    """Trimmed; empty falls back to ``default``; at most 80 bytes like ``PATCH /api/me``."""
    name = raw.strip() or default
    if len(name.encode()) > MAX_DISPLAY_NAME_BYTES:
        raise usage(f"{flag} must be at most {MAX_DISPLAY_NAME_BYTES} bytes")
    return name


# Progress on a terminal.


class Progress:
    """A one-line progress meter on stderr, drawn only when stderr is a terminal.

    Piped or redirected output stays clean: scripts see only the documented stdout line and,
    on failure, the one-line error.
    """

    def __init__(self, label: str, *, stream: TextIO | None = None, interval: float = 0.1) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.enabled = self.stream.isatty()
        except (AttributeError, ValueError):
            self.enabled = False
        self.interval = interval
        self.started = time.monotonic()
        self._drawn_at: float | None = None  # never drawn: the first update always shows
        self._drawn = False

    def _draw(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and self._drawn_at is not None and now - self._drawn_at < self.interval:
            return
        self._drawn_at = now
        self._drawn = True
        self.stream.write(f"\r\x1b[K{self.label}: {text}")
        self.stream.flush()

    def update(self, done: int, total: int | None = None, unit: str = "") -> None:
        """``done`` of ``total`` (``None`` when unknown) items of ``unit``."""
        if not self.enabled:
            return
        suffix = f" {unit}" if unit else ""
        if total:
            percent = min(100, done * 100 // total)
            self._draw(f"{done}/{total}{suffix} ({percent}%)")
        else:
            self._draw(f"{done}{suffix}")

    def tick(self) -> None:
        """Still working, amount unknown: show the elapsed time."""
        if self.enabled:
            self._draw(f"{time.monotonic() - self.started:.1f}s")

    def finish(self, summary: str | None = None) -> None:
        """Clear the meter; leave ``summary`` on its own line when given."""
        if not self.enabled:
            return
        if self._drawn or summary:
            self.stream.write("\r\x1b[K" + (f"{self.label}: {summary}\n" if summary else ""))
            self.stream.flush()
